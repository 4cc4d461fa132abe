"""Parsing rules for the log lines that predict failures and attacks.

Syslog lines (kernel block-layer and EDAC errors, sshd, sudo) and BlueGene/L RAS
lines become LogEvents; each failure-relevant kind also counts as a metric sample
(e.g. disk_read_errors = 1 at that time) so the feature store sees error rates.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from aiops.patterns import MAX_LINE_CHARS, AnyOf, cap, own
from aiops.telemetry.batch import SampleBatch
from aiops.telemetry.sshd import match_auth

__all__ = ["METRIC_FOR_KIND", "LogEvent", "ParsedLines", "parse_line", "parse_lines", "events_to_batch"]

# Every rule is ours, so it runs on Python's re through aiops.patterns.own: no variable repeat nests
# in another (checked at import). The two line headers are anchored and each quantifier stops at a
# character its class excludes (\s+ before a digit, \S+ before a space, ...); the message rules
# are unanchored alternatives (aiops.patterns.AnyOf) where a `LIT.*TAIL` one starts only at LIT's
# first occurrence. The bait tests feed each 100 KB; the line is capped at MAX_LINE_CHARS anyway.
_SYSLOG = own(
    r"^(?P<mon>[A-Z][a-z]{2})\s+(?P<day>\d{1,2})\s(?P<time>\d{2}:\d{2}:\d{2})\s(?P<host>\S+)\s(?P<prog>[^:\[\s]+(?:\([^()]*\))?)(?:\[(?P<pid>\d+)\])?:\s?(?P<msg>.*)$"
)
_BGL = own(r"^(?P<label>\S+)\s(?P<epoch>\d{9,11})\s\S+\s(?P<node>\S+)\s\S+\s\S+\s(?P<kind>RAS)\s(?P<comp>\S+)\s(?P<level>\S+)\s(?P<msg>.*)$")
_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}


def _rule(*alts: str | tuple[str, str]) -> AnyOf:
    return AnyOf(*alts, flags=re.I)


# Kernel rules: (kind, lower-case literals one of which every match contains, rule on the
# message); first match wins. sshd / sudo lines go through the shared auth rules
# (aiops.telemetry.sshd) instead. The gate spares the regex on lines a rule cannot match.
_Rule = tuple[str, tuple[str, ...], AnyOf]
_KERNEL_RULES: tuple[_Rule, ...] = (
    ("disk_read_error", ("blk_update_request", "i/o error, dev", "critical medium error"),
     _rule(*((lead, rf"{re.escape(lead)}.*(?:READ|read|sector)")
             for lead in ("blk_update_request", "I/O error, dev", "critical medium error")))),
    ("io_error", ("buffer i/o error on dev", "ext4-fs error", "xfs "),
     _rule(r"Buffer I/O error on dev(?:ice)? (?P<dev>\w+)", r"EXT4-fs error", ("XFS ", r"XFS .* I/O error"))),
    ("ecc_error", ("edac ", "corrected error", "ce_count", "machine check"),
     _rule(("EDAC ", r"EDAC .*?\b(?P<n>\d+) CE "), r"Corrected error", r"ce_count",
           ("machine check", r"machine check.*corrected"))),
    ("ecc_uncorrectable", ("edac ", "uncorrected error", "uncorrectable"),
     _rule(("EDAC ", r"EDAC .* UE "), r"Uncorrected error", r"uncorrectable")),
    ("oom_kill", ("out of memory: kill",), _rule(r"Out of memory: Kill(?:ed)? process (?P<pid>\d+)")),
    ("thermal", ("temperature above threshold", "thermal"),
     _rule(r"temperature above threshold", ("thermal", r"thermal.*throttl"))),
)
# ecc_error runs first, so a line left for ecc_uncorrectable has no "parity error corrected":
# plain "parity error" is then the old lookahead rule `parity error(?! corrected)`.
_BGL_RULES: tuple[_Rule, ...] = (
    ("ecc_error", ("parity error corrected", "ecc", "correctable error"),
     _rule(r"parity error corrected", ("ECC", r"ECC.*corrected"), r"correctable error")),
    ("ecc_uncorrectable", ("uncorrectable", "parity error"), _rule(r"uncorrectable|parity error")),
    ("io_error", ("i/o error", "ciod: error", "failed to read", "disk"), _rule(r"I/O error|ciod: Error|failed to read|disk")),
)


def _first_rule(rules: tuple[_Rule, ...], msg: str) -> tuple[str, re.Match[str]] | None:
    """The first rule whose gate and pattern match ``msg``: (kind, match)."""
    low = msg.lower()
    for kind, gate, rx in rules:
        if any(g in low for g in gate):
            hit = rx.search(msg)
            if hit is not None:
                return kind, hit
    return None

# log event kind -> metric counted in the feature store
METRIC_FOR_KIND = {
    "disk_read_error": "disk_read_errors",
    "io_error": "io_errors",
    "ecc_error": "ecc_errors",
    "ecc_uncorrectable": "ecc_errors",
    "ssh_auth_failure": "ssh_auth_failures",
    "ssh_invalid_user": "ssh_auth_failures",
}


@dataclass(frozen=True)
class LogEvent:
    ts: float
    host: str
    program: str
    kind: str
    message: str
    fields: dict[str, str] = field(default_factory=dict)


def _syslog_ts(mon: str, day: str, clock: str, year: int) -> float:
    h, m, s = (int(x) for x in clock.split(":"))
    return datetime(year, _MONTHS[mon], int(day), h, m, s, tzinfo=timezone.utc).timestamp()


_AUTH_KINDS = {("ssh_login", "failure"): "ssh_auth_failure", ("ssh_login", "success"): "ssh_auth_success",
               ("ssh_invalid_user", "failure"): "ssh_invalid_user"}


def _auth_kind(prog: str, raw_prog: str, msg: str) -> tuple[str, dict[str, str]] | None:
    """sshd / PAM / sudo lines, classified by the shared auth patterns, as telemetry kinds."""
    if prog not in ("sshd", "sudo"):
        return None
    hit = match_auth(msg)
    if hit is None:
        return None
    g = hit.groups
    if prog == "sudo":
        if hit.action != "sudo" or "as_user" not in g:
            return None
        return "sudo", {"user": g["user"], "as_user": g["as_user"], "command": g.get("cmd", "")}
    kind = _AUTH_KINDS.get((hit.action, hit.outcome))
    if hit.action == "pam_auth" and raw_prog == "sshd(pam_unix)" and g.get("ip"):
        # old-style PAM lines are the only record of a failure; newer sshd logs both, so count only these
        kind = "ssh_auth_failure"
    if kind is None:
        return None
    return kind, {k: g[k] for k in ("user", "ip") if k in g}


def _kernel_kind(msg: str) -> tuple[str, dict[str, str]] | None:
    found = _first_rule(_KERNEL_RULES, msg)
    if found is None:
        return None
    return found[0], {k: v for k, v in found[1].groupdict().items() if v is not None}


def parse_line(line: str, year: int = 2026, default_host: str | None = None,
               max_chars: int = MAX_LINE_CHARS) -> LogEvent | None:
    """Classify one log line (cut to ``max_chars`` first); None when it is not one of the kinds we track."""
    line, _ = cap(line.rstrip("\n"), max_chars)
    m = _SYSLOG.match(line)
    if m:
        raw_prog = m["prog"]
        prog = raw_prog.split("(")[0]
        msg = m["msg"]
        hit = _kernel_kind(msg) if prog == "kernel" else _auth_kind(prog, raw_prog, msg)
        if hit is None:
            return None
        return LogEvent(_syslog_ts(m["mon"], m["day"], m["time"], year), default_host or m["host"], prog, hit[0], msg, hit[1])
    b = _BGL.match(line)
    if b:
        found = _first_rule(_BGL_RULES, b["msg"])
        if found is not None:
            return LogEvent(float(b["epoch"]), default_host or b["node"], b["comp"].lower(), found[0], b["msg"],
                            {"label": b["label"], "level": b["level"]})
    return None


@dataclass(frozen=True)
class ParsedLines:
    """What a batch of lines gave: events, lines that are no tracked kind, lines cut to the cap."""

    events: list[LogEvent]
    ignored: int
    truncated: int


def parse_lines(lines: list[str], year: int = 2026, default_host: str | None = None,
                max_chars: int = MAX_LINE_CHARS) -> ParsedLines:
    """Parse many lines, counting those cut to ``max_chars`` (a counted truncation, not a rejection)."""
    events = [e for e in (parse_line(l, year, default_host, max_chars) for l in lines) if e is not None]
    truncated = sum(1 for l in lines if len(l.rstrip("\n")) > max_chars)
    return ParsedLines(events, len(lines) - len(events), truncated)


def events_to_batch(events: list[LogEvent]) -> SampleBatch:
    """Count failure-relevant log events as metric samples (value 1 per event)."""
    rows = [(e.host, METRIC_FOR_KIND[e.kind], e.ts) for e in events if e.kind in METRIC_FOR_KIND]
    if not rows:
        return SampleBatch.empty()
    t_names: dict[str, int] = {}
    m_names: dict[str, int] = {}
    ti = np.fromiter((t_names.setdefault(h, len(t_names)) for h, _, _ in rows), np.int32, len(rows))
    mi = np.fromiter((m_names.setdefault(m, len(m_names)) for _, m, _ in rows), np.int16, len(rows))
    ts = np.fromiter((t for _, _, t in rows), np.float64, len(rows))
    return SampleBatch(tuple(t_names), tuple(m_names), ti, mi, ts, np.ones(len(rows), np.float32))

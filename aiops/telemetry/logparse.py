"""Parsing rules for the log lines that predict failures and attacks.

Syslog lines (kernel block-layer and EDAC errors, sshd, sudo) and BlueGene/L RAS
lines become LogEvents; each failure-relevant kind also counts as a metric sample
(e.g. disk_read_errors = 1 at that time) so the feature store sees error rates.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

from aiops.telemetry.batch import SampleBatch

__all__ = ["METRIC_FOR_KIND", "LogEvent", "parse_line", "events_to_batch"]

_SYSLOG = re.compile(
    r"^(?P<mon>[A-Z][a-z]{2})\s+(?P<day>\d{1,2})\s(?P<time>\d{2}:\d{2}:\d{2})\s(?P<host>\S+)\s(?P<prog>[^:\[\s]+(?:\([^)]*\))?)(?:\[(?P<pid>\d+)\])?:\s?(?P<msg>.*)$"
)
_BGL = re.compile(r"^(?P<label>\S+)\s(?P<epoch>\d{9,11})\s\S+\s(?P<node>\S+)\s\S+\s\S+\s(?P<kind>RAS)\s(?P<comp>\S+)\s(?P<level>\S+)\s(?P<msg>.*)$")
_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
_IP = r"(?P<ip>\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F:]{3,39})"

# (kind, program filter or None, regex on the message); first match wins.
_RULES: tuple[tuple[str, str | None, re.Pattern[str]], ...] = (
    ("disk_read_error", "kernel", re.compile(r"(blk_update_request|I/O error, dev|critical medium error).*?(dev (?P<dev>\w+))?.*(READ|read|sector)", re.I)),
    ("io_error", "kernel", re.compile(r"Buffer I/O error on dev(?:ice)? (?P<dev>\w+)|EXT4-fs error|XFS .* I/O error", re.I)),
    ("ecc_error", "kernel", re.compile(r"EDAC .*(?P<n>\d+) CE |Corrected error|ce_count|machine check.*corrected", re.I)),
    ("ecc_uncorrectable", "kernel", re.compile(r"EDAC .* UE |Uncorrected error|uncorrectable", re.I)),
    ("ssh_auth_failure", "sshd", re.compile(rf"Failed (?:password|publickey) for (?:invalid user )?(?P<user>.*?) from {_IP}")),
    # old-style PAM lines are the only record of a failure; newer sshd logs both, so count only these
    ("ssh_auth_failure", "sshd(pam_unix)", re.compile(r"authentication failure;.*rhost=(?P<ip>\S+)(?:\s+user=(?P<user>\S+))?")),
    ("ssh_invalid_user", "sshd", re.compile(rf"Invalid user (?P<user>.*?) from {_IP}")),
    ("ssh_auth_success", "sshd", re.compile(rf"Accepted (?:password|publickey) for (?P<user>\S+) from {_IP}")),
    ("sudo", "sudo", re.compile(r"^\s*(?P<user>\S+) : .*USER=(?P<as_user>\S+) ; COMMAND=(?P<command>.*)$")),
    ("oom_kill", "kernel", re.compile(r"Out of memory: Kill(?:ed)? process (?P<pid>\d+)", re.I)),
    ("thermal", "kernel", re.compile(r"temperature above threshold|thermal.*throttl", re.I)),
)
_BGL_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ecc_error", re.compile(r"parity error corrected|ECC.*corrected|correctable error", re.I)),
    ("ecc_uncorrectable", re.compile(r"uncorrectable|parity error(?! corrected)", re.I)),
    ("io_error", re.compile(r"I/O error|ciod: Error|failed to read|disk", re.I)),
)
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


def parse_line(line: str, year: int = 2026, default_host: str | None = None) -> LogEvent | None:
    """Classify one log line; None when it is not one of the kinds we track."""
    line = line.rstrip("\n")
    m = _SYSLOG.match(line)
    if m:
        raw_prog = m["prog"]
        prog = raw_prog.split("(")[0]
        msg = m["msg"]
        for kind, want, rx in _RULES:
            if want is not None and want != prog and want != raw_prog:
                continue
            hit = rx.search(msg)
            if hit:
                fields = {k: v for k, v in hit.groupdict().items() if v is not None}
                host = default_host or m["host"]
                return LogEvent(_syslog_ts(m["mon"], m["day"], m["time"], year), host, prog, kind, msg, fields)
        return None
    b = _BGL.match(line)
    if b:
        for kind, rx in _BGL_RULES:
            if rx.search(b["msg"]):
                return LogEvent(float(b["epoch"]), default_host or b["node"], b["comp"].lower(), kind, b["msg"],
                                {"label": b["label"], "level": b["level"]})
    return None


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

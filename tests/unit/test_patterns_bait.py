"""Every rule family that sees outside input, fed 100 KB of backtracking bait, answers in bounded time.

Before the rewrite one 9.5 KB kernel line took 520 s and an intel ``(a+)+$`` 9.8 s on 27 characters;
each case below is generous (< 1 s) but fails by orders of magnitude on a backtracking engine.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from aiops.patterns import PatternError, bounded, linear, needs_fallback
from aiops.security.events import LogSource, RejectionCounter, SecurityEvent
from aiops.security.intel.threat_intel import Indicator, ThreatIntel
from aiops.security.parsers.registry import parse_records
from aiops.security.sigma.rules import SigmaEngine, load_rules
from aiops.telemetry.logparse import parse_line, parse_lines
from aiops.telemetry.sshd import match_auth

BAIT = 100 * 1024
BOUND_S = 1.0
PACK = Path(__file__).resolve().parents[2] / "configs" / "rules"


def _timed(fn, *args):  # noqa: ANN001
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


KERNEL_BAIT = {
    "disk_read_error": "blk_update_request " + "I/O error, dev " * (BAIT // 15),
    "ecc": "EDAC " + "1" * BAIT,
    "ecc_words": "EDAC " * (BAIT // 5),
    "io_error": "XFS " * (BAIT // 4),
    "thermal": "thermal " * (BAIT // 8),
    "machine_check": "machine check " * (BAIT // 14),
    "disk_leads": "critical medium error blk_update_request " * (BAIT // 41),
}
AUTH_BAIT = {
    "failed": "Failed password for " + "x from " * (BAIT // 7),
    "invalid": "Invalid user " + " from" * (BAIT // 5),
    "pam": "authentication failure;" + " rhost=" * (BAIT // 7),
    "sudo": "alice : " + "USER=root ; " * (BAIT // 12),
    "too_many": "PAM" + " from" * (BAIT // 5),
    "pam_leads": "authentication failure; rhost" * (BAIT // 29),
    "pam_lines": "authentication failure;\n" * (BAIT // 24),
    "too_many_leads": "PAM from" * (BAIT // 8),
    "sudo_users": "alice : COMMAND=x " + "USER=root ; " * (BAIT // 12),
    "sudo_spaces": "alice : " + "USER=r USER=" * (BAIT // 12) + " COMMAND=",
    "break_in": "[1" * (BAIT // 2) + "] failed - POSSIBLE BREAK-IN",
    "disconnect": "Disconnected from user " + "a" * BAIT,
}


@pytest.mark.parametrize("name", sorted(KERNEL_BAIT))
def test_kernel_rules_are_linear(name: str) -> None:
    line = f"Mar  3 10:00:01 h1 kernel: {KERNEL_BAIT[name]}"
    _, dt = _timed(parse_line, line, 2026, None, len(line))  # no cap: the patterns themselves are linear
    assert dt < BOUND_S, f"{name}: {dt:.2f}s"


BGL_BAIT = {"ecc": "ECC " * (BAIT // 4), "parity": "parity error " * (BAIT // 13)}


@pytest.mark.parametrize("name", sorted(BGL_BAIT))
def test_bgl_rules_are_linear(name: str) -> None:
    line = f"- 1117838570 2005.06.03 R02 2005-06-03-15.42.50.675872 R02 RAS KERNEL INFO {BGL_BAIT[name]}"
    _, dt = _timed(parse_line, line, 2026, None, len(line))
    assert dt < BOUND_S, f"{name}: {dt:.2f}s"


@pytest.mark.parametrize("name", sorted(AUTH_BAIT))
def test_auth_patterns_are_linear(name: str) -> None:
    _, dt = _timed(match_auth, AUTH_BAIT[name])
    assert dt < BOUND_S, f"{name}: {dt:.2f}s"


def test_lines_are_capped_and_counted_not_rejected() -> None:
    long_ok = "Mar  3 10:00:01 h1 kernel: blk_update_request: I/O error, dev sdb, sector 7 " + "x" * 20_000
    parsed, dt = _timed(parse_lines, [long_ok, "Mar  3 10:00:01 h1 kernel: " + KERNEL_BAIT["disk_read_error"]])
    assert parsed.truncated == 2 and [e.kind for e in parsed.events][:1] == ["disk_read_error"] and dt < BOUND_S


@pytest.mark.parametrize("fmt, rec", [
    ("sshd", "Mar  3 10:00:01 h1 sshd[1]: " + AUTH_BAIT["failed"]),
    ("auth", "Mar  3 10:00:01 h1 sudo: " + AUTH_BAIT["sudo"]),
    ("auditd", "type=EXECVE msg=audit(1.0:1): " + "a" * BAIT),
    ("azure_syslog", {"SyslogMessage": "type=EXECVE audit(1.0:1): " + "a-" * (BAIT // 2), "Computer": "h"}),
    ("windows", {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "CommandLine": "&lt" * (BAIT // 3)}),
    ("cloudtrail", {"eventTime": "2026-01-01T00:00:00Z", "eventName": "x" * BAIT, "eventSource": "s3.amazonaws.com"}),
])
def test_each_security_parser_on_bait(fmt: str, rec: object) -> None:
    rej = RejectionCounter()
    evs, dt = _timed(lambda: list(parse_records(fmt, [rec], rej)))
    assert dt < BOUND_S, f"{fmt}: {dt:.2f}s"
    assert evs or rej.total  # an event or a counted rejection, never silence
    if evs:
        assert sum(rej.truncated.values()) >= 1  # cut to the line / field cap, counted
    for e in evs:
        assert all(len(v) <= 32 * 1024 for v in e.fields.values() if isinstance(v, str))


def test_sigma_re_on_our_pack_and_bait_fields() -> None:
    rs = load_rules([PACK], min_level="informational")
    eng = SigmaEngine(rs, prefilter=False)
    bait = "a" * BAIT + "!"
    fields = {k: bait for k in ("CommandLine", "Image", "ParentImage", "message", "path", "user_agent", "eventName",
                                "query", "TargetFilename", "ScriptBlockText")}
    for ls in {(r.product, r.category, r.service) for r in rs.rules}:
        ev = SecurityEvent(timestamp=1.0, source="t", logsource=LogSource(product=ls[0], service=ls[2],
                           categories=(ls[1],) if ls[1] else ()), fields=dict(fields))
        _, dt = _timed(eng.match, ev)
        assert dt < BOUND_S, f"{ls}: {dt:.2f}s"


@pytest.mark.parametrize("pattern", [r"(a+)+$", r"(a|aa)*c", r"(.*a){12}", r"^(\w+\s?)*$"])
def test_evil_patterns_run_on_re2(pattern: str) -> None:
    rx = bounded(pattern)
    assert rx.engine == "re2"
    hit, dt = _timed(rx.search, "a" * BAIT + "!")
    assert dt < BOUND_S and hit in (True, False)


def test_patterns_re2_cannot_bound_are_refused() -> None:
    assert needs_fallback(r"(a)\1") and needs_fallback(r"a(?=b)") and not needs_fallback(r"(a+)+$")
    for p in (r"^(a+)+\1$", r"a(?=b)", r"(unclosed"):
        with pytest.raises(PatternError):
            bounded(p)
    with pytest.raises(PatternError):
        linear(r"a(?<!b)")


def test_intel_matches_pattern_is_bounded() -> None:
    ti = ThreatIntel([Indicator(type="pattern", value=r"(a+)+$", source="t"),
                      Indicator(type="pattern", value=r"(a+)+\1x", source="t")])
    assert [i._rx.engine for i in ti.patterns] == ["re2"] and any("bad regex" in e for e in ti.errors)
    ev = SecurityEvent(timestamp=1.0, source="t", logsource=LogSource(product="linux"),
                       fields={"CommandLine": "a" * BAIT + "!", "url": "a" * 27 + "!"})
    _, dt = _timed(ti.match, ev)
    assert dt < BOUND_S


def test_linear_flags_follow_re() -> None:
    rx = linear(r"^foo.bar$", re.I | re.S | re.M)
    assert rx.search("x\nFOO\nBAR") is not None and linear("foo").search("FOO") is None


def test_line_headers_on_python_re_are_linear() -> None:
    """The anchored header regexes stay on Python's engine for speed; bait proves them linear."""
    from aiops.security.parsers import linux
    from aiops.telemetry import logparse

    cases = [
        (logparse._SYSLOG.match, "Mar  3 10:00:01 h1 " + "(" * BAIT),
        (logparse._SYSLOG.match, "Mar  3 10:00:01 h1 a" + "(b" * (BAIT // 2)),
        (logparse._BGL.match, "- 1117838570 " + "x " * (BAIT // 2)),
        (linux._BSD.match, "Mar  3 10:00:01 h1 " + "(" * BAIT),
        (linux._ISO.match, "2026-01-01T00:00:00Z h1 p" + "(" * BAIT + "\n"),
        (linux._AUDIT.match, "node=" + "x" * BAIT),
        (lambda s: list(linux._KV.finditer(s)), "a" * BAIT),
        (lambda s: list(linux._KV.finditer(s)), "a=" * (BAIT // 2)),
        (linux._AUOMS.match, "type=" + "x" * BAIT),
    ]
    for fn, text in cases:
        _, dt = _timed(fn, text)
        assert dt < BOUND_S / 4, f"{text[:30]!r}: {dt:.2f}s"

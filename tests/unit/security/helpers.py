"""Small builders shared by the security unit tests."""
from __future__ import annotations

from typing import Any

from aiops.security.events import LogSource, SecurityEvent
from aiops.security.sigma.rules import RuleSet, SigmaEngine, rules_from_yaml

WIN_PROC = LogSource(product="windows", service="sysmon", categories=("process_creation",))


def event(fields: dict[str, Any], ls: LogSource = WIN_PROC, ts: float = 1_767_225_600.0, **norm: Any) -> SecurityEvent:
    return SecurityEvent(timestamp=ts, source="test", logsource=ls, fields=fields, **norm)


def rule(detection: str, logsource: str = "    category: process_creation\n    product: windows\n",
         title: str = "t", rid: str = "00000000-0000-0000-0000-000000000001", extra: str = "") -> str:
    return (f"title: {title}\nid: {rid}\nstatus: test\nlevel: medium\n{extra}logsource:\n{logsource}"
            f"detection:\n{detection}")


def compile_one(detection: str, **kw: Any) -> RuleSet:
    rs = rules_from_yaml(rule(detection, **kw))
    assert not rs.errors, rs.errors
    assert len(rs.rules) == 1
    return rs


def fires(rs: RuleSet, ev: SecurityEvent) -> bool:
    """Evaluates with and without the literal pre-filter; both must agree."""
    fast = bool(SigmaEngine(rs, prefilter=True).match(ev))
    ev._view = None
    slow = bool(SigmaEngine(rs, prefilter=False).match(ev))
    assert fast == slow, "pre-filter changed the result"
    return fast

"""Sigma alerts as correlator signals, so rule hits and detector anomalies meet in one graph."""
from __future__ import annotations

from typing import Any

from aiops.security.correlation.entities import EntityResolver
from aiops.security.correlation.signals import Signal, tactics_from_tags
from aiops.security.events import SecurityEvent


def sigma_alert_signal(alert: Any, resolver: EntityResolver, level_score: dict[str, float]) -> Signal:
    """A Sigma alert (``events.Alert``) as a correlator signal; score from the rule level."""
    evs: list[SecurityEvent] = [alert.event] if alert.event is not None else list(alert.events)
    ents: dict[str, None] = {}
    edges: dict[tuple[str, str, str], None] = {}
    for e in evs[-20:]:
        n, ed = resolver.nodes(e)
        for x in n:
            ents.setdefault(x, None)
        for x in ed:
            edges.setdefault(x, None)
    for k, v in (alert.group or {}).items():
        if v is None:
            continue
        if k in ("src_ip", "dst_ip", "ipaddress", "sourceipaddress"):
            node = resolver.ip_node(str(v))
            if node:
                ents.setdefault(node, None)
        elif k == "host":
            ents.setdefault(f"host:{v}", None)
    tac, tech = tactics_from_tags(alert.tags)
    score = level_score.get(alert.level, 0.5)
    return Signal(ts=alert.timestamp, kind="sigma", name=alert.rule_name or alert.rule_id, score=score,
                  entities=tuple(ents), edges=tuple(edges), tactics=tac, techniques=tech, severity=alert.level,
                  summary=alert.title, detail={"rule_id": alert.rule_id, "count": alert.count, "correlation": alert.kind == "correlation"})

"""Signals: the one shape every detector, Sigma alert and intel hit takes before correlation.

Kept apart from the graph so detectors and threat intel can produce signals without importing
the correlator (they sit below it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable


# ATT&CK enterprise tactics in kill-chain order, grouped into four stages used for the
# progression score: get in → get control → move → act on objectives.
TACTIC_STAGE: dict[str, int] = {
    "reconnaissance": 0, "resource_development": 0, "initial_access": 0, "credential_access": 0,
    "execution": 1, "persistence": 1, "privilege_escalation": 1, "defense_evasion": 1,
    "discovery": 2, "lateral_movement": 2,
    "collection": 3, "command_and_control": 3, "exfiltration": 3, "impact": 3,
}


SEVERITIES = ("low", "medium", "high", "critical")


def tactics_from_tags(tags: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Sigma/ATT&CK tags ('attack.credential-access', 'attack.t1110') → (tactics, techniques)."""
    tac: dict[str, None] = {}
    tech: dict[str, None] = {}
    for t in tags:
        t = t.lower()
        if not t.startswith("attack."):
            continue
        name = t[7:]
        if name[:1] == "t" and name[1:2].isdigit():
            tech[name.upper()] = None
        else:
            k = name.replace("-", "_")
            if k in TACTIC_STAGE:
                tac[k] = None
    return tuple(tac), tuple(tech)


@dataclass(slots=True)
class Signal:
    """One piece of suspicious evidence; ``score`` is in [0, 1] (see each producer for its meaning)."""

    ts: float
    kind: str  # sigma | network | ueba | intel | sequence
    name: str
    score: float
    entities: tuple[str, ...]
    edges: tuple[tuple[str, str, str], ...] = ()
    tactics: tuple[str, ...] = ()
    techniques: tuple[str, ...] = ()
    severity: str = "medium"
    summary: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    sid: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.sid, "ts": self.ts, "kind": self.kind, "name": self.name, "score": round(self.score, 6),
                "entities": list(self.entities), "tactics": list(self.tactics), "techniques": list(self.techniques),
                "severity": self.severity, "summary": self.summary, "detail": self.detail}

"""The one severity vocabulary: failure predictions, security anomalies and incidents, the API schemas,
the alerts sent to Alertmanager and JetStream, and the Prometheus rules (configs/prometheus) all use
these four names, so a receiver routes on one label whatever raised the alert."""
from __future__ import annotations

from typing import Literal

__all__ = ["SEVERITIES", "Severity", "severity_rank", "at_least"]

SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
Severity = Literal["low", "medium", "high", "critical"]
_RANK = {name: i for i, name in enumerate(SEVERITIES)}


def severity_rank(name: str) -> int:
    """Position in SEVERITIES (low = 0); an unknown name is an error, not a silent default."""
    try:
        return _RANK[name]
    except KeyError:
        raise ValueError(f"unknown severity {name!r}; expected one of {', '.join(SEVERITIES)}") from None


def at_least(name: str, floor: str) -> bool:
    """Whether `name` is `floor` or more severe (unknown names never pass)."""
    return name in _RANK and _RANK[name] >= severity_rank(floor)

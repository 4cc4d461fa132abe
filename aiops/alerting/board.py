"""Alert state per source, following Alertmanager's client contract: every evaluation re-sends each
active alert with `endsAt` a few intervals ahead (so an engine that dies lets its alerts lapse), an alert
that is no longer active is sent once more with `endsAt` = the resolve time, and `startsAt` is when the
engine first saw the alert (or the alert's own time when it is plausible), never the epoch."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

__all__ = ["AlertSpec", "Evaluation", "AlertBoard", "iso"]

MAX_LABEL = 256  # label values are routing keys: short
MAX_ANNOTATION = 2048  # annotations carry text built from outside input: capped


@dataclass(frozen=True)
class AlertSpec:
    """One alert as a source states it this evaluation; `key` identifies it within the source."""

    key: str
    name: str
    severity: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    generator_url: str
    starts_at: float | None = None  # the alert's own time (epoch s); None: first seen
    detail: Mapping[str, Any] = field(default_factory=dict)  # extra fields for the stream event


@dataclass
class Evaluation:
    """What one evaluation sends: `firing` every active alert, `resolved` each alert that stopped once,
    `events` the transitions (new firing, resolved) as stream records."""

    firing: list[dict[str, Any]] = field(default_factory=list)
    resolved: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def alerts(self) -> list[dict[str, Any]]:
        """The Alertmanager POST body (resolves first, so a changed alert's old form ends before the new)."""
        return self.resolved + self.firing


def iso(ts: float) -> str:
    """RFC 3339 UTC, as Alertmanager parses it."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _clean(values: Mapping[str, Any], cap: int) -> dict[str, str]:
    return {str(k): str(v)[:cap] for k, v in values.items() if v is not None}


@dataclass
class _Active:
    spec: AlertSpec
    labels: dict[str, str]
    starts_at: float


class AlertBoard:
    """Active alerts of one source (`service` and `source` become labels); `hold_s` is how far past each
    evaluation an active alert's endsAt lies."""

    def __init__(self, source: str, hold_s: float, service: str = "novacron-aiops") -> None:
        if hold_s <= 0:
            raise ValueError("hold_s must be positive")
        self.source, self.hold_s, self.service = source, hold_s, service
        self.active: dict[str, _Active] = {}

    def _labels(self, spec: AlertSpec) -> dict[str, str]:
        labels = _clean(spec.labels, MAX_LABEL)
        labels.update(alertname=spec.name, severity=spec.severity, service=self.service, source=self.source)
        return labels

    def _start(self, spec: AlertSpec, now: float) -> float:
        t = spec.starts_at
        if t is None or not math.isfinite(t) or t <= 0 or t > now:  # missing or implausible: first seen
            return now
        return t

    def _payload(self, a: _Active, ends_at: float) -> dict[str, Any]:
        return {"labels": a.labels, "annotations": _clean(a.spec.annotations, MAX_ANNOTATION),
                "startsAt": iso(a.starts_at), "endsAt": iso(ends_at), "generatorURL": a.spec.generator_url}

    def _event(self, status: str, a: _Active, payload: dict[str, Any], at: float) -> dict[str, Any]:
        return {"status": status, "source": self.source, "key": a.spec.key, "at": at,
                "id": f"{self.source}|{a.spec.key}|{a.starts_at:.3f}|{status}", **payload, "detail": dict(a.spec.detail)}

    def evaluate(self, specs: Iterable[AlertSpec], now: float) -> Evaluation:
        """This evaluation's alerts: `specs` are all that are active now; any other known alert resolved."""
        out = Evaluation()
        seen: dict[str, _Active] = {}
        for spec in specs:
            labels = self._labels(spec)
            prev = self.active.get(spec.key)
            if prev is not None and prev.labels != labels:  # e.g. a new severity: Alertmanager sees a new alert
                self._resolve(prev, now, out)
                prev = None
            cur = _Active(spec, labels, prev.starts_at if prev else self._start(spec, now))
            payload = self._payload(cur, now + self.hold_s)
            out.firing.append(payload)
            if prev is None:
                out.events.append(self._event("firing", cur, payload, now))
            seen[spec.key] = cur
        for key, prev in self.active.items():
            if key not in seen:
                self._resolve(prev, now, out)
        self.active = seen
        return out

    def _resolve(self, a: _Active, now: float, out: Evaluation) -> None:
        payload = self._payload(a, max(now, a.starts_at))
        out.resolved.append(payload)
        out.events.append(self._event("resolved", a, payload, now))

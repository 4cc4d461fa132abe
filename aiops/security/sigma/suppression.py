"""Allowlists and per-rule suppressions, so operators tune false positives without editing rules.

A suppression names which rules it covers (ids, names or title globs; none = all rules, i.e.
an allowlist entry), which alerts (entity values such as ``user: backup-svc``, arbitrary
field values, IPs by CIDR, globs), and when (absolute start/end, an expiry, and/or a daily
UTC window such as a maintenance slot). Each keeps a count of the alerts it swallowed, so
the API can show how much every entry hides. Suppressions come from ``configs/security.yaml``
or are added and removed at runtime (the API calls :class:`SuppressionStore` methods).
"""
from __future__ import annotations

import fnmatch
import ipaddress
import threading
import uuid
from datetime import datetime, timezone
from typing import Any, Iterable

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aiops.errors import ConflictError
from aiops.security.events import Alert, parse_timestamp

ENTITY_KEYS = ("host", "vm_id", "user", "src_ip", "dst_ip", "process")


class Suppression(BaseModel):
    """One allowlist / suppression entry (validated; unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"reason": "nightly backup job logs in over SSH", "rules": ["*"], "entities": {"user": "backup-svc"},
         "daily": "01:00-03:00"},
        {"reason": "scanner in the audit window", "rules": ["Port scan*"], "entities": {"src_ip": "10.20.0.0/16"},
         "end": "2026-02-01T00:00:00Z"}]})

    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    reason: str = ""
    created_by: str = "config"
    rules: list[str] = Field(default_factory=list, description="rule ids, names or title globs ('*' = every rule); at least one of rules, entities, fields is required")
    entities: dict[str, str | list[str]] = Field(default_factory=dict, description="normalised entity -> value(s); IPs may be CIDRs")
    fields: dict[str, str | int | float | bool | list[Any]] = Field(default_factory=dict, description="event field -> value(s), globs allowed")
    start: float | None = Field(None, description="active from (epoch s or ISO-8601)")
    end: float | None = Field(None, description="active until (epoch s or ISO-8601)")
    daily: str | None = Field(None, description="recurring UTC window 'HH:MM-HH:MM' (may wrap midnight)")
    suppressed: int = 0

    @field_validator("start", "end", mode="before")
    @classmethod
    def _time(cls, v: Any) -> float | None:
        return None if v is None else parse_timestamp(v)

    @field_validator("entities")
    @classmethod
    def _entity_keys(cls, v: dict[str, Any]) -> dict[str, Any]:
        bad = set(v) - set(ENTITY_KEYS)
        if bad:
            raise ValueError(f"unknown entity keys {sorted(bad)}; use {list(ENTITY_KEYS)}")
        return v

    @field_validator("daily")
    @classmethod
    def _daily(cls, v: str | None) -> str | None:
        if v is not None:
            _parse_daily(v)
        return v

    @model_validator(mode="after")
    def _window_and_scope(self) -> "Suppression":
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        if not (self.rules or self.entities or self.fields):
            # an entry with no scope would silence every alert: that must be said explicitly
            raise ValueError("a suppression needs rules, entities or fields; to silence every rule say rules: ['*']")
        return self

    def active(self, ts: float) -> bool:
        if self.start is not None and ts < self.start:
            return False
        if self.end is not None and ts >= self.end:
            return False
        if self.daily is not None:
            a, b = _parse_daily(self.daily)
            dt = datetime.fromtimestamp(ts, tz=timezone.utc)
            m = dt.hour * 60 + dt.minute
            return (a <= m < b) if a <= b else (m >= a or m < b)
        return True

    def covers_rule(self, alert: Alert) -> bool:
        if not self.rules:
            return True
        names = [alert.rule_id, alert.rule_name or "", alert.title]
        return any(fnmatch.fnmatchcase(n.lower(), p.lower()) for p in self.rules for n in names if n)

    def matches(self, alert: Alert) -> bool:
        """Rule, time window, every entity and every field condition must hold."""
        if not self.covers_rule(alert) or not self.active(alert.timestamp):
            return False
        ents = alert.entity_values()
        for k, want in self.entities.items():
            if not _value_matches(ents.get(k), want):
                return False
        if self.fields:
            for k, want in self.fields.items():
                if not any(_value_matches(v, want) for v in _alert_field(alert, k)):
                    return False
        return True


def _parse_daily(spec: str) -> tuple[int, int]:
    try:
        a, b = spec.split("-")
        ha, ma = (int(x) for x in a.strip().split(":"))
        hb, mb = (int(x) for x in b.strip().split(":"))
    except ValueError:
        raise ValueError(f"daily window must be 'HH:MM-HH:MM', got {spec!r}") from None
    if not (0 <= ha < 24 and 0 <= hb <= 24 and 0 <= ma < 60 and 0 <= mb < 60):
        raise ValueError(f"daily window out of range: {spec!r}")
    return ha * 60 + ma, hb * 60 + mb


def _alert_field(alert: Alert, name: str) -> list[Any]:
    if name in alert.group:
        return [alert.group[name]]
    evs = [alert.event] if alert.event is not None else alert.events
    out: list[Any] = []
    for ev in evs:
        out.extend(ev.view().raw.get(name.lower(), ()))
    return out


def _value_matches(value: Any, want: Any) -> bool:
    if isinstance(want, list):
        return any(_value_matches(value, w) for w in want)
    if value is None:
        return False
    sv, sw = str(value).lower(), str(want).lower()
    if "/" in sw:
        try:
            return ipaddress.ip_address(sv) in ipaddress.ip_network(sw, strict=False)
        except ValueError:
            pass
    if any(c in sw for c in "*?["):
        return fnmatch.fnmatchcase(sv, sw)
    return sv == sw


class SuppressionExists(ConflictError, KeyError):
    """A suppression with this id is already in the store: HTTP 409 (still a KeyError for old callers)."""

    def __str__(self) -> str:  # KeyError quotes its message; this one is shown to the client
        return str(self.args[0]) if self.args else self.__class__.__name__


class SuppressionsUnavailable(ConflictError, ValueError):
    """No Sigma rules are loaded, so there is nothing to suppress: HTTP 409 (still a ValueError)."""


class SuppressionStore:
    """Thread-safe set of suppressions with per-entry counters (config-loaded plus runtime API edits)."""

    def __init__(self, entries: Iterable[Suppression | dict[str, Any]] = ()) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, Suppression] = {}
        for e in entries:
            self.add(e)

    def add(self, entry: Suppression | dict[str, Any]) -> Suppression:
        s = entry if isinstance(entry, Suppression) else Suppression.model_validate(entry)
        with self._lock:
            if s.id in self._items:
                raise SuppressionExists(f"suppression {s.id!r} already exists")
            self._items[s.id] = s
        return s

    def remove(self, sid: str) -> Suppression:
        with self._lock:
            if sid not in self._items:
                raise KeyError(f"no suppression {sid!r}")
            return self._items.pop(sid)

    def get(self, sid: str) -> Suppression:
        with self._lock:
            return self._items[sid]

    def entries(self) -> list[Suppression]:
        with self._lock:
            return list(self._items.values())

    def check(self, alert: Alert) -> Suppression | None:
        """The first suppression that swallows ``alert`` (its counter is incremented), else None."""
        with self._lock:
            for s in self._items.values():
                if s.matches(alert):
                    s.suppressed += 1
                    return s
        return None

    def filter(self, alerts: Iterable[Alert]) -> list[Alert]:
        return [a for a in alerts if self.check(a) is None]

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {sid: s.suppressed for sid, s in self._items.items()}

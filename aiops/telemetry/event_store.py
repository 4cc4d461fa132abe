"""Durable store of health events (failures, recoveries, maintenance): the failure model's labels.

A real fleet has no ground truth beside its telemetry: what it has is the platform's own record
that a host failed or a VM crashed. Collectors keep every event in memory for a quick look; the
health events (``aiops.telemetry.scenarios.HEALTH_EVENT_TYPES``) are also written here, one
Redis sorted set per type (score = event time, member = the event as canonical JSON, never
pickle), capped by count rather than by a TTL so months of failures stay available for training.
A redelivered event is the same JSON member, so at-least-once delivery stores it once.
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from aiops.telemetry.scenarios import HEALTH_EVENT_TYPES

__all__ = ["EventStore", "MemoryEventStore", "RedisEventStore", "health_events", "event_key", "DEFAULT_MAX_PER_TYPE"]

DEFAULT_MAX_PER_TYPE = 200_000  # per type: about ten years of daily failures on a 50-host fleet


def health_events(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The events worth storing durably: a health type, a finite time and a host."""
    out = []
    for e in events:
        ts = e.get("ts")
        if (e.get("type") in HEALTH_EVENT_TYPES and isinstance(ts, (int, float)) and not isinstance(ts, bool)
                and math.isfinite(ts) and isinstance(e.get("host"), str)):
            out.append(dict(e))
    return out


def _canonical(event: Mapping[str, Any]) -> str:
    return json.dumps(event, sort_keys=True, separators=(",", ":"), default=float)


class EventStore(Protocol):
    """Append health events and read them back by time range."""

    def append(self, events: Iterable[Mapping[str, Any]]) -> int: ...
    def query(self, start: float, end: float, types: Sequence[str] | None = None) -> list[dict[str, Any]]: ...


class MemoryEventStore:
    """In-process store with the same semantics (dedup by content, filter by type and time)."""

    def __init__(self) -> None:
        self._events: dict[str, dict[str, Any]] = {}

    def append(self, events: Iterable[Mapping[str, Any]]) -> int:
        """Store the health events among ``events``; returns how many were new."""
        new = 0
        for e in health_events(events):
            key = _canonical(e)
            if key not in self._events:
                self._events[key] = json.loads(key)
                new += 1
        return new

    def query(self, start: float, end: float, types: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Events with ``start <= ts <= end`` (of ``types``, default all), oldest first."""
        rows = [e for e in self._events.values()
                if start <= e["ts"] <= end and (types is None or e["type"] in types)]
        return sorted(rows, key=lambda e: (e["ts"], e["type"]))


def event_key(prefix: str, event_type: str) -> str:
    """The sorted set of one event type."""
    return f"{prefix}:events:{event_type}"


class RedisEventStore:
    """Health events in Redis sorted sets ``<prefix>:events:<type>``, capped at ``max_per_type`` newest."""

    def __init__(self, client: Any, prefix: str = "aiops", max_per_type: int = DEFAULT_MAX_PER_TYPE) -> None:
        self._r = client
        self.prefix = prefix
        self.max_per_type = max_per_type

    @classmethod
    def from_url(cls, url: str, prefix: str = "aiops", max_per_type: int = DEFAULT_MAX_PER_TYPE) -> "RedisEventStore":
        import redis

        return cls(redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5), prefix, max_per_type)

    def append(self, events: Iterable[Mapping[str, Any]]) -> int:
        """Store the health events among ``events`` in one transaction; returns how many were new."""
        by_type: dict[str, dict[str, float]] = {}
        for e in health_events(events):
            by_type.setdefault(e["type"], {})[_canonical(e)] = float(e["ts"])
        if not by_type:
            return 0
        pipe = self._r.pipeline(transaction=True)
        for typ, members in by_type.items():
            key = event_key(self.prefix, typ)
            pipe.zadd(key, members)
            pipe.zremrangebyrank(key, 0, -(self.max_per_type + 1))
        return int(sum(pipe.execute()[0::2]))

    def query(self, start: float, end: float, types: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Events with ``start <= ts <= end`` (of ``types``, default every health type), oldest first."""
        rows: list[dict[str, Any]] = []
        for typ in types or HEALTH_EVENT_TYPES:
            for raw in self._r.zrangebyscore(event_key(self.prefix, typ), start, end):
                try:
                    rows.append(json.loads(raw))
                except ValueError:  # not ours: skip rather than fail a training run
                    continue
        return sorted(rows, key=lambda e: (e["ts"], e["type"]))

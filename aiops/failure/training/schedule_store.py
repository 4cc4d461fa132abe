"""Where the retraining schedule keeps its state and counts labelled episodes: Redis when configured.

The state is one JSON value, so a restarted scheduler actor knows the job it submitted, its outcome and the
back-off it was in. Episodes are counted as the number of stored failure events (the failure event store's
sorted sets; streams and lists are counted the same way), which grows with arrival.
"""
from __future__ import annotations

from typing import Any

from aiops.failure.training.schedule import RetrainConfig, ScheduleState

__all__ = ["ScheduleStore", "count_stored_episodes"]


class ScheduleStore:
    """The scheduler's state in Redis (`<prefix>:failure:retrain`), or in memory without Redis."""

    def __init__(self, client: Any | None, prefix: str) -> None:
        self.client = client
        self.key = f"{prefix}:failure:retrain"
        self._mem: str | None = None

    @classmethod
    def from_url(cls, url: str | None, prefix: str) -> "ScheduleStore":
        if not url:
            return cls(None, prefix)
        import redis

        return cls(redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5), prefix)

    def load(self) -> ScheduleState | None:
        raw = self.client.get(self.key) if self.client is not None else self._mem
        return None if raw is None else ScheduleState.from_json(raw)

    def save(self, state: ScheduleState) -> None:
        raw = state.to_json()
        if self.client is not None:
            self.client.set(self.key, raw)
        else:
            self._mem = raw


def count_stored_episodes(client: Any | None, cfg: RetrainConfig, prefix: str) -> int | None:
    """Stored failure events of `cfg.episode_events` (None without Redis: the engine keeps none durably)."""
    if client is None:
        return None
    total = 0
    for typ in cfg.episode_events:
        key = cfg.events_key.format(prefix=prefix, type=typ)
        kind = client.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        size = {"zset": "zcard", "stream": "xlen", "list": "llen", "set": "scard"}.get(kind)
        total += int(getattr(client, size)(key)) if size is not None else 0
    return total

"""Where served predictions are remembered: a per-replica LRU in front of an optional shared Redis.

Both hold the prediction's serialised bytes (`Prediction.to_json`), so a hit goes to HTTP as it is.
Redis is a cache: any error reading or writing it counts as a miss, never as a failed request.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from typing import Any, Callable, Mapping, Sequence

__all__ = ["DEFAULT_LRU_SIZE", "cache_key", "PredictionCache"]

DEFAULT_LRU_SIZE = 50_000


def cache_key(vector: Mapping[str, Any], horizon_s: float, version: str) -> str:
    """One key per (model version, target, horizon, feature values): new features or a new model miss."""
    h = hashlib.blake2b(json.dumps(vector["features"], sort_keys=True).encode(), digest_size=8).hexdigest()
    return f"aiops:failpred:{version}:{vector['target_id']}:{horizon_s:.0f}:{h}"


class PredictionCache:
    """LRU of (made_at, bytes) entries younger than `ttl_s`, backed by an async Redis client when given one."""

    def __init__(self, ttl_s: float, redis: Any | None = None, size: int = DEFAULT_LRU_SIZE,
                 clock: Callable[[], float] = time.time) -> None:
        self.ttl_s = ttl_s
        self.redis = redis
        self.size = size
        self._clock = clock
        self._lru: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._lru)

    def clear(self) -> None:
        """Forget every local entry (a new model version makes them all stale)."""
        self._lru.clear()

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """Cached bytes per key (None for a miss): the local LRU first, then one Redis MGET for the rest."""
        now = self._clock()
        out: list[bytes | None] = []
        for k in keys:
            hit = self._lru.get(k)
            out.append(hit[1] if hit is not None and now - hit[0] < self.ttl_s else None)
        misses = [i for i, v in enumerate(out) if v is None]
        if misses and self.redis is not None:
            try:
                remote = await self.redis.mget([keys[i] for i in misses])
                for i, raw in zip(misses, remote):
                    if raw:
                        out[i] = bytes(raw)
            except Exception:
                pass  # Redis is a cache: a miss is never an error
        return out

    async def put_many(self, entries: Mapping[str, tuple[float, bytes]]) -> None:
        """Remember fresh predictions (made_at, bytes) locally and in Redis with the same TTL."""
        for k, entry in entries.items():
            self._lru[k] = entry
        while len(self._lru) > self.size:
            self._lru.popitem(last=False)
        if self.redis is None or not entries:
            return
        try:
            pipe = self.redis.pipeline(transaction=False)
            for k, (_, body) in entries.items():
                pipe.set(k, body, ex=int(self.ttl_s))
            await pipe.execute()
        except Exception:
            pass

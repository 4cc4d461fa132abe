"""Where the security service keeps its anomaly and incident records across restarts.

The correlator actor holds detection state (graph, profiles) in memory, and a restarted actor
warms up again; what operators act on, the anomaly and incident records with their status and
responses, is written through to Redis so that `GET /api/ai/security/anomalies` and respond
requests keep working after a restart. Records are JSON bodies in a hash plus a sorted set by
last write, trimmed to the ``max_records`` most recently written.
"""
from __future__ import annotations

import json
import time
from typing import Any, Iterable, Protocol


class AnomalyStore(Protocol):
    def save(self, records: Iterable[dict[str, Any]]) -> None: ...
    def load(self) -> list[dict[str, Any]]: ...


class RedisAnomalyStore:
    def __init__(self, client: Any, prefix: str = "aiops", max_records: int = 50_000) -> None:
        self.client = client
        self.hash_key = f"{prefix}:security:anomalies"
        self.order_key = f"{prefix}:security:anomalies:by_time"
        self.max_records = max_records

    @classmethod
    def from_url(cls, url: str, prefix: str = "aiops", max_records: int = 50_000) -> "RedisAnomalyStore":
        import redis

        return cls(redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5), prefix, max_records)

    def save(self, records: Iterable[dict[str, Any]]) -> None:
        rows = list(records)
        if not rows:
            return
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.hash_key, mapping={r["id"]: json.dumps(r, default=str) for r in rows})
        now = time.time()  # write order, like the service's in-memory FIFO (event time can be hours old in a replay)
        pipe.zadd(self.order_key, {r["id"]: now for r in rows})
        pipe.zcard(self.order_key)
        n = pipe.execute()[-1]
        if n > self.max_records:
            old = self.client.zrange(self.order_key, 0, n - self.max_records - 1)
            if old:
                pipe = self.client.pipeline(transaction=True)
                pipe.zrem(self.order_key, *old)
                pipe.hdel(self.hash_key, *old)
                pipe.execute()

    def load(self) -> list[dict[str, Any]]:
        ids = self.client.zrange(self.order_key, 0, -1)
        if not ids:
            return []
        bodies = self.client.hmget(self.hash_key, ids)
        return [json.loads(b) for b in bodies if b is not None]

"""A durable record of the security deliveries the correlator took, keyed like its redelivery check.

The correlator's detection state is in memory, so a correlator restart used to forget which JetStream
messages it had already correlated: a message redelivered after the restart was correlated twice, and
nothing outside the actor could tell whether an acknowledged message was ever correlated at all. The
ledger is written (a Redis hash: key -> times correlated, plus a sorted set by time for trimming)
before the correlator returns, so before the collector acks the message: a key in the ledger was
correlated, a count above 1 was correlated more than once. A redelivered key found here is skipped.
"""
from __future__ import annotations

import time
from typing import Any, Iterable, Protocol, Sequence

__all__ = ["DeliveryLedger", "RedisDeliveryLedger"]


class DeliveryLedger(Protocol):
    """Where the correlator records the delivery keys it correlated."""

    def seen(self, keys: Sequence[str]) -> set[str]: ...
    def record(self, keys: Sequence[str]) -> None: ...


class RedisDeliveryLedger:
    """`<prefix>:security:deliveries` (hash key -> count) and `...:by_time` (sorted set), kept ``keep_s``."""

    def __init__(self, client: Any, prefix: str = "aiops", keep_s: float = 86_400.0) -> None:
        self.client = client
        self.hash_key = f"{prefix}:security:deliveries"
        self.order_key = f"{prefix}:security:deliveries:by_time"
        self.keep_s = keep_s

    @classmethod
    def from_url(cls, url: str, prefix: str = "aiops", keep_s: float = 86_400.0) -> "RedisDeliveryLedger":
        import redis

        return cls(redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5), prefix, keep_s)

    def seen(self, keys: Sequence[str]) -> set[str]:
        """The keys among ``keys`` that were correlated before (one round trip)."""
        if not keys:
            return set()
        counts = self.client.hmget(self.hash_key, list(keys))
        return {k for k, c in zip(keys, counts) if c is not None}

    def record(self, keys: Sequence[str]) -> None:
        """Count one correlation of each key; raises when Redis is away (the caller must not ack then)."""
        if not keys:
            return
        now = time.time()
        pipe = self.client.pipeline(transaction=True)
        for k in keys:
            pipe.hincrby(self.hash_key, k, 1)
        pipe.zadd(self.order_key, {k: now for k in keys})
        pipe.execute()
        old = self.client.zrangebyscore(self.order_key, "-inf", now - self.keep_s, start=0, num=10_000)
        if old:
            pipe = self.client.pipeline(transaction=True)
            pipe.zrem(self.order_key, *old)
            pipe.hdel(self.hash_key, *old)
            pipe.execute()

    def counts(self, keys: Iterable[str] | None = None) -> dict[str, int]:
        """Times each key was correlated (all kept keys when ``keys`` is None): what a verifier reads back."""
        if keys is None:
            return {k.decode(): int(v) for k, v in self.client.hgetall(self.hash_key).items()}
        ks = list(keys)
        vals = self.client.hmget(self.hash_key, ks) if ks else []
        return {k: int(v) for k, v in zip(ks, vals) if v is not None}

"""Redis write-through for a shard: a write-ahead log of batches plus per-target snapshots.

Each ingested batch is appended (encoded by aiops.features.codec — numpy columns and a JSON
header, never pickle — then lz4-compressed) to a Redis list before the
shard acknowledges it; every N batches the changed targets are re-snapshotted into a
hash and the log is cleared in the same MULTI/EXEC. A restarted shard loads the
snapshots and replays the log, so nothing acknowledged is lost. Keys carry a TTL.
"""
from __future__ import annotations

import lz4.frame
import redis

__all__ = ["RedisShardStore"]


class RedisShardStore:
    """Persistence for one shard under `<prefix>:shard:<id>:{snap,meta,wal}`."""

    def __init__(self, client: redis.Redis, shard_id: int, prefix: str = "aiops", ttl_s: int = 86_400) -> None:
        self._r = client
        base = f"{prefix}:shard:{shard_id}"
        self.snap_key, self.meta_key, self.wal_key = f"{base}:snap", f"{base}:meta", f"{base}:wal"
        self._ttl = ttl_s

    @classmethod
    def from_url(cls, url: str, shard_id: int, prefix: str = "aiops", ttl_s: int = 86_400) -> "RedisShardStore":
        return cls(redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5), shard_id, prefix, ttl_s)

    @property
    def client(self) -> redis.Redis:
        return self._r

    def append_many(self, records: list[bytes]) -> None:
        """Append encoded WAL records (see aiops.features.codec.encode_batch)."""
        pipe = self._r.pipeline(transaction=True)
        pipe.rpush(self.wal_key, *(lz4.frame.compress(r) for r in records))
        pipe.expire(self.wal_key, self._ttl)
        pipe.execute()

    def compact(self, targets: dict[str, bytes], meta: bytes) -> None:
        pipe = self._r.pipeline(transaction=True)
        if targets:
            pipe.hset(self.snap_key, mapping={k: lz4.frame.compress(v) for k, v in targets.items()})
        pipe.set(self.meta_key, meta)
        pipe.delete(self.wal_key)
        for key in (self.snap_key, self.meta_key):
            pipe.expire(key, self._ttl)
        pipe.execute()

    def load(self) -> tuple[dict[str, bytes], bytes | None, list[bytes]]:
        """Snapshots, meta and WAL records as stored bytes; a record that is not lz4 comes back empty
        (the codec then refuses it), so one bad record cannot stop a restore."""
        snaps = {k.decode(errors="replace"): _decompress(v) for k, v in self._r.hgetall(self.snap_key).items()}
        return snaps, self._r.get(self.meta_key), [_decompress(b) for b in self._r.lrange(self.wal_key, 0, -1)]

    def wal_length(self) -> int:
        return int(self._r.llen(self.wal_key))

    def clear(self) -> None:
        self._r.delete(self.snap_key, self.meta_key, self.wal_key)

    def ping(self) -> bool:
        return bool(self._r.ping())


def _decompress(blob: bytes) -> bytes:
    try:
        return lz4.frame.decompress(blob)
    except RuntimeError:  # lz4 raises RuntimeError for bytes that are not an lz4 frame
        return b""

"""Consistent hashing of target ids onto shards, and splitting batches by shard.

Virtual nodes keep the load even; adding a shard moves only ~1/n of the targets.
The hash is stable across processes (blake2b, not Python's salted hash()).
"""
from __future__ import annotations

import bisect
import hashlib
from dataclasses import replace
from functools import lru_cache

import numpy as np

from aiops.telemetry.batch import SampleBatch

__all__ = ["HashRing"]


def _h(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")


class HashRing:
    def __init__(self, num_shards: int, virtual_nodes: int = 64) -> None:
        if num_shards < 1:
            raise ValueError("need at least one shard")
        self.num_shards = num_shards
        points = sorted((_h(f"shard-{s}#{v}"), s) for s in range(num_shards) for v in range(virtual_nodes))
        self._keys = [p for p, _ in points]
        self._shards = [s for _, s in points]
        self.shard_for = lru_cache(maxsize=1_000_000)(self._lookup)

    def _lookup(self, target_id: str) -> int:
        i = bisect.bisect(self._keys, _h(target_id)) % len(self._keys)
        return self._shards[i]

    def split(self, batch: SampleBatch) -> dict[int, SampleBatch]:
        """Sub-batches per shard; name tables are shared, so this is only index work."""
        if not len(batch):
            return {}
        owner = np.fromiter((self.shard_for(t) for t in batch.targets), np.int32, len(batch.targets))
        if np.all(owner == owner[0]):
            shard = int(owner[0])
            return {shard: batch if batch.batch_id is None else replace(batch, batch_id=f"{batch.batch_id}/{shard}")}
        per_row = owner[batch.target_idx]
        out: dict[int, SampleBatch] = {}
        for shard in np.unique(per_row).tolist():
            sub = batch.select(per_row == shard)
            if batch.batch_id is not None:
                sub.batch_id = f"{batch.batch_id}/{shard}"
            out[shard] = sub
        return out

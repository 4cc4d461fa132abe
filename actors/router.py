"""Routes batches and queries to the feature-shard actors by consistent hashing.

Shared by every collector and by the Serve ingress, so there is one place that
knows how targets map to shards.
"""
from __future__ import annotations

import asyncio
from typing import Any

import ray

from actors.names import shard_name
from aiops.features.hashring import HashRing
from aiops.logs import request_kwargs
from aiops.settings import Settings
from aiops.telemetry.batch import SampleBatch

__all__ = ["ShardRouter"]


class ShardRouter:
    def __init__(self, settings: Settings, shards: list[Any] | None = None) -> None:
        self.settings = settings
        self.ring = HashRing(settings.store.num_shards, settings.store.virtual_nodes)
        self._shards = shards

    @property
    def shards(self) -> list[Any]:
        if self._shards is None:
            ns = self.settings.ray.namespace
            self._shards = [ray.get_actor(shard_name(i), namespace=ns) for i in range(self.settings.store.num_shards)]
        return self._shards

    def split_many(self, batches: list[SampleBatch]) -> dict[int, list[SampleBatch]]:
        per_shard: dict[int, list[SampleBatch]] = {}
        for b in batches:
            for shard, sub in self.ring.split(b).items():
                per_shard.setdefault(shard, []).append(sub)
        return per_shard

    def ingest_refs(self, batches: list[SampleBatch]) -> list[ray.ObjectRef]:
        """Fire one ingest call per shard; the caller awaits or ray.get()s the refs."""
        rid = request_kwargs()  # the HTTP request's id, when an ingress request is being served
        return [self.shards[s].ingest_many.remote(subs, **rid) for s, subs in self.split_many(batches).items()]

    async def ingest(self, batches: list[SampleBatch]) -> dict[str, int]:
        """Store batches on their shards; raises if any shard failed (nothing may be acknowledged)."""
        totals = {"accepted": 0, "rejected": 0, "duplicates": 0}
        for r in await asyncio.gather(*self.ingest_refs(batches)):
            for k in totals:
                totals[k] += r[k]
        return totals

    def owner(self, target_id: str) -> Any:
        return self.shards[self.ring.shard_for(target_id)]

    async def get_features(self, target_id: str, window_s: float | None = None, at: float | None = None) -> dict | None:
        return await self.owner(target_id).get_features.remote(target_id, window_s, at, **request_kwargs())

    async def get_historical(self, target_id: str, start: float, end: float, step_s: float,
                             window_s: float | None = None) -> dict[str, Any] | None:
        """Point-in-time feature rows of one target (the owning shard's history query)."""
        return await self.owner(target_id).get_historical_features.remote(target_id, start, end, step_s, window_s,
                                                                           **request_kwargs())

    async def get_features_many(self, target_ids: list[str]) -> list[dict | None]:
        """One call per shard, answers in the order asked."""
        by_shard: dict[int, list[int]] = {}
        for i, t in enumerate(target_ids):
            by_shard.setdefault(self.ring.shard_for(t), []).append(i)
        parts = await asyncio.gather(*(self.shards[s].get_features_many.remote([target_ids[i] for i in idx])
                                       for s, idx in by_shard.items()))
        out: list[dict | None] = [None] * len(target_ids)
        for idx, res in zip(by_shard.values(), parts):
            for i, r in zip(idx, res):
                out[i] = r
        return out

    async def all_features(self) -> list[dict[str, Any]]:
        parts = await asyncio.gather(*(s.all_features.remote() for s in self.shards))
        return [v for part in parts for v in part]

    async def list_targets(self) -> list[dict[str, Any]]:
        parts = await asyncio.gather(*(s.list_targets.remote() for s in self.shards))
        return [t for part in parts for t in part]

    async def shard_stats(self, timeout_s: float = 5.0) -> list[dict[str, Any] | None]:
        async def one(s: Any) -> dict[str, Any] | None:
            try:
                return await asyncio.wait_for(s.stats.remote(), timeout_s)
            except Exception:
                return None
        return list(await asyncio.gather(*(one(s) for s in self.shards)))

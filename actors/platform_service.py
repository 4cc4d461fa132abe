"""PlatformService over the named shard and collector actors of one namespace.

What the platform routes (`aiops.api.platform`) call in the Serve ingress and what `aiops status`
reads: features and targets through the shard router, stats and recent events from the collectors.
"""
from __future__ import annotations

import asyncio
from typing import Any

import ray

from actors.names import COLLECTOR_PREFIX
from actors.router import ShardRouter
from aiops.redact import redact
from aiops.features.definitions import FeatureDefinition
from aiops.logs import request_kwargs
from aiops.errors import UnavailableError
from aiops.settings import Settings
from aiops.telemetry.event_store import RedisEventStore
from aiops.telemetry.batch import SampleBatch

__all__ = ["RayPlatformService", "check_redis", "check_nats"]


class RayPlatformService:
    """PlatformService over the named shard and collector actors of one namespace."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.router = ShardRouter(settings)
        self._collectors: dict[str, Any] = {}
        self._events = (RedisEventStore.from_url(settings.redis.url, settings.redis.key_prefix)
                        if settings.redis.url else None)

    async def ingest(self, batches: list[SampleBatch]) -> dict[str, int]:
        return await self.router.ingest(batches)

    async def get_features(self, target_id: str, window_s: float | None) -> dict[str, Any] | None:
        return await self.router.get_features(target_id, window_s)

    async def get_historical(self, target_id: str, start: float, end: float, step_s: float,
                             window_s: float | None) -> dict[str, Any] | None:
        return await self.router.owner(target_id).get_historical_features.remote(target_id, start, end, step_s, window_s,
                                                                                  **request_kwargs())

    async def list_targets(self) -> list[dict[str, Any]]:
        return await self.router.list_targets()

    async def definitions(self) -> list[dict[str, Any]]:
        return await self.router.shards[0].definitions.remote()

    async def register_definition(self, definition: FeatureDefinition) -> None:
        await asyncio.gather(*(s.register_definition.remote(definition, **request_kwargs()) for s in self.router.shards))

    async def shard_stats(self) -> list[dict[str, Any] | None]:
        return await self.router.shard_stats()

    def _collector_handles(self) -> dict[str, Any]:
        ns = self.settings.ray.namespace
        for entry in ray.util.list_named_actors(all_namespaces=True):
            if entry["namespace"] == ns and entry["name"].startswith(COLLECTOR_PREFIX) and entry["name"] not in self._collectors:
                self._collectors[entry["name"]] = ray.get_actor(entry["name"], namespace=ns)
        return self._collectors

    async def collector_stats(self) -> list[dict[str, Any]]:
        handles = await asyncio.to_thread(self._collector_handles)
        out = []
        for name, h in list(handles.items()):
            try:
                out.append(await asyncio.wait_for(h.stats.remote(), 5.0))
            except Exception:
                self._collectors.pop(name, None)
        return out

    async def recent_events(self, limit: int) -> list[dict[str, Any]]:
        """The collectors' recent platform events, merged and ordered by time (newest last)."""
        handles = await asyncio.to_thread(self._collector_handles)
        out: list[dict[str, Any]] = []
        for name, h in list(handles.items()):
            try:
                out.extend(await asyncio.wait_for(h.events.remote(limit), 5.0))
            except Exception:
                self._collectors.pop(name, None)
        out.sort(key=lambda e: e.get("ts") or 0.0)
        return out[-limit:]

    async def record_events(self, events: list[dict[str, Any]]) -> int:
        """Store health events durably (the collectors' store); without Redis there is nowhere to keep them."""
        if self._events is None:
            raise UnavailableError("no Redis configured (redis.url): events cannot be stored durably")
        return await asyncio.to_thread(self._events.append, events)

    async def health(self) -> dict[str, tuple[bool, str | None]]:
        comps: dict[str, tuple[bool, str | None]] = {}
        stats = await self.router.shard_stats(timeout_s=3.0)
        down = [str(i) for i, s in enumerate(stats) if s is None]
        comps["shards"] = (not down, f"{len(stats) - len(down)}/{len(stats)} answering" + (f"; down: {','.join(down)}" if down else ""))
        if self.settings.redis.url:
            comps["redis"] = await asyncio.to_thread(check_redis, self.settings.redis.url)
        if self.settings.nats.url:
            comps["nats"] = await check_nats(self.settings.nats.url)
        return comps


def check_redis(url: str) -> tuple[bool, str | None]:
    """(reachable, detail) for the health check; Redis is optional, so a failure is reported, not raised."""
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2).ping()
        return True, redact(url)
    except Exception as exc:
        return False, redact(f"{url}: {exc}")


async def check_nats(url: str) -> tuple[bool, str | None]:
    """(reachable, detail) for the health check, with one short connection attempt."""
    import nats

    try:
        nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0, allow_reconnect=False)
        await nc.close()
        return True, redact(url)
    except Exception as exc:
        return False, redact(f"{url}: {exc}")

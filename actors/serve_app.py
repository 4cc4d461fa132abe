"""The Serve application: one FastAPI ingress over the shard actors.

The ingress is built on each replica by a builder function (Serve calls it at
replica start), so nothing heavy runs at import time. The service factory is
injected through build_app(), which is how tests swap it.
"""
from __future__ import annotations

import asyncio
from typing import Any, Callable

import ray
from fastapi import APIRouter, FastAPI
from ray import serve

from actors.router import ShardRouter
from aiops.api.app import PlatformService, create_app
from aiops.features.definitions import FeatureDefinition
from aiops.settings import Settings
from aiops.telemetry.batch import SampleBatch

INGRESS_NAME = "aiops-api"
COLLECTOR_PREFIX = "collector-"


class RayPlatformService:
    """PlatformService over the named shard and collector actors of one namespace."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.router = ShardRouter(settings)
        self._collectors: dict[str, Any] = {}

    async def ingest(self, batches: list[SampleBatch]) -> dict[str, int]:
        return await self.router.ingest(batches)

    async def get_features(self, target_id: str, window_s: float | None) -> dict[str, Any] | None:
        return await self.router.get_features(target_id, window_s)

    async def get_historical(self, target_id: str, start: float, end: float, step_s: float,
                             window_s: float | None) -> dict[str, Any] | None:
        return await self.router.owner(target_id).get_historical_features.remote(target_id, start, end, step_s, window_s)

    async def list_targets(self) -> list[dict[str, Any]]:
        return await self.router.list_targets()

    async def definitions(self) -> list[dict[str, Any]]:
        return await self.router.shards[0].definitions.remote()

    async def register_definition(self, definition: FeatureDefinition) -> None:
        await asyncio.gather(*(s.register_definition.remote(definition) for s in self.router.shards))

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

    async def health(self) -> dict[str, tuple[bool, str | None]]:
        comps: dict[str, tuple[bool, str | None]] = {}
        stats = await self.router.shard_stats(timeout_s=3.0)
        down = [str(i) for i, s in enumerate(stats) if s is None]
        comps["shards"] = (not down, f"{len(stats) - len(down)}/{len(stats)} answering" + (f"; down: {','.join(down)}" if down else ""))
        if self.settings.redis.url:
            comps["redis"] = await asyncio.to_thread(_check_redis, self.settings.redis.url)
        if self.settings.nats.url:
            comps["nats"] = await _check_nats(self.settings.nats.url)
        return comps


def _check_redis(url: str) -> tuple[bool, str | None]:
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2).ping()
        return True, url
    except Exception as exc:
        return False, f"{url}: {exc}"


async def _check_nats(url: str) -> tuple[bool, str | None]:
    import nats

    try:
        nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0, allow_reconnect=False)
        await nc.close()
        return True, url
    except Exception as exc:
        return False, f"{url}: {exc}"


@serve.ingress()
class AIOpsIngress:
    """The one HTTP entrypoint; engine deployments arrive as handles through bind()."""

    def __init__(self, settings: Settings, service_factory: Callable[[Settings], PlatformService],
                 failure_predictor: Any | None = None, with_placement: bool = True) -> None:
        self.settings = settings
        self.service = service_factory(settings)
        self.failure_predictor = failure_predictor
        self.with_placement = with_placement

    def __serve_build_asgi_app__(self) -> FastAPI:
        routers: list[APIRouter] = []
        sources = []
        if self.failure_predictor is not None:
            from actors.failure_service import FailureService
            from aiops.api.failure import make_router as failure_router

            failure = FailureService(self.settings, self.failure_predictor)
            routers.append(failure_router(failure))
            sources.append(failure.metric_families)
        if self.with_placement:
            from actors.placement_service import build_placement_routers

            routers.extend(build_placement_routers(self.settings))
            from actors.security_service import build_security_routers

            security_routers, security_metrics = build_security_routers(self.settings)
            routers.extend(security_routers)
            sources.append(security_metrics)
        return create_app(self.service, self.settings.serve, routers, sources)


def build_app(
    settings: Settings,
    service_factory: Callable[[Settings], PlatformService] = RayPlatformService,
    with_engines: bool = True,
) -> serve.Application:
    """The Serve application: the ingress plus the engines' model deployments."""
    from actors.failure_predictor import predictor_deployment

    cfg = settings.serve
    ingress = serve.deployment(
        AIOpsIngress,
        name=INGRESS_NAME,
        num_replicas=cfg.ingress_replicas,
        max_ongoing_requests=cfg.max_ongoing_requests,
        max_queued_requests=cfg.max_queued_requests,
        ray_actor_options={"num_cpus": cfg.ingress_num_cpus},
        health_check_period_s=10,
        graceful_shutdown_timeout_s=5,
    )
    predictor = predictor_deployment(settings).bind(settings) if with_engines else None
    return ingress.bind(settings, service_factory, predictor, with_engines)


def start_serve(settings: Settings, app: serve.Application | None = None) -> str:
    """Start Serve's HTTP proxy on the configured address and run the app; returns its base URL."""
    cfg = settings.serve
    serve.start(http_options={"host": cfg.host, "port": cfg.port, "request_timeout_s": cfg.request_timeout_s})
    serve.run(app or build_app(settings), name=cfg.app_name, route_prefix="/", blocking=False)
    return f"http://{cfg.host}:{cfg.port}"

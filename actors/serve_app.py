"""The Serve application: one FastAPI ingress over the shard actors and the engines.

The ingress is built on each replica by Serve (`__serve_build_asgi_app__`), so nothing heavy
runs at import time. Everything it serves is injected: the platform service factory, the
engines' route mounts and the deployments they call (bound through `build_app`). This module
imports no engine actor, so no engine module can import it back (see actors/engines.py for
the composition).
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from fastapi import APIRouter, FastAPI
from ray import serve

from actors.names import INGRESS_NAME
from actors.platform_service import RayPlatformService
from aiops.api.app import create_app
from aiops.api.platform import MetricSource, PlatformService
from aiops.auth import TokenAuth
from aiops.logs import configure_logging
from aiops.settings import Settings

__all__ = ["AIOpsIngress", "EngineRoutes", "EngineMount", "build_app", "start_serve"]

EngineRoutes = tuple[list[APIRouter], list[MetricSource]]
# Called on each ingress replica with the settings and the bound deployments' handles (by name);
# returns the engine's routers (mounted under /api/ai) and its /metrics sources.
EngineMount = Callable[[Settings, Mapping[str, Any]], EngineRoutes]


@serve.ingress()
class AIOpsIngress:
    """The one HTTP entrypoint; engine deployments arrive as handles through bind()."""

    def __init__(self, settings: Settings, service_factory: Callable[[Settings], PlatformService],
                 mounts: Sequence[EngineMount] = (), deployments: Mapping[str, Any] | None = None) -> None:
        configure_logging(settings.logging.level)  # this replica's process: JSON lines with the request id
        self.settings = settings
        self.service = service_factory(settings)
        self.mounts = tuple(mounts)
        self.deployments = dict(deployments or {})

    def __serve_build_asgi_app__(self) -> FastAPI:
        routers: list[APIRouter] = []
        sources: list[MetricSource] = []
        for mount in self.mounts:
            engine_routers, engine_sources = mount(self.settings, self.deployments)
            routers.extend(engine_routers)
            sources.extend(engine_sources)
        # tokens resolved in this replica's process: digests from the settings, env tokens from its environment
        return create_app(self.service, self.settings.serve, routers, sources, self.settings.ingest,
                          auth=TokenAuth.from_settings(self.settings.api), access_log=self.settings.logging.access_log,
                          echo_request_id=False)  # Serve's proxy returns X-Request-ID itself


def build_app(
    settings: Settings,
    service_factory: Callable[[Settings], PlatformService] = RayPlatformService,
    mounts: Sequence[EngineMount] = (),
    deployments: Mapping[str, Any] | None = None,
) -> serve.Application:
    """The Serve application: the ingress with the given engine mounts and bound deployments
    (`deployments` maps a name to `deployment.bind(...)`; the ingress gets their handles)."""
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
    return ingress.bind(settings, service_factory, tuple(mounts), dict(deployments or {}))


def start_serve(settings: Settings, app: serve.Application | None = None) -> str:
    """Start Serve's HTTP proxy on the configured address and run the app (default: the platform
    routes only; `actors.engines.build_engine_app` adds the engines); returns its base URL."""
    cfg = settings.serve
    serve.start(http_options={"host": cfg.host, "port": cfg.port, "request_timeout_s": cfg.request_timeout_s})
    serve.run(app or build_app(settings), name=cfg.app_name, route_prefix="/", blocking=False)
    return f"http://{cfg.host}:{cfg.port}"

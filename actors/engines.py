"""Which engines the ingress serves: their route mounts and the deployments they call.

The one place that knows the engine actor modules on the serving side; `actors.serve_app`
receives these mounts by injection, so it never imports an engine (and no engine imports it).
Each mount runs on an ingress replica and returns (routers, /metrics sources).
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from ray import serve

from actors.names import PREDICTOR_NAME
from actors.platform_service import RayPlatformService
from actors.serve_app import EngineMount, EngineRoutes, build_app
from aiops.api.platform import PlatformService
from aiops.settings import Settings

__all__ = ["failure_routes", "placement_routes", "security_routes", "console_routes", "ENGINE_MOUNTS", "build_engine_app"]


def failure_routes(settings: Settings, deployments: Mapping[str, Any]) -> EngineRoutes:
    """Failure predictions over the predictor deployment (none when it is not deployed)."""
    predictor = deployments.get(PREDICTOR_NAME)
    if predictor is None:
        return [], []
    from actors.failure_service import FailureService
    from aiops.api.failure import make_router

    failure = FailureService(settings, predictor)
    return [make_router(failure)], [failure.metric_families]


def placement_routes(settings: Settings, deployments: Mapping[str, Any]) -> EngineRoutes:
    """Placement recommendations, plans and evacuations (over the optimiser actor)."""
    from actors.placement_service import build_placement_routers

    return list(build_placement_routers(settings)), []


def security_routes(settings: Settings, deployments: Mapping[str, Any]) -> EngineRoutes:
    """Security anomalies, incidents and responses (over the correlator actor)."""
    from actors.security_service import build_security_routers

    routers, metric_source = build_security_routers(settings)
    return list(routers), [metric_source]


def console_routes(settings: Settings, deployments: Mapping[str, Any]) -> EngineRoutes:
    """The operator console's joined reads (fleet, risk trend, responses, audit, model versions)."""
    from actors.console_service import console_routes as routes

    return routes(settings, deployments)


ENGINE_MOUNTS: tuple[EngineMount, ...] = (failure_routes, placement_routes, security_routes, console_routes)


def build_engine_app(settings: Settings, service_factory: Callable[[Settings], PlatformService] = RayPlatformService,
                     with_engines: bool = True) -> serve.Application:
    """The full application: platform routes plus every engine and the failure predictor deployment."""
    if not with_engines:
        return build_app(settings, service_factory)
    from actors.failure_predictor import predictor_deployment

    predictor = predictor_deployment(settings).bind(settings)
    return build_app(settings, service_factory, ENGINE_MOUNTS, {PREDICTOR_NAME: predictor})

"""The FastAPI application behind the Serve ingress (no Ray here).

`create_app` only assembles: the platform routes (`aiops.api.platform`), the engines' routers
(injected, mounted under /api/ai), the token check on every /api/ai route (`aiops.api.auth`), the
timing/size middleware and the one error table (`aiops.api.errors`), so every error is JSON:
{"error": code, "message": text, "status": n}.
"""
from __future__ import annotations

from typing import Sequence

from fastapi import APIRouter, Depends, FastAPI

from aiops.api.auth import AuthGuard
from aiops.api.console import mount_console
from aiops.api.errors import error_response, install_error_handlers
from aiops.api.metrics import ApiMetrics
from aiops.api.middleware import RequestIds, TimingAndLimits
from aiops.api.platform import MetricSource, PlatformService, ops_router, platform_router
from aiops.auth import TokenAuth
from aiops.settings import ServeSettings
from aiops.telemetry.bounds import IngestSettings

__all__ = ["create_app", "PlatformService", "MetricSource"]


def create_app(service: PlatformService, serve: ServeSettings, routers: Sequence[APIRouter] = (),
               metric_sources: Sequence[MetricSource] = (), ingest: IngestSettings | None = None, *,
               auth: TokenAuth, access_log: bool = False, echo_request_id: bool = True) -> FastAPI:
    """Build the API; `routers` are the engines' routers, all mounted under /api/ai behind `auth`'s
    tokens, and `metric_sources` give the engines' Prometheus metric families at scrape time; `ingest`
    bounds what /ingest accepts (timestamp skew) and how deep any JSON body may nest. Every request gets an
    id (X-Request-ID; `echo_request_id` returns it, off behind Serve's proxy which does) and, with
    `access_log`, one JSON access line."""
    ingest = ingest or IngestSettings()
    app = FastAPI(title="NovaCron AIOps", version="0.1.0",
                  description="Failure prediction, placement and security correlation for NovaCron VM fleets.")
    metrics = ApiMetrics()
    app.state.metrics = metrics
    install_error_handlers(app)
    app.add_middleware(TimingAndLimits, metrics=metrics, max_body_bytes=serve.max_body_bytes,
                       too_large=lambda n: error_response(413, f"payload too large: {n} bytes or more (max {serve.max_body_bytes})"),
                       max_json_depth=ingest.max_json_depth,
                       too_deep=lambda d: error_response(400, f"json nested too deeply (max depth {d})", code="json_too_deep"),
                       access=access_log)
    app.add_middleware(RequestIds, echo=echo_request_id)  # added last: outermost, so the access line has the id
    app.include_router(ops_router(service, metrics, metric_sources))
    guard = [Depends(AuthGuard(auth))]
    app.include_router(platform_router(service, serve, metrics, ingest), dependencies=guard)
    for r in routers:  # one level of inclusion keeps full route templates for the latency labels
        app.include_router(r, prefix="/api/ai", dependencies=guard)
    mount_console(app)  # static files only; the data comes from the guarded routes above
    return app

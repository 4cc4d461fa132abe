"""The operator console's read endpoints and its static files (routing and schemas only).

The console (static HTML/JS under ``aiops/api/console_static``, served at ``/console`` without a token) calls
the same /api/ai routes as every client, plus these small reads that join what it needs server-side:

* ``GET /auth/whoami``: the token's name and roles, so the page offers only what the token may do.
* ``GET /fleet/hosts``: every host with zone, rack, its VMs where they run now and its latest risk.
* ``GET /predictions/failures/{target_id}/history``: the host's recent predicted risk.
* ``GET /security/responses`` (``status`` filters: pending_approval is the approvers' queue), ``GET /security/audit``.
* ``GET /models/failure-prediction/versions`` and ``/models/failure-prediction/retraining``.

Each answers with an ETag; a poll that sends it back (If-None-Match) gets 304 and no body, so the page's
live refresh costs little while nothing changes.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Protocol

import orjson
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from aiops.api.auth import current_principal
from aiops.api.security import ResponseResult
from aiops.auth import ROLES, Principal

__all__ = ["ConsoleApi", "make_console_router", "mount_console", "etag_response", "STATIC_DIR", "CONSOLE_PATH"]

STATIC_DIR = Path(__file__).with_name("console_static")
CONSOLE_PATH = "/console"


class WhoAmI(BaseModel):
    name: str
    roles: list[str] = Field(description="admin expanded to every role")


class HostPrediction(BaseModel):
    failure_probability: float
    severity: str
    time_to_failure: float | None
    model_version: str | None
    top_factor: str | None


class FleetHost(BaseModel):
    host_id: str
    zone: str
    rack: str
    cores: int | None
    memory_gb: int | None
    gpus: int | None
    vms: list[str]
    vcpus_allocated: int
    cordoned: bool
    prediction: HostPrediction | None


class FleetList(BaseModel):
    total: int
    hosts: list[FleetHost]


class RiskPoint(BaseModel):
    ts: float = Field(description="wall-clock unix seconds of the monitor's round")
    probability: float
    model_version: str | None


class RiskHistory(BaseModel):
    target_id: str
    points: list[RiskPoint]


class ModelVersionRow(BaseModel):
    version: str
    model_type: str | None = None
    created_at: float | None = None
    metrics: dict[str, Any] = {}
    training_rows: int | None = None
    horizon_s: float | None = None
    production: bool = False
    error: str | None = None


class ModelVersions(BaseModel):
    name: str
    production: str | None
    versions: list[ModelVersionRow]


class ConsoleApi(Protocol):
    """What the console routes read; `risk_history` is None for a target never predicted, `retraining` None
    when no retraining scheduler runs."""

    async def fleet(self) -> list[dict[str, Any]]: ...
    async def risk_history(self, target_id: str, limit: int) -> list[dict[str, Any]] | None: ...
    async def responses(self, status: str | None, limit: int) -> list[dict[str, Any]]: ...
    async def audit(self, limit: int) -> list[dict[str, Any]]: ...
    async def model_versions(self) -> dict[str, Any]: ...
    async def retraining(self) -> dict[str, Any] | None: ...


def etag_response(request: Request, payload: Any) -> Response:
    """JSON with a strong ETag; 304 (no body) when the client already holds this exact answer."""
    body = orjson.dumps(payload)
    tag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    headers = {"ETag": tag, "Cache-Control": "private, no-cache"}
    if tag in (request.headers.get("if-none-match") or ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def make_console_router(service: ConsoleApi) -> APIRouter:
    """The console's reads (mounted under /api/ai behind the token check; all need `viewer`)."""
    r = APIRouter(tags=["console"])

    @r.get("/auth/whoami", response_model=WhoAmI)
    async def whoami(principal: Principal = Depends(current_principal)) -> Any:
        return {"name": principal.name, "roles": [x for x in ROLES if principal.has(x)]}

    @r.get("/fleet/hosts", response_model=FleetList)
    async def fleet(request: Request) -> Any:
        hosts = await service.fleet()
        return etag_response(request, FleetList(total=len(hosts), hosts=hosts).model_dump())

    @r.get("/predictions/failures/{target_id}/history", response_model=RiskHistory)
    async def risk_history(request: Request, target_id: str, limit: int = Query(360, ge=1, le=10_000)) -> Any:
        points = await service.risk_history(target_id, limit)
        if points is None:
            raise HTTPException(404, f"no risk history for {target_id!r}: it has not been predicted since the monitor started")
        return etag_response(request, RiskHistory(target_id=target_id, points=points).model_dump())

    @r.get("/security/responses", response_model=list[ResponseResult])
    async def responses(request: Request, limit: int = Query(200, ge=1, le=5000), status: str | None = Query(
            None, pattern="^(executed|dry_run|pending_approval|failed|timeout|running|interrupted)$")) -> Any:
        rows = [ResponseResult.model_validate(x).model_dump() for x in await service.responses(status, limit)]
        return etag_response(request, rows)

    @r.get("/security/audit")
    async def audit(request: Request, limit: int = Query(200, ge=1, le=5000)) -> Any:
        """The newest rows of the response audit trail (hash-chained), newest first."""
        return etag_response(request, await service.audit(limit))

    @r.get("/models/failure-prediction/versions", response_model=ModelVersions)
    async def versions(request: Request) -> Any:
        return etag_response(request, ModelVersions.model_validate(await service.model_versions()).model_dump())

    @r.get("/models/failure-prediction/retraining")
    async def retraining(request: Request) -> Any:
        """The retraining scheduler's status (next due, the last job, its status and outcome);
        ``{"available": false}`` when no scheduler runs (an engine without one is not an error)."""
        status = await service.retraining()
        return etag_response(request, {"available": False} if status is None else {"available": True, **status})

    return r


def mount_console(app: FastAPI, static_dir: Path = STATIC_DIR) -> None:
    """Serve the console's files at /console (no token: they hold no data; every API call they make sends one)."""
    app.mount(CONSOLE_PATH, StaticFiles(directory=static_dir, html=True), name="console")

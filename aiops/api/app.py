"""The FastAPI application behind the Serve ingress (no Ray here).

Routes call an injected PlatformService, so tests can run the app on a fake and the
Serve deployment runs it on the real shard actors. Every error is JSON:
{"error": code, "message": text, "status": n}.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Awaitable, Callable, Protocol, Sequence

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from aiops.api.errors import install_error_handlers
from aiops.api.metrics import ApiMetrics
from aiops.api.middleware import TimingAndLimits
from aiops.api.schemas import ErrorBody, FeatureVector, Health, HistoricalFeatures, IngestRequest, IngestResponse, TargetList
from aiops.features.definitions import FeatureDefinition, order_definitions, parse_duration
from aiops.settings import ConfigError, ServeSettings
from aiops.telemetry.batch import SampleBatch, count_reasons
from aiops.telemetry.messages import decode_metrics

_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type", 422: "invalid_input",
          429: "too_many_requests", 503: "unavailable", 504: "timeout"}


class PlatformService(Protocol):
    async def ingest(self, batches: list[SampleBatch]) -> dict[str, int]: ...
    async def get_features(self, target_id: str, window_s: float | None) -> dict[str, Any] | None: ...
    async def get_historical(self, target_id: str, start: float, end: float, step_s: float,
                             window_s: float | None) -> dict[str, Any] | None: ...
    async def list_targets(self) -> list[dict[str, Any]]: ...
    async def definitions(self) -> list[dict[str, Any]]: ...
    async def register_definition(self, definition: FeatureDefinition) -> None: ...
    async def health(self) -> dict[str, tuple[bool, str | None]]: ...
    async def shard_stats(self) -> list[dict[str, Any] | None]: ...
    async def collector_stats(self) -> list[dict[str, Any]]: ...
    async def recent_events(self, limit: int) -> list[dict[str, Any]]: ...


def error(status: int, message: str, details: Any = None) -> JSONResponse:
    body = ErrorBody(error=_CODES.get(status, "error"), message=message, status=status, details=details)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status)


def _window(window: str | None) -> float | None:
    if window is None:
        return None
    try:
        return parse_duration(window)
    except ValueError as exc:
        raise HTTPException(422, f"window: {exc}") from None


MetricSource = Callable[[], Awaitable[list[Any]]]


def create_app(service: PlatformService, serve: ServeSettings, routers: Sequence[APIRouter] = (),
               metric_sources: Sequence[MetricSource] = ()) -> FastAPI:
    """Build the API; `routers` are the engines' routers, all mounted under /api/ai, and
    `metric_sources` give the engines' Prometheus metric families at scrape time."""
    app = FastAPI(title="NovaCron AIOps", version="0.1.0",
                  description="Failure prediction, placement and security correlation for NovaCron VM fleets.")
    metrics = ApiMetrics()
    app.state.metrics = metrics

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        msg = "; ".join(f"{'.'.join(map(str, d['loc']))}: {d['msg']}" for d in details[:5])
        return error(422, msg, details)

    install_error_handlers(app)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:  # never a traceback as text
        return error(500, f"internal error: {type(exc).__name__}: {str(exc)[:200]}")

    app.add_middleware(TimingAndLimits, metrics=metrics, max_body_bytes=serve.max_body_bytes,
                       too_large=lambda n: error(413, f"payload too large: {n} bytes (max {serve.max_body_bytes})"))

    @app.get("/healthz", response_model=Health, tags=["platform"])
    async def healthz() -> JSONResponse:
        comps = await service.health()
        ok = all(v[0] for v in comps.values())
        body = Health(status="ok" if ok else "degraded",
                      components={k: {"ok": v[0], "detail": v[1]} for k, v in comps.items()})
        return JSONResponse(body.model_dump(), status_code=200 if ok else 503)

    @app.get("/metrics", tags=["platform"], response_class=Response)
    async def prom_metrics() -> Response:
        extra = [fam for source in metric_sources for fam in await source()]
        payload = metrics.render(await service.shard_stats(), await service.collector_stats(), extra)
        return Response(payload, media_type="text/plain; version=0.0.4; charset=utf-8")

    api = APIRouter(prefix="/api/ai")

    @api.get("/targets", response_model=TargetList, tags=["features"])
    async def targets(type: str | None = Query(None, pattern="^(host|vm)$", description="filter by target type")) -> TargetList:
        items = [t for t in await service.list_targets() if type is None or t["target_type"] == type]
        items.sort(key=lambda t: t["target_id"])
        return TargetList(total=len(items), targets=items)

    @api.get("/events", tags=["platform"])
    async def events(limit: int = Query(100, ge=1, le=10_000),
                     type: str | None = Query(None, max_length=64, description="e.g. vm_lifecycle, api_call, log"),
                     target: str | None = Query(None, max_length=200, description="host or VM id")) -> dict[str, Any]:
        """Recent platform events the collectors received (newest last): VM lifecycle, API calls, flows,
        log events. Kept in memory per collector (the last 10,000 each), for a quick look, not an archive."""
        rows = await service.recent_events(limit if type is None and target is None else 10_000)  # filters need all
        if type is not None:
            rows = [e for e in rows if e.get("type") == type]
        if target is not None:
            rows = [e for e in rows if target in (e.get("host"), e.get("vm_id"), e.get("target_id"))]
        rows = rows[-limit:]
        return {"total": len(rows), "events": rows}

    @api.get("/features/{target_id}", response_model=FeatureVector, tags=["features"])
    async def features(target_id: str, window: str | None = Query(None, description="override every feature's window, e.g. 15m")) -> Any:
        result = await service.get_features(target_id, _window(window))
        if result is None:
            raise HTTPException(404, f"unknown target {target_id!r}: no telemetry received for it")
        return result

    @api.get("/features/{target_id}/history", response_model=HistoricalFeatures, tags=["features"])
    async def history(target_id: str, start: float = Query(...), end: float = Query(...),
                      step: str = Query("1m"), window: str | None = Query(None)) -> Any:
        if end < start:
            raise HTTPException(422, "end must not be before start")
        step_s = _window(step)
        assert step_s is not None
        if (end - start) / step_s > 10_000:
            raise HTTPException(422, "too many steps (max 10000): raise step or narrow the range")
        result = await service.get_historical(target_id, start, end, step_s, _window(window))
        if result is None:
            raise HTTPException(404, f"unknown target {target_id!r}: no telemetry received for it")
        return result

    @api.get("/features", tags=["features"])
    async def list_definitions() -> dict[str, Any]:
        defs = await service.definitions()
        return {"total": len(defs), "definitions": defs}

    @api.post("/features/definitions", status_code=201, tags=["features"])
    async def register(body: dict[str, Any]) -> dict[str, Any]:
        try:
            d = FeatureDefinition.model_validate(body)
            current = [FeatureDefinition.model_validate(x) for x in await service.definitions() if x["name"] != d.name]
            order_definitions([*current, d])
        except ValidationError as exc:
            raise HTTPException(422, "; ".join(f"{'.'.join(map(str, e['loc'])) or 'definition'}: {e['msg']}" for e in exc.errors()))
        except ConfigError as exc:
            raise HTTPException(422, str(exc))
        await service.register_definition(d)
        return {"registered": d.name}

    @api.post("/ingest", response_model=IngestResponse, tags=["ingest"],
              responses={400: {"model": ErrorBody}, 413: {"model": ErrorBody}, 422: {"model": ErrorBody}},
              openapi_extra={"requestBody": {"content": {"application/json": {"schema": IngestRequest.model_json_schema()}}}})
    async def ingest(request: Request) -> JSONResponse:
        raw = await request.body()
        if len(raw) > serve.max_body_bytes:
            metrics.count_rejections(Counter(payload_too_large=1))
            raise HTTPException(413, f"payload too large: {len(raw)} bytes (max {serve.max_body_bytes})")
        batch, rejected, n_records = decode_metrics(raw, serve.max_records_per_request)
        metrics.count_rejections(count_reasons(rejected))
        whole = rejected and rejected[0].reason.startswith(("invalid json", "too many records", "unknown field"))
        if whole and not len(batch):
            status = 413 if rejected[0].reason.startswith("too many") else (400 if "json" in rejected[0].reason else 422)
            raise HTTPException(status, rejected[0].reason)
        stored = {"accepted": 0}
        if len(batch):
            stored = await service.ingest([batch])
            metrics.accepted.labels("http").inc(stored["accepted"])
        body = IngestResponse(accepted_records=n_records - len(rejected), accepted_samples=stored["accepted"],
                              rejected_records=len(rejected), rejected=[r.as_dict() for r in rejected[:100]])
        status = 200 if len(batch) or not rejected else 422
        return JSONResponse(body.model_dump(), status_code=status)

    app.include_router(api)
    for r in routers:  # one level of inclusion keeps full route templates for the latency labels
        app.include_router(r, prefix="/api/ai")
    return app

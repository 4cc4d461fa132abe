"""The platform's own routes: health, metrics, targets, events, features and HTTP ingest.

Routes call an injected PlatformService, so tests run them on an in-memory fake and the
Serve ingress runs them on the shard actors. Errors propagate to the one error table
(`aiops.api.errors`); only request parsing (durations, ranges, payload limits) is checked here.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from typing import Annotated, Any, Awaitable, Callable, Protocol, Sequence

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from aiops.api.metrics import ApiMetrics
from aiops.api.schemas import ErrorBody, FeatureVector, Health, HistoricalFeatures, IngestRequest, IngestResponse, TargetList
from aiops.durations import Duration
from aiops.features.definitions import FeatureDefinition, check_definition_set, parse_definition
from aiops.features.shard import UnknownTarget
from aiops.settings import ServeSettings
from aiops.telemetry.batch import SampleBatch, count_reasons
from aiops.telemetry.bounds import IngestSettings
from aiops.telemetry.event_store import health_events
from aiops.telemetry.messages import decode_events, decode_metrics, load_json

__all__ = ["PlatformService", "MetricSource", "ops_router", "platform_router", "MAX_HISTORY_ROWS"]

MetricSource = Callable[[], Awaitable[list[Any]]]
MAX_HISTORY_ROWS = 10_000
# decode_metrics reasons that reject a whole payload rather than single records
_WHOLE_PAYLOAD = ("invalid json", "json nested", "too many records", "unknown field", "batch_id")
# A client's batch id (Idempotency-Key header or "batch_id" field): printable, no separators of its own.
BATCH_ID_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class PlatformService(Protocol):
    """What the platform routes need from the feature store and the collectors."""

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
    async def record_events(self, events: list[dict[str, Any]]) -> int: ...


def _unknown(target_id: str) -> UnknownTarget:
    return UnknownTarget(f"unknown target {target_id!r}: no telemetry received for it")


def ops_router(service: PlatformService, metrics: ApiMetrics, metric_sources: Sequence[MetricSource] = ()) -> APIRouter:
    """/healthz (503 when a component is down) and /metrics (Prometheus text, gathered per scrape)."""
    ops = APIRouter(tags=["platform"])

    @ops.get("/healthz", response_model=Health)
    async def healthz() -> JSONResponse:
        comps = await service.health()
        ok = all(v[0] for v in comps.values())
        body = Health(status="ok" if ok else "degraded",
                      components={k: {"ok": v[0], "detail": v[1]} for k, v in comps.items()})
        return JSONResponse(body.model_dump(), status_code=200 if ok else 503)

    @ops.get("/metrics", response_class=Response)
    async def prom_metrics() -> Response:
        extra = [fam for source in metric_sources for fam in await source()]
        payload = metrics.render(await service.shard_stats(), await service.collector_stats(), extra)
        return Response(payload, media_type="text/plain; version=0.0.4; charset=utf-8")

    return ops


def platform_router(service: PlatformService, serve: ServeSettings, metrics: ApiMetrics,
                    ingest: IngestSettings | None = None) -> APIRouter:
    """The platform's /api/ai routes: targets, events, features, feature definitions, ingest."""
    api = APIRouter(prefix="/api/ai")
    _add_target_routes(api, service)
    _add_feature_routes(api, service)
    _add_ingest_route(api, service, serve, metrics, ingest or IngestSettings())
    return api


def _add_target_routes(api: APIRouter, service: PlatformService) -> None:
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

    @api.post("/events", tags=["platform"], openapi_extra={"requestBody": {"content": {"application/json": {"example": [
        {"ts": 1767225600.0, "type": "host_failed", "host": "host-0003", "reason": "disk"},
        {"ts": 1767240000.0, "type": "host_recovered", "host": "host-0003"}]}}}})
    async def post_events(request: Request) -> dict[str, Any]:
        """Record platform events (role operator). Health events -- ``host_failed``, ``vm_crashed``,
        recoveries, ``disk_replaced``, ``host_maintenance`` -- are stored durably: they are the failure
        model's training labels. Others are accepted and not stored (send them on NATS for the quick look)."""
        good, rejected = decode_events(await request.body())
        if rejected and not good:
            raise HTTPException(422, rejected[0].reason)
        health = health_events(good)
        stored = await service.record_events(health) if health else 0
        return {"accepted": len(good), "health_events": len(health), "stored": stored,
                "rejected": [r.as_dict() for r in rejected[:100]]}


def _add_feature_routes(api: APIRouter, service: PlatformService) -> None:
    @api.get("/features/{target_id}", response_model=FeatureVector, tags=["features"])
    async def features(target_id: str, window: Annotated[Duration | None, Query(
            description="override every feature's window: seconds, 15m, PT15M")] = None) -> Any:
        result = await service.get_features(target_id, window)
        if result is None:
            raise _unknown(target_id)
        return result

    @api.get("/features/{target_id}/history", response_model=HistoricalFeatures, tags=["features"])
    async def history(target_id: str, start: float = Query(...), end: float = Query(...),
                      step: Annotated[Duration, Query(description="seconds, 1m, PT1M")] = 60.0,
                      window: Annotated[Duration | None, Query(description="seconds, 15m, PT15M")] = None) -> Any:
        if not (math.isfinite(start) and math.isfinite(end)):
            raise HTTPException(422, "start and end must be finite unix seconds")
        if end < start:
            raise HTTPException(422, "end must not be before start")
        if (end - start) / step > MAX_HISTORY_ROWS:
            raise HTTPException(422, f"too many steps (max {MAX_HISTORY_ROWS}): raise step or narrow the range")
        result = await service.get_historical(target_id, start, end, step, window)
        if result is None:
            raise _unknown(target_id)
        return result

    @api.get("/features", tags=["features"])
    async def list_definitions() -> dict[str, Any]:
        defs = await service.definitions()
        return {"total": len(defs), "definitions": defs}

    @api.post("/features/definitions", status_code=201, tags=["features"],
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                  "schema": FeatureDefinition.model_json_schema()}}}})
    async def register(body: dict[str, Any]) -> dict[str, Any]:
        d = parse_definition(body)  # DefinitionError -> 422 through the error table
        check_definition_set(await service.definitions(), d)
        await service.register_definition(d)
        return {"registered": d.name}


def _split_batch_id(raw: bytes, header: str | None) -> tuple[bytes | dict[str, Any], str | None]:
    """The payload to decode and the client's batch id (header, or a "batch_id" field beside "records").

    Only bodies that mention batch_id are decoded here; the rest go to the decoder as bytes.
    Raises HTTPException(422) for a malformed id or two different ids."""
    payload: bytes | dict[str, Any] = raw
    field_id = None
    if b'"batch_id"' in raw:
        data, err = load_json(raw)
        if err is None and isinstance(data, dict) and "batch_id" in data:
            field_id = data.pop("batch_id")
            payload = data
    for value in (header, field_id):
        if value is not None and (not isinstance(value, str) or not BATCH_ID_RE.match(value)):
            raise HTTPException(422, "batch_id must be 1-128 letters, digits, '.', '_', ':' or '-'")
    if header is not None and field_id is not None and header != field_id:
        raise HTTPException(422, "batch_id: the Idempotency-Key header and the batch_id field differ")
    return payload, header or field_id


def _add_ingest_route(api: APIRouter, service: PlatformService, serve: ServeSettings, metrics: ApiMetrics,
                      bounds: IngestSettings) -> None:
    @api.post("/ingest", response_model=IngestResponse, tags=["ingest"],
              responses={400: {"model": ErrorBody}, 413: {"model": ErrorBody}, 422: {"model": ErrorBody}},
              openapi_extra={"requestBody": {"content": {"application/json": {"schema": IngestRequest.model_json_schema()}}}})
    async def ingest(request: Request, idempotency_key: str | None = Header(None, max_length=128)) -> JSONResponse:
        """Store records; a retry with the same Idempotency-Key header (or batch_id field) stores once."""
        raw = await request.body()
        if len(raw) > serve.max_body_bytes:
            metrics.count_rejections(Counter(payload_too_large=1))
            raise HTTPException(413, f"payload too large: {len(raw)} bytes (max {serve.max_body_bytes})")
        payload, batch_id = _split_batch_id(raw, idempotency_key)
        batch, rejected, n_records = decode_metrics(payload, serve.max_records_per_request, bounds.window())
        metrics.count_rejections(count_reasons(rejected))
        whole = rejected and rejected[0].reason.startswith(_WHOLE_PAYLOAD)
        if whole and not len(batch):
            status = 413 if rejected[0].reason.startswith("too many") else (400 if "json" in rejected[0].reason else 422)
            raise HTTPException(status, rejected[0].reason)
        stored = {"accepted": 0}
        if len(batch):
            batch.batch_id = None if batch_id is None else f"http:{batch_id}"
            stored = await service.ingest([batch])
            metrics.accepted.labels("http").inc(stored["accepted"])
        body = IngestResponse(accepted_records=n_records - len(rejected), accepted_samples=stored["accepted"],
                              rejected_records=len(rejected), rejected=[r.as_dict() for r in rejected[:100]],
                              duplicate=bool(stored.get("duplicates")) and not stored["accepted"])
        status = 200 if len(batch) or not rejected else 422
        return JSONResponse(body.model_dump(), status_code=status)

"""Security API: anomalies, threats, incident reports and authenticated response requests.

Mounted by the lead under ``/api/ai``:

* ``GET  /security/anomalies``  filters severity (comma list) / entity / status / kind / start / end, paging
  → anomalies, summary, timeline.
* ``GET  /security/anomalies/{id}``, ``GET /security/incidents/{id}`` (timeline + graph + pivots),
  ``GET /security/incidents/{id}/graph.svg`` (the graph drawn).
* ``GET  /security/threats`` → active_threats, overall_risk_score, last_updated.
* ``POST /security/anomalies/{id}/respond`` (action, parameters, manual, comment[, dry_run]); role
  ``responder``. Parameters
  are validated per action (422 for an extra key, a malformed IP or VM id). An ``Idempotency-Key`` header
  (scoped to the anomaly and action) or the same body twice makes a repeated request act once; the same
  key with other parameters is a 409. 503 when the audit trail cannot be written (nothing was done).
* ``POST /security/responses/{id}/approve`` needs role ``approver``.
* ``GET /security/suppressions`` (entries with their suppressed-alert counts), ``POST /security/suppressions``
  and ``DELETE /security/suppressions/{id}`` (role ``responder``; audited, and re-applied after a restart).

Tokens and roles are checked for every /api/ai route by `aiops.api.auth` (mounted by `create_app`);
the routes that record who acted read the caller with `current_principal`.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Protocol

from fastapi import APIRouter, Depends, Header, HTTPException, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from aiops.alerting.severity import Severity
from aiops.api.auth import current_principal
from aiops.auth import Principal
from aiops.durations import Duration
from aiops.security.sigma.suppression import Suppression



class Anomaly(BaseModel):
    id: str
    kind: str = Field(description="sigma | network | ueba | intel | incident")
    name: str
    timestamp: float = Field(description="event time of the evidence (unix seconds)")
    severity: Severity
    score: float = Field(ge=0, le=1, description="1 − estimated benign p-value (detectors), rule-level score (Sigma), "
                                                   "indicator confidence (intel) or incident risk")
    entities: list[str]
    targets: dict[str, str] = Field(description="default action targets: vm_id, ip, user, host")
    description: str
    tactics: list[str]
    techniques: list[str]
    status: str = Field(description="open | pending_approval | mitigated | closed | merged")
    incident_id: str | None
    responses: list[str]
    first_ts: float | None = None
    last_ts: float | None = None


class TimelineBucket(BaseModel):
    start: float
    end: float
    count: int
    by_severity: dict[str, int]


class AnomalySummary(BaseModel):
    total: int
    by_severity: dict[str, int]
    by_status: dict[str, int]
    by_kind: dict[str, int]
    open_incidents: int


class AnomalyList(BaseModel):
    anomalies: list[Anomaly]
    summary: AnomalySummary
    timeline: list[TimelineBucket]
    offset: int
    limit: int
    total: int


class Threat(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    type: Literal["incident", "indicator"]
    severity: Severity
    risk_score: float = Field(ge=0, le=1)
    title: str
    first_seen: float | None = None
    last_seen: float | None = None


class ThreatSummary(BaseModel):
    active_threats: list[Threat]
    overall_risk_score: float = Field(ge=0, le=1, description="highest risk among open incidents")
    last_updated: str = Field(description="ISO-8601 UTC time of the newest evidence processed")


class RespondRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"action": "quarantine_vm", "comment": "ransomware note found"},
        {"action": "block_ip", "parameters": {"ip": "203.0.113.7", "ttl_s": "24h"}, "dry_run": True}]})
    action: Literal["quarantine_vm", "block_ip", "disable_user", "snapshot_vm"]
    parameters: dict[str, Any] = Field(default_factory=dict, description="the action's own keys only: quarantine_vm {vm_id}, "
                                       "snapshot_vm {vm_id, memory}, disable_user {user}, block_ip {ip, ttl_s}; others → 422")
    manual: bool = Field(True, description="accepted for compatibility and ignored: every API request is manual, and "
                                           "auto_allow rules apply only to the engine's own proposals")
    comment: str | None = Field(None, max_length=2000)
    dry_run: bool | None = None


class ResponseResult(BaseModel):
    response_id: str
    anomaly_id: str
    action: str
    target: str
    parameters: dict[str, Any]
    status: Literal["executed", "dry_run", "pending_approval", "failed", "timeout", "rejected", "requested", "interrupted",
                    "running"]
    requested_by: str
    manual: bool
    comment: str | None
    idempotency_key: str
    created: float
    approved_by: str | None
    result: dict[str, Any] | None
    error: str | None
    duplicate: bool
    escalated: list[str]
    anomaly_severity: str | None = None


class SecurityApiService(Protocol):
    async def list_anomalies(self, severity: str | None, entity: str | None, status: str | None, start: float | None,
                             end: float | None, kind: str | None, offset: int, limit: int, bucket_s: float | None) -> dict[str, Any]: ...
    async def get_anomaly(self, anomaly_id: str) -> dict[str, Any] | None: ...
    async def incident(self, incident_id: str) -> dict[str, Any] | None: ...
    async def threats(self) -> dict[str, Any]: ...
    async def respond(self, anomaly_id: str, action: str, parameters: dict[str, Any], manual: bool, comment: str | None,
                      principal: Principal, idempotency_key: str | None = None, dry_run: bool | None = None) -> dict[str, Any] | None: ...
    async def approve(self, response_id: str, principal: Principal) -> dict[str, Any] | None: ...
    async def list_suppressions(self) -> list[dict[str, Any]]: ...
    async def add_suppression(self, entry: dict[str, Any], principal: Principal) -> dict[str, Any]: ...
    async def remove_suppression(self, sid: str, principal: Principal) -> dict[str, Any] | None: ...


def make_router(service: SecurityApiService) -> APIRouter:
    """The /security routes over ``service`` (the correlator proxy in production, a fake in tests)."""
    r = APIRouter(prefix="/security", tags=["security"])
    _read_routes(r, service)
    _response_routes(r, service)
    _suppression_routes(r, service)
    return r


def _read_routes(r: APIRouter, service: SecurityApiService) -> None:
    """Read-only views: anomalies, incidents (JSON and SVG), threats."""
    @r.get("/anomalies", response_model=AnomalyList)
    async def anomalies(severity: str | None = Query(None, pattern=r"^(low|medium|high|critical)(,(low|medium|high|critical))*$"),
                        entity: str | None = Query(None, max_length=300, description="entity key (host:h1) or bare value"),
                        status: str | None = Query(None, pattern="^(open|pending_approval|mitigated|closed|merged)$"),
                        kind: str | None = Query(None, pattern="^(sigma|network|ueba|intel|incident|sequence)$"),
                        start: float | None = Query(None, description="unix seconds, inclusive"),
                        end: float | None = Query(None, description="unix seconds, inclusive"),
                        offset: int = Query(0, ge=0), limit: int = Query(50, ge=1, le=1000),
                        bucket: Annotated[Duration | None, Query(description="timeline bucket: seconds, 15m, PT1H")] = None) -> Any:
        if start is not None and end is not None and end < start:
            raise HTTPException(422, "end must not be before start")
        return await service.list_anomalies(severity, entity, status, start, end, kind, offset, limit, bucket)

    @r.get("/anomalies/{anomaly_id}", response_model=Anomaly)
    async def anomaly(anomaly_id: str) -> Any:
        a = await service.get_anomaly(anomaly_id)
        if a is None:
            raise HTTPException(404, f"unknown anomaly {anomaly_id!r}")
        return a

    @r.get("/incidents/{incident_id}")
    async def incident(incident_id: str) -> Any:
        rep = await service.incident(incident_id)
        if rep is None:
            raise HTTPException(404, f"unknown incident {incident_id!r}")
        return rep

    @r.get("/incidents/{incident_id}/graph.svg", response_class=Response,
           responses={200: {"content": {"image/svg+xml": {}}, "description": "the incident graph"}})
    async def incident_graph(incident_id: str) -> Any:
        """The incident's entities and timed edges drawn as SVG (rendered here, not in the correlator)."""
        import asyncio

        from aiops.security.correlation.export import render_svg

        rep = await service.incident(incident_id)
        if rep is None:
            raise HTTPException(404, f"unknown incident {incident_id!r}")
        return Response(await asyncio.to_thread(render_svg, rep), media_type="image/svg+xml")

    @r.get("/threats", response_model=ThreatSummary)
    async def threats() -> Any:
        return await service.threats()



def _response_routes(r: APIRouter, service: SecurityApiService) -> None:
    """Respond to an anomaly and approve a pending response (token roles responder / approver)."""
    @r.post("/anomalies/{anomaly_id}/respond", response_model=ResponseResult,
            responses={202: {"model": ResponseResult, "description": "waiting for approval"}})
    async def respond(anomaly_id: str, body: RespondRequest, principal: Principal = Depends(current_principal),
                      idempotency_key: str | None = Header(None, max_length=200)) -> Any:
        rec = await service.respond(anomaly_id, body.action, body.parameters, body.manual, body.comment, principal,
                                    idempotency_key=idempotency_key, dry_run=body.dry_run)  # ResponseError: 422
        if rec is None:
            raise HTTPException(404, f"unknown anomaly {anomaly_id!r}")
        return JSONResponse(ResponseResult.model_validate(rec).model_dump(), status_code=202 if rec["status"] == "pending_approval" else 200)

    @r.post("/responses/{response_id}/approve", response_model=ResponseResult)
    async def approve(response_id: str, principal: Principal = Depends(current_principal)) -> Any:
        rec = await service.approve(response_id, principal)
        if rec is None:
            raise HTTPException(404, f"unknown response {response_id!r}")
        return rec



def _suppression_routes(r: APIRouter, service: SecurityApiService) -> None:
    """List, add and remove suppressions (changes need role responder and are audited)."""
    @r.get("/suppressions", response_model=list[Suppression])
    async def suppressions() -> Any:
        """Allowlist / suppression entries (from configs/security.yaml and the API) with the number of
        alerts each one has suppressed."""
        return await service.list_suppressions()

    @r.post("/suppressions", response_model=Suppression, status_code=201)
    async def add_suppression(body: Suppression, principal: Principal = Depends(current_principal)) -> Any:
        """Add a suppression (role ``responder``; audited). ``created_by`` and ``suppressed`` are set here."""
        # SuppressionExists / SuppressionsUnavailable are ConflictErrors: the error table answers 409
        return await service.add_suppression(body.model_dump(exclude={"created_by", "suppressed"}), principal)

    @r.delete("/suppressions/{suppression_id}", response_model=Suppression)
    async def remove_suppression(suppression_id: str, principal: Principal = Depends(current_principal)) -> Any:
        """Remove a suppression (role ``responder``; audited); the answer holds its final count."""
        sup = await service.remove_suppression(suppression_id, principal)
        if sup is None:
            raise HTTPException(404, f"unknown suppression {suppression_id!r}")
        return sup

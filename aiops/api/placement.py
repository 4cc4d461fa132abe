"""Placement API: response schemas and ``make_router(service)`` (request bodies: ``aiops.api.placement_schemas``).

Routes (mounted by the platform app under ``/api/ai``):

* ``POST /placement/recommendations`` ranked nodes for one VM; 409 when no node passes
  the hard constraints (details count the nodes each constraint ruled out), 422 when
  the request is invalid (unknown VM in an affinity rule, unknown zone, GPU model ...).
* ``GET  /placement/factors`` categories and factors with their current weights.
* ``POST /placement/feedback`` the observed outcome of a placement.
* ``POST /placement/plan``               NSGA-II plan for a batch of new VMs, or a rebalancing of
  placed ones: Pareto front, knee choice with explanation, dry-run end state.
* ``POST /placement/evacuations``        move every VM off hosts at risk (explicit ``host_ids``, or
  by default every host whose predicted failure probability is >= ``threshold``).
* ``GET  /placement/plans``              stored plans, newest first (summaries; ``status`` filters).
* ``GET  /placement/plans/{plan_id}``    a stored plan and its status.
* ``POST /placement/plans/{plan_id}/apply`` with ``{"approve": true}`` only: applies through the
  control-plane interface; idempotent (a second call answers the first result).

Routing and request/response schemas only: HTTP models convert to the domain request types
(``RecommendationQuery``, ``PlanQuery``, ``EvacuationQuery``), and domain errors
(``aiops.placement.errors``) propagate to the app's one error table, which answers JSON
``{"error", "message", "status", "details"}`` like the platform's.
"""
from __future__ import annotations

from typing import Any, Protocol

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from aiops.api.placement_schemas import (DEFAULT_TENANT, AffinityRuleIn, ApplyRequest, ConstraintsIn,
                                         EvacuationRequest, FeedbackRequest, GeoPoint, PlanRequest, PlanVM,
                                         RecommendationRequest, VMSpecs)
from aiops.placement.evacuation import EvacuationQuery
from aiops.placement.plan import PlanQuery
from aiops.placement.feedback import FeedbackOutcome, FeedbackRecord
from aiops.placement.recommend import RecommendationQuery, RecommendationResult

__all__ = ["make_router", "make_plan_router", "PlacementApi", "PlanApi", "RecommendationResponse", "PlanOut",
           "PlanSummary", "PlanList", "ApplyOut", "FactorsResponse", "FeedbackResponse",
           # the request bodies, re-exported from aiops.api.placement_schemas
           "GeoPoint", "VMSpecs", "AffinityRuleIn", "ConstraintsIn", "RecommendationRequest", "FeedbackRequest",
           "PlanVM", "PlanRequest", "EvacuationRequest", "ApplyRequest"]


class CostEstimate(BaseModel):
    currency: str
    hourly: float
    horizon_hours: float
    total: float
    breakdown_hourly: dict[str, float]
    spot: bool


class NodeRecommendationOut(BaseModel):
    node_id: str
    rank: int
    placement_score: float = Field(description="weighted mean of normalised factor scores, 0..1")
    confidence: float = Field(description="0..1 from the score margin to the next node and factor uncertainty")
    factor_scores: dict[str, float]
    category_scores: dict[str, float]
    pros: list[str]
    cons: list[str]
    estimated_cost: CostEstimate
    performance_estimate: dict[str, float | None]
    zone: str
    rack: int


class RecommendationResponse(BaseModel):
    placement_id: str
    recommendations: list[NodeRecommendationOut]
    total_nodes: int
    feasible_nodes: int
    nodes_scored: int
    sampling: dict[str, Any]
    rejections: dict[str, int] = Field(description="nodes ruled out by each hard constraint (a node may fail several)")
    factors_considered: int
    analysis_time: float = Field(description="seconds")
    weights_version: int
    time_horizon_hours: float


class FactorOut(BaseModel):
    id: str
    name: str
    category: str
    weight: float
    base_weight: float
    effective_weight: float
    importance: str
    description: str
    scope: str
    update_frequency: str
    direction: str
    unit: str
    calculator: str


class CategoryOut(BaseModel):
    name: str
    description: str
    multiplier: float
    factor_count: int
    weight_share: float


class FactorsResponse(BaseModel):
    weights_version: int
    total_factors: int
    categories: list[CategoryOut]
    factors: list[FactorOut]
    drift_detected: bool
    retraining_requests: int


class FeedbackResponse(BaseModel):
    accepted: bool
    outcome: float
    residual: float
    anomalous: bool
    anomaly_score: float
    anomaly_reasons: list[str]
    weights_version: int
    weights_updated: bool
    changed_factors: list[str]
    drift_detected: bool
    retraining_scheduled: bool
    samples: int


class PlanOut(BaseModel):
    plan_id: str
    kind: str
    status: str
    created: float
    requires_approval: bool
    objectives: list[str]
    pareto_front: list[dict[str, Any]]
    knee: dict[str, Any]
    assignment: dict[str, str]
    actions: list[dict[str, Any]]
    end_state: dict[str, Any]
    heuristics: dict[str, dict[str, float]]
    optimiser: dict[str, Any]
    hosts: list[str] = []
    stranded: list[str] = []
    complete: bool = True
    rejections: dict[str, dict[str, int]] = {}
    failure_probability: dict[str, float | None] = Field({}, description="evacuations: the prediction of each drained host")
    fleet_version: int = 0
    applied: dict[str, Any] | None = None


class ApplyOut(BaseModel):
    plan_id: str
    status: str
    already_applied: bool
    applied: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
    control_plane_version: int
    applied_at: float


class PlanSummary(BaseModel):
    plan_id: str
    kind: str = Field(description="plan | rebalance | evacuation")
    status: str = Field(description="proposed | applied | ...")
    created: float
    requires_approval: bool
    hosts: list[str] = Field([], description="evacuations: the drained hosts")
    actions: int = Field(description="VM placements or moves in the plan")
    stranded: int = Field(0, description="VMs the plan could not place")
    complete: bool = True
    applied_at: float | None = None


class PlanList(BaseModel):
    total: int
    plans: list[PlanSummary]


class PlacementApi(Protocol):
    def recommend(self, q: RecommendationQuery) -> RecommendationResult: ...
    def factors(self) -> dict[str, Any]: ...
    def feedback(self, fb: FeedbackRecord) -> FeedbackOutcome: ...


def make_router(service: PlacementApi, default_tenant: str = DEFAULT_TENANT) -> APIRouter:
    """Router over an injected placement service (``aiops.placement.recommend.PlacementService``);
    `default_tenant` stands in for a request that names none (settings: placement.default_tenant)."""
    router = APIRouter(prefix="/placement", tags=["placement"])

    @router.post("/recommendations", response_model=RecommendationResponse,
                 responses={409: {"description": "no node satisfies the hard constraints"},
                            422: {"description": "invalid request"}})
    def recommendations(req: RecommendationRequest) -> Any:
        return service.recommend(req.to_query(default_tenant)).to_dict()

    @router.get("/factors", response_model=FactorsResponse)
    def factors() -> Any:
        return service.factors()

    @router.post("/feedback", response_model=FeedbackResponse, responses={422: {"description": "invalid feedback"}})
    def feedback(req: FeedbackRequest) -> Any:
        out = service.feedback(req.to_domain(default_tenant))
        return {**out.__dict__, "anomaly_reasons": list(out.anomaly_reasons), "changed_factors": list(out.changed_factors)}

    return router


class PlanApi(Protocol):
    def plan(self, req: PlanQuery) -> dict[str, Any]: ...
    def evacuate(self, req: EvacuationQuery) -> dict[str, Any]: ...
    def get_plan(self, plan_id: str) -> dict[str, Any]: ...
    def list_plans(self, status: str | None, limit: int) -> list[dict[str, Any]]: ...
    def apply(self, plan_id: str, approve: bool) -> dict[str, Any]: ...


def make_plan_router(service: PlanApi, default_tenant: str = DEFAULT_TENANT) -> APIRouter:
    """Router over an injected plan service (``PlanService`` or a proxy to the optimiser actor)."""
    router = APIRouter(prefix="/placement", tags=["placement"])
    conflict = {409: {"description": "constraints or capacity leave no feasible plan (details name them)"},
                422: {"description": "invalid request"}}

    @router.post("/plan", response_model=PlanOut, responses=conflict)
    def plan(req: PlanRequest) -> Any:
        return service.plan(req.to_domain(default_tenant))

    @router.post("/evacuations", response_model=PlanOut, responses=conflict)
    def evacuations(req: EvacuationRequest) -> Any:
        return service.evacuate(req.to_domain())

    @router.get("/plans", response_model=PlanList)
    def list_plans(status: str | None = Query(None, pattern="^[a-z_]{1,32}$", description="e.g. proposed, applied"),
                   limit: int = Query(50, ge=1, le=1000)) -> Any:
        """Stored plans, newest first, as summaries (GET /placement/plans/{plan_id} for the whole plan)."""
        plans = service.list_plans(status, limit)
        return {"total": len(plans), "plans": plans}

    @router.get("/plans/{plan_id}", response_model=PlanOut, responses={404: {"description": "unknown plan"}})
    def get_plan(plan_id: str) -> Any:
        return service.get_plan(plan_id)

    @router.post("/plans/{plan_id}/apply", response_model=ApplyOut,
                 responses={403: {"description": "not approved"}, 404: {"description": "unknown plan"}})
    def apply(plan_id: str, req: ApplyRequest) -> Any:
        return service.apply(plan_id, req.approve)

    return router

"""Placement API: pydantic schemas and ``make_router(service)``.

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
* ``GET  /placement/plans/{plan_id}``    a stored plan and its status.
* ``POST /placement/plans/{plan_id}/apply`` with ``{"approve": true}`` only: applies through the
  control-plane interface; idempotent (a second call answers the first result).

Routing and request/response schemas only: HTTP models convert to the domain request types
(``RecommendationQuery``, ``PlanQuery``, ``EvacuationQuery``), and domain errors
(``aiops.placement.errors``) propagate to the app's one error table, which answers JSON
``{"error", "message", "status", "details"}`` like the platform's.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Protocol

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from aiops.placement.evacuation import EvacuationQuery
from aiops.placement.optimise.constraints import AffinityRule, PlacementConstraints, VMRequest
from aiops.placement.plan import PlanQuery, PlanVm
from aiops.placement.factors.catalog import Category
from aiops.placement.feedback import FeedbackOutcome, FeedbackRecord
from aiops.placement.recommend import RecommendationQuery, RecommendationResult


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GeoPoint(_In):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class VMSpecs(_In):
    vm_id: str | None = None
    tenant_id: str = Field(min_length=1)
    cpu_cores: float = Field(gt=0, le=1024)
    memory_gb: float = Field(gt=0, le=65_536)
    disk_gb: float = Field(0.0, ge=0)
    gpus: int = Field(0, ge=0, le=64)
    gpu_model: str | None = Field(None, description="T4, L4, A10, A100 or H100")
    network_gbps: float = Field(0.0, ge=0)
    iops: float = Field(0.0, ge=0)
    data_classification: int = Field(0, ge=0, le=4)
    user_location: GeoPoint | None = None

    def to_domain(self) -> VMRequest:
        return VMRequest(
            tenant=self.tenant_id, cpu=self.cpu_cores, mem_gb=self.memory_gb, disk_gb=self.disk_gb,
            gpus=float(self.gpus), gpu_model=self.gpu_model, net_gbps=self.network_gbps, iops=self.iops,
            data_classification=self.data_classification,
            user_lat=self.user_location.lat if self.user_location else None,
            user_lon=self.user_location.lon if self.user_location else None, vm_id=self.vm_id)


class AffinityRuleIn(_In):
    vm_ids: list[str] = Field(min_length=1, max_length=1000)
    scope: Literal["node", "rack", "zone", "region"] = "node"


class ConstraintsIn(_In):
    zones: list[str] = []
    regions: list[str] = []
    data_residency: list[str] = Field([], description="ISO country codes the VM's data may live in")
    certifications: list[str] = Field([], description="pci-dss, hipaa, soc2, iso27001, gdpr, fedramp")
    min_security_level: int = Field(0, ge=0, le=5)
    min_isolation_level: int = Field(0, ge=0, le=3)
    dedicated_tenancy: bool = False
    affinity: list[AffinityRuleIn] = []
    anti_affinity: list[AffinityRuleIn] = []
    avoid_maintenance: bool = True
    allow_spot: bool = True
    exclude_nodes: list[str] = []

    def to_domain(self) -> PlacementConstraints:
        return PlacementConstraints(
            zones=tuple(self.zones), regions=tuple(self.regions), data_residency=tuple(self.data_residency),
            certifications=tuple(self.certifications), min_security_level=self.min_security_level,
            min_isolation_level=self.min_isolation_level, dedicated_tenancy=self.dedicated_tenancy,
            affinity=tuple(AffinityRule(tuple(r.vm_ids), r.scope) for r in self.affinity),
            anti_affinity=tuple(AffinityRule(tuple(r.vm_ids), r.scope) for r in self.anti_affinity),
            avoid_maintenance=self.avoid_maintenance, allow_spot=self.allow_spot,
            exclude_nodes=tuple(self.exclude_nodes))


class RecommendationRequest(_In):
    vm_specs: VMSpecs
    constraints: ConstraintsIn = ConstraintsIn()
    objectives: list[Category] | dict[Category, float] = Field(
        [], description="categories to emphasise (×2), or explicit multipliers per category")
    consider_cost: bool = True
    time_horizon: float = Field(24.0, gt=0, le=8760, description="hours the VM is expected to run")
    max_recommendations: int = Field(5, ge=1, le=50)
    percentage_of_nodes_to_score: float | None = Field(
        None, gt=0, le=100, description="kube-scheduler style sampling; default adaptive (50 - nodes/125 %, min 5 %)")

    def to_query(self) -> RecommendationQuery:
        return RecommendationQuery(
            vm=self.vm_specs.to_domain(), constraints=self.constraints.to_domain(),
            objectives=dict(self.objectives) if isinstance(self.objectives, dict) else tuple(self.objectives),
            consider_cost=self.consider_cost, time_horizon_h=self.time_horizon,
            max_recommendations=self.max_recommendations, percentage_of_nodes_to_score=self.percentage_of_nodes_to_score)


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


class FeedbackRequest(_In):
    placement_id: str = Field(min_length=1)
    vm_specs: VMSpecs
    node_id: str = Field(min_length=1)
    placement_score: float = Field(ge=0, le=1)
    actual_performance: float = Field(ge=0, le=1, description="share of expected performance delivered (SLO attainment)")
    user_satisfaction: float = Field(ge=1, le=5)
    issues: list[str] = []
    timestamp: datetime | float | None = None

    def to_domain(self) -> FeedbackRecord:
        ts = self.timestamp
        epoch = ts.timestamp() if isinstance(ts, datetime) else (float(ts) if ts is not None else None)
        vm = self.vm_specs
        kwargs: dict[str, Any] = {} if epoch is None else {"timestamp": epoch}
        return FeedbackRecord(
            placement_id=self.placement_id, node_id=self.node_id, placement_score=self.placement_score,
            actual_performance=self.actual_performance, user_satisfaction=self.user_satisfaction,
            issues=tuple(self.issues),
            vm={"tenant": vm.tenant_id, "cpu": vm.cpu_cores, "mem_gb": vm.memory_gb, "disk_gb": vm.disk_gb, "gpus": vm.gpus},
            **kwargs)


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


class PlanVM(VMSpecs):
    constraints: ConstraintsIn | None = Field(None, description="replaces the request's constraints for this VM")

    def to_plan_vm(self) -> PlanVm:
        return PlanVm(self.to_domain(), self.constraints.to_domain() if self.constraints is not None else None)


class PlanRequest(_In):
    vms: list[PlanVM] = Field([], max_length=2000, description="new VMs to place")
    rebalance_vm_ids: list[str] = Field([], max_length=5000, description="placed VMs that may move")
    rebalance_hosts: list[str] = Field([], max_length=1000, description="every VM on these hosts may move")
    constraints: ConstraintsIn = ConstraintsIn()
    anti_affinity_groups: list[list[str]] = Field([], description="VM ids of this batch that must be on different nodes")
    objectives: list[Literal["cost", "imbalance", "risk", "locality", "migrations"]] = Field(
        [], description="default: cost, imbalance, risk, locality (+ migrations when rebalancing)")
    time_limit_s: float = Field(3.0, gt=0, le=20, description="optimiser time box; the API request timeout is 30 s")
    time_horizon: float = Field(24.0, gt=0, le=8760, description="hours; maintenance windows inside it are avoided")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="optimiser seed (numpy's range)")

    def to_domain(self) -> PlanQuery:
        return PlanQuery(vms=tuple(v.to_plan_vm() for v in self.vms), rebalance_vm_ids=tuple(self.rebalance_vm_ids),
                         rebalance_hosts=tuple(self.rebalance_hosts), constraints=self.constraints.to_domain(),
                         anti_affinity_groups=tuple(tuple(g) for g in self.anti_affinity_groups),
                         objectives=tuple(self.objectives), time_limit_s=self.time_limit_s,
                         time_horizon=self.time_horizon, seed=self.seed)


class EvacuationRequest(_In):
    host_ids: list[str] = Field([], max_length=100, description="hosts to drain; default: hosts at risk")
    threshold: float | None = Field(None, gt=0, le=1, description="failure probability at or above which a host is at risk")
    constraints: ConstraintsIn = ConstraintsIn()
    avoid_risk_above: float | None = Field(None, gt=0, le=1, description="never move a VM onto a host this risky")
    time_horizon: float = Field(24.0, gt=0, le=8760)

    def to_domain(self) -> EvacuationQuery:
        return EvacuationQuery(host_ids=tuple(self.host_ids), threshold=self.threshold,
                               constraints=self.constraints.to_domain(), avoid_risk_above=self.avoid_risk_above,
                               time_horizon=self.time_horizon)


class ApplyRequest(_In):
    approve: bool = Field(description="must be true: plans are dry runs until explicitly approved")


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


class PlacementApi(Protocol):
    def recommend(self, q: RecommendationQuery) -> RecommendationResult: ...
    def factors(self) -> dict[str, Any]: ...
    def feedback(self, fb: FeedbackRecord) -> FeedbackOutcome: ...


def make_router(service: PlacementApi) -> APIRouter:
    """Router over an injected placement service (``aiops.placement.recommend.PlacementService``)."""
    router = APIRouter(prefix="/placement", tags=["placement"])

    @router.post("/recommendations", response_model=RecommendationResponse,
                 responses={409: {"description": "no node satisfies the hard constraints"},
                            422: {"description": "invalid request"}})
    def recommendations(req: RecommendationRequest) -> Any:
        return service.recommend(req.to_query()).to_dict()

    @router.get("/factors", response_model=FactorsResponse)
    def factors() -> Any:
        return service.factors()

    @router.post("/feedback", response_model=FeedbackResponse, responses={422: {"description": "invalid feedback"}})
    def feedback(req: FeedbackRequest) -> Any:
        out = service.feedback(req.to_domain())
        return {**out.__dict__, "anomaly_reasons": list(out.anomaly_reasons), "changed_factors": list(out.changed_factors)}

    return router


class PlanApi(Protocol):
    def plan(self, req: PlanQuery) -> dict[str, Any]: ...
    def evacuate(self, req: EvacuationQuery) -> dict[str, Any]: ...
    def get_plan(self, plan_id: str) -> dict[str, Any]: ...
    def apply(self, plan_id: str, approve: bool) -> dict[str, Any]: ...


def make_plan_router(service: PlanApi) -> APIRouter:
    """Router over an injected plan service (``PlanService`` or a proxy to the optimiser actor)."""
    router = APIRouter(prefix="/placement", tags=["placement"])
    conflict = {409: {"description": "constraints or capacity leave no feasible plan (details name them)"},
                422: {"description": "invalid request"}}

    @router.post("/plan", response_model=PlanOut, responses=conflict)
    def plan(req: PlanRequest) -> Any:
        return service.plan(req.to_domain())

    @router.post("/evacuations", response_model=PlanOut, responses=conflict)
    def evacuations(req: EvacuationRequest) -> Any:
        return service.evacuate(req.to_domain())

    @router.get("/plans/{plan_id}", response_model=PlanOut, responses={404: {"description": "unknown plan"}})
    def get_plan(plan_id: str) -> Any:
        return service.get_plan(plan_id)

    @router.post("/plans/{plan_id}/apply", response_model=ApplyOut,
                 responses={403: {"description": "not approved"}, 404: {"description": "unknown plan"}})
    def apply(plan_id: str, req: ApplyRequest) -> Any:
        return service.apply(plan_id, req.approve)

    return router

"""Request bodies of the placement API, shaped as a user writes them.

Only what a VM needs is required (``cpu_cores`` and ``memory_gb``); ``tenant_id`` falls back to the
configured default tenant (``placement.default_tenant``), and every duration takes seconds, Go-style
strings or ISO 8601 (``aiops.durations``; ``time_horizon`` keeps the seed API's hours for a bare
number). Each model carries an example for OpenAPI. The models convert to the domain request types.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from aiops.durations import Duration, DurationHours
from aiops.placement.evacuation import EvacuationQuery
from aiops.placement.factors.catalog import Category
from aiops.placement.feedback import FeedbackRecord
from aiops.placement.optimise.constraints import AffinityRule, PlacementConstraints, VMRequest
from aiops.placement.plan import PlanQuery, PlanVm
from aiops.placement.recommend import RecommendationQuery

__all__ = ["DEFAULT_TENANT", "GeoPoint", "VMSpecs", "AffinityRuleIn", "ConstraintsIn", "RecommendationRequest",
           "FeedbackRequest", "PlanVM", "PlanRequest", "EvacuationRequest", "ApplyRequest"]

DEFAULT_TENANT = "default"
SEED_VM = {"cpu_cores": 2, "memory_gb": 4, "disk_gb": 20}
_HORIZON = "hours the VM is expected to run: a number of hours, or a duration (24h, P1D)"


def _strict(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(examples)})


class GeoPoint(BaseModel):
    model_config = _strict({"lat": 50.11, "lon": 8.68})
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class VMSpecs(BaseModel):
    model_config = _strict(SEED_VM, {**SEED_VM, "tenant_id": "acme", "gpus": 1, "gpu_model": "L4",
                                     "user_location": {"lat": 50.11, "lon": 8.68}})
    vm_id: str | None = None
    tenant_id: str | None = Field(None, min_length=1, description="default: the configured placement.default_tenant")
    cpu_cores: float = Field(gt=0, le=1024)
    memory_gb: float = Field(gt=0, le=65_536)
    disk_gb: float = Field(0.0, ge=0)
    gpus: int = Field(0, ge=0, le=64)
    gpu_model: str | None = Field(None, description="T4, L4, A10, A100 or H100")
    network_gbps: float = Field(0.0, ge=0)
    iops: float = Field(0.0, ge=0)
    data_classification: int = Field(0, ge=0, le=4)
    user_location: GeoPoint | None = None

    def to_domain(self, default_tenant: str = DEFAULT_TENANT) -> VMRequest:
        return VMRequest(
            tenant=self.tenant_id or default_tenant, cpu=self.cpu_cores, mem_gb=self.memory_gb, disk_gb=self.disk_gb,
            gpus=float(self.gpus), gpu_model=self.gpu_model, net_gbps=self.network_gbps, iops=self.iops,
            data_classification=self.data_classification,
            user_lat=self.user_location.lat if self.user_location else None,
            user_lon=self.user_location.lon if self.user_location else None, vm_id=self.vm_id)


class AffinityRuleIn(BaseModel):
    model_config = _strict({"vm_ids": ["vm-000101", "vm-000102"], "scope": "rack"})
    vm_ids: list[str] = Field(min_length=1, max_length=1000)
    scope: Literal["node", "rack", "zone", "region"] = "node"


class ConstraintsIn(BaseModel):
    model_config = _strict({"zones": ["eu-central-1a"], "certifications": ["iso27001"], "min_security_level": 2})
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


class RecommendationRequest(BaseModel):
    model_config = _strict({"vm_specs": SEED_VM},
                           {"vm_specs": {**SEED_VM, "tenant_id": "acme"}, "objectives": ["performance"],
                            "time_horizon": "7d", "max_recommendations": 3})
    vm_specs: VMSpecs
    constraints: ConstraintsIn = ConstraintsIn()
    objectives: list[Category] | dict[Category, float] = Field(
        [], description="categories to emphasise (×2), or explicit multipliers per category")
    consider_cost: bool = True
    time_horizon: DurationHours = Field(24.0, gt=0, le=8760, description=_HORIZON)
    max_recommendations: int = Field(5, ge=1, le=50)
    percentage_of_nodes_to_score: float | None = Field(
        None, gt=0, le=100, description="kube-scheduler style sampling; default adaptive (50 - nodes/125 %, min 5 %)")

    def to_query(self, default_tenant: str = DEFAULT_TENANT) -> RecommendationQuery:
        return RecommendationQuery(
            vm=self.vm_specs.to_domain(default_tenant), constraints=self.constraints.to_domain(),
            objectives=dict(self.objectives) if isinstance(self.objectives, dict) else tuple(self.objectives),
            consider_cost=self.consider_cost, time_horizon_h=self.time_horizon,
            max_recommendations=self.max_recommendations, percentage_of_nodes_to_score=self.percentage_of_nodes_to_score)


class FeedbackRequest(BaseModel):
    model_config = _strict({"placement_id": "a1b2c3d4", "vm_specs": SEED_VM, "node_id": "node-00055",
                            "placement_score": 0.75, "actual_performance": 0.93, "user_satisfaction": 4})
    placement_id: str = Field(min_length=1)
    vm_specs: VMSpecs
    node_id: str = Field(min_length=1)
    placement_score: float = Field(ge=0, le=1)
    actual_performance: float = Field(ge=0, le=1, description="share of expected performance delivered (SLO attainment)")
    user_satisfaction: float = Field(ge=1, le=5)
    issues: list[str] = []
    timestamp: datetime | float | None = None

    def to_domain(self, default_tenant: str = DEFAULT_TENANT) -> FeedbackRecord:
        ts = self.timestamp
        epoch = ts.timestamp() if isinstance(ts, datetime) else (float(ts) if ts is not None else None)
        vm = self.vm_specs
        kwargs: dict[str, Any] = {} if epoch is None else {"timestamp": epoch}
        return FeedbackRecord(
            placement_id=self.placement_id, node_id=self.node_id, placement_score=self.placement_score,
            actual_performance=self.actual_performance, user_satisfaction=self.user_satisfaction,
            issues=tuple(self.issues),
            vm={"tenant": vm.tenant_id or default_tenant, "cpu": vm.cpu_cores, "mem_gb": vm.memory_gb,
                "disk_gb": vm.disk_gb, "gpus": vm.gpus},
            **kwargs)


class PlanVM(VMSpecs):
    model_config = _strict({**SEED_VM, "vm_id": "web-1"}, {**SEED_VM, "vm_id": "db-1", "constraints": {"zones": ["eu-central-1a"]}})
    constraints: ConstraintsIn | None = Field(None, description="replaces the request's constraints for this VM")

    def to_plan_vm(self, default_tenant: str = DEFAULT_TENANT) -> PlanVm:
        return PlanVm(self.to_domain(default_tenant), self.constraints.to_domain() if self.constraints is not None else None)


class PlanRequest(BaseModel):
    model_config = _strict({"vms": [{**SEED_VM, "vm_id": "web-1"}, {**SEED_VM, "vm_id": "web-2"}],
                            "anti_affinity_groups": [["web-1", "web-2"]], "time_limit_s": "3s"},
                           {"rebalance_hosts": ["host-0003"], "objectives": ["imbalance", "migrations"]})
    vms: list[PlanVM] = Field([], max_length=2000, description="new VMs to place")
    rebalance_vm_ids: list[str] = Field([], max_length=5000, description="placed VMs that may move")
    rebalance_hosts: list[str] = Field([], max_length=1000, description="every VM on these hosts may move")
    constraints: ConstraintsIn = ConstraintsIn()
    anti_affinity_groups: list[list[str]] = Field([], description="VM ids of this batch that must be on different nodes")
    objectives: list[Literal["cost", "imbalance", "risk", "locality", "migrations"]] = Field(
        [], description="default: cost, imbalance, risk, locality (+ migrations when rebalancing)")
    time_limit_s: Duration = Field(3.0, gt=0, le=20, description="optimiser time box (seconds, or 3s, PT3S); "
                                                                  "the API request timeout is 30 s")
    time_horizon: DurationHours = Field(24.0, gt=0, le=8760, description="maintenance windows inside it are avoided; "
                                                                         + _HORIZON)
    seed: int = Field(0, ge=0, le=2**32 - 1, description="optimiser seed (numpy's range)")

    def to_domain(self, default_tenant: str = DEFAULT_TENANT) -> PlanQuery:
        return PlanQuery(vms=tuple(v.to_plan_vm(default_tenant) for v in self.vms),
                         rebalance_vm_ids=tuple(self.rebalance_vm_ids),
                         rebalance_hosts=tuple(self.rebalance_hosts), constraints=self.constraints.to_domain(),
                         anti_affinity_groups=tuple(tuple(g) for g in self.anti_affinity_groups),
                         objectives=tuple(self.objectives), time_limit_s=self.time_limit_s,
                         time_horizon=self.time_horizon, seed=self.seed)


class EvacuationRequest(BaseModel):
    model_config = _strict({}, {"host_ids": ["host-0003"]}, {"threshold": 0.8, "time_horizon": "12h"})
    host_ids: list[str] = Field([], max_length=100, description="hosts to drain; default: hosts at risk")
    threshold: float | None = Field(None, gt=0, le=1, description="failure probability at or above which a host is at risk")
    constraints: ConstraintsIn = ConstraintsIn()
    avoid_risk_above: float | None = Field(None, gt=0, le=1, description="never move a VM onto a host this risky")
    time_horizon: DurationHours = Field(24.0, gt=0, le=8760, description=_HORIZON)

    def to_domain(self) -> EvacuationQuery:
        return EvacuationQuery(host_ids=tuple(self.host_ids), threshold=self.threshold,
                               constraints=self.constraints.to_domain(), avoid_risk_above=self.avoid_risk_above,
                               time_horizon=self.time_horizon)


class ApplyRequest(BaseModel):
    model_config = _strict({"approve": True})
    approve: bool = Field(description="must be true: plans are dry runs until explicitly approved")

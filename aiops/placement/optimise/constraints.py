"""Placement requests and hard-constraint filtering with per-constraint rejection counts.

Every constraint is evaluated as a boolean "fails" mask over all nodes (a few numpy
operations each), so an answer can always say how many nodes each constraint ruled
out — the same shape as kube-scheduler's "0/N nodes are available: 3 Insufficient
cpu, ..." message. A node may fail several constraints; each is counted.

Candidate sampling follows kube-scheduler's ``percentageOfNodesToScore``: on large
fleets only the first ``k`` feasible nodes, walking round-robin from a rotating start
index, are scored.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from aiops.placement.errors import InvalidPlacementRequest, NoFeasibleNode
from aiops.placement.inventory import GPU_MODELS, Inventory, certification_mask

Scope = Literal["node", "rack", "zone", "region"]


@dataclass(frozen=True)
class VMRequest:
    """Resources and context of the VM to place."""

    tenant: str
    cpu: float
    mem_gb: float
    disk_gb: float = 0.0
    gpus: float = 0.0
    gpu_model: str | None = None
    net_gbps: float = 0.0
    iops: float = 0.0
    data_classification: int = 0
    user_lat: float | None = None
    user_lon: float | None = None
    vm_id: str | None = None


@dataclass(frozen=True)
class AffinityRule:
    """Place together with (affinity) or apart from (anti-affinity) these VMs at ``scope``."""

    vm_ids: tuple[str, ...]
    scope: Scope = "node"


@dataclass(frozen=True)
class PlacementConstraints:
    zones: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    data_residency: tuple[str, ...] = ()
    certifications: tuple[str, ...] = ()
    min_security_level: int = 0
    min_isolation_level: int = 0
    dedicated_tenancy: bool = False
    affinity: tuple[AffinityRule, ...] = ()
    anti_affinity: tuple[AffinityRule, ...] = ()
    avoid_maintenance: bool = True
    allow_spot: bool = True
    exclude_nodes: tuple[str, ...] = ()


@dataclass
class ConstraintResult:
    feasible: np.ndarray                       # bool mask over all nodes
    failures: dict[str, np.ndarray]            # constraint -> bool "fails" mask
    rejections: dict[str, int] = field(default_factory=dict)

    @property
    def n_feasible(self) -> int:
        return int(self.feasible.sum())


def _scope_key(inv: Inventory, scope: Scope) -> np.ndarray:
    if scope == "node":
        return np.arange(inv.n_nodes)
    if scope == "rack":
        return inv.node["rack"]
    zone = inv.node["zone"]
    return zone if scope == "zone" else inv.zone["region"][zone]


def _vm_rows(inv: Inventory, vm_ids: tuple[str, ...]) -> np.ndarray:
    rows = np.flatnonzero(np.isin(inv.vm_ids, np.asarray(vm_ids, dtype=object)))
    if rows.size != len(set(vm_ids)):
        known = set(inv.vm_ids[rows].tolist())
        missing = [v for v in vm_ids if v not in known]
        raise InvalidPlacementRequest(f"unknown VM ids in affinity rule: {missing[:5]}")
    return rows


def evaluate_constraints(inv: Inventory, vm: VMRequest, cons: PlacementConstraints,
                         horizon_h: float) -> ConstraintResult:
    """Evaluate every hard constraint over all nodes; raises InvalidPlacementRequest on bad input."""
    n = inv.node
    f: dict[str, np.ndarray] = {}
    f["node_unschedulable"] = n["cordoned"].astype(bool)
    if cons.exclude_nodes:
        f["excluded_by_request"] = np.isin(inv.node_ids, np.asarray(cons.exclude_nodes, dtype=object))
    f["insufficient_cpu"] = n["cpu_cores"] - n["cpu_alloc"] < vm.cpu
    f["insufficient_memory"] = n["mem_gb"] - n["mem_alloc"] < vm.mem_gb
    f["insufficient_disk"] = n["disk_gb"] - n["disk_alloc"] < vm.disk_gb
    f["insufficient_network"] = n["nic_gbps"] - n["net_alloc_gbps"] < vm.net_gbps
    f["insufficient_iops"] = n["disk_iops_cap"] - n["iops_alloc"] < vm.iops
    f["vm_slots_full"] = n["vm_count"] + 1 > n["vm_max"]
    if vm.gpus > 0:
        f["insufficient_gpu"] = n["gpus"] - n["gpu_alloc"] < vm.gpus
    if vm.gpu_model is not None:
        if vm.gpu_model not in GPU_MODELS[1:]:
            raise InvalidPlacementRequest(f"unknown gpu_model {vm.gpu_model!r}; known: {', '.join(GPU_MODELS[1:])}")
        f["gpu_model_mismatch"] = n["gpu_model"] != GPU_MODELS.index(vm.gpu_model)

    # tenant isolation: dedicated hosts take only their tenant; dedicated tenancy wants no neighbours
    t = inv.tenant_index(vm.tenant)
    ded = n["dedicated_tenant"]
    iso = (ded >= 0) & (ded != t)
    if cons.dedicated_tenancy:
        others = inv.vm["tenant"] != t
        iso |= np.bincount(inv.vm["node"][others], minlength=inv.n_nodes) > 0
    f["tenant_isolation"] = iso

    zone = n["zone"]
    if cons.zones:
        unknown = set(cons.zones) - set(inv.zone_names.tolist())
        if unknown:
            raise InvalidPlacementRequest(f"unknown zones: {sorted(unknown)}")
        f["zone_not_allowed"] = ~np.isin(inv.zone_names[zone], np.asarray(cons.zones, dtype=object))
    if cons.regions:
        unknown = set(cons.regions) - set(inv.region_names.tolist())
        if unknown:
            raise InvalidPlacementRequest(f"unknown regions: {sorted(unknown)}")
        f["region_not_allowed"] = ~np.isin(inv.region_names[inv.zone["region"][zone]], np.asarray(cons.regions, dtype=object))
    if cons.data_residency:
        allowed = np.isin(inv.zone_country, np.asarray([c.upper() for c in cons.data_residency], dtype=object))
        f["data_residency"] = ~allowed[zone]
    if cons.certifications:
        try:
            want = certification_mask(cons.certifications)
        except ValueError as exc:
            raise InvalidPlacementRequest(str(exc)) from None
        f["missing_certification"] = (n["certifications"] & want) != want
    f["data_classification"] = n["max_classification"] < vm.data_classification
    if cons.min_security_level:
        f["security_level_too_low"] = n["security_level"] < cons.min_security_level
    if cons.min_isolation_level:
        f["isolation_level_too_low"] = n["isolation_level"] < cons.min_isolation_level
    if cons.avoid_maintenance:
        end = inv.now + horizon_h * 3600.0
        with np.errstate(invalid="ignore"):
            f["maintenance_window"] = (n["maint_start"] < end) & (n["maint_end"] > inv.now)
    if not cons.allow_spot:
        f["spot_not_allowed"] = n["spot"].astype(bool)

    _affinity_failures(inv, cons, f)

    fails = np.zeros(inv.n_nodes, dtype=bool)
    for mask in f.values():
        fails |= mask
    return ConstraintResult(~fails, f, {k: int(v.sum()) for k, v in f.items()})


def _affinity_failures(inv: Inventory, cons: PlacementConstraints, f: dict[str, np.ndarray]) -> None:
    """Add the nodes each (anti-)affinity rule rules out to `f`, one entry per rule kind and scope."""
    for rule in cons.affinity:
        key = _scope_key(inv, rule.scope)
        rows = _vm_rows(inv, rule.vm_ids)
        targets = key[inv.vm["node"][rows]] if rule.scope != "node" else inv.vm["node"][rows]
        ok = np.ones(inv.n_nodes, dtype=bool)
        for tgt in np.unique(targets):
            ok &= key == tgt
        f[f"affinity_{rule.scope}"] = f.get(f"affinity_{rule.scope}", np.zeros(inv.n_nodes, bool)) | ~ok
    for rule in cons.anti_affinity:
        key = _scope_key(inv, rule.scope)
        rows = _vm_rows(inv, rule.vm_ids)
        targets = key[inv.vm["node"][rows]] if rule.scope != "node" else inv.vm["node"][rows]
        bad = np.isin(key, np.unique(targets))
        f[f"anti_affinity_{rule.scope}"] = f.get(f"anti_affinity_{rule.scope}", np.zeros(inv.n_nodes, bool)) | bad


def nodes_to_score(total: int, percentage: float | None, min_nodes: int = 100) -> int:
    """kube-scheduler's numFeasibleNodesToFind: adaptive 50 - n/125 percent, at least 5 %, 100 nodes."""
    if total <= min_nodes or (percentage is not None and percentage >= 100):
        return total
    pct = percentage if percentage is not None and percentage > 0 else max(5.0, 50.0 - total / 125.0)
    return int(min(total, max(min_nodes, total * pct / 100.0)))


@dataclass(frozen=True)
class Sample:
    candidates: np.ndarray    # node indices to score
    sample_size: int
    percentage: float         # percentage of all nodes that was targeted
    nodes_evaluated: int      # nodes walked (round-robin) to find the sample
    next_start: int


def sample_candidates(feasible: np.ndarray, start: int, percentage: float | None) -> Sample:
    """First ``k`` feasible nodes walking round-robin from ``start`` (kube-scheduler style)."""
    total = feasible.shape[0]
    k = nodes_to_score(total, percentage)
    order = np.roll(np.arange(total), -start) if start else np.arange(total)
    feas_order = order[feasible[order]]
    chosen = feas_order[:k]
    if chosen.size == 0:
        return Sample(chosen, 0, 100.0 * k / max(total, 1), total, start)
    # nodes walked until the k-th feasible one (the whole ring when fewer are feasible)
    walked = int((chosen[-1] - start) % total) + 1 if chosen.size < feas_order.size else total
    return Sample(np.sort(chosen), int(chosen.size), 100.0 * k / max(total, 1), walked, (start + walked) % total)


__all__ = ["AffinityRule", "ConstraintResult", "InvalidPlacementRequest", "NoFeasibleNode",
           "PlacementConstraints", "Sample", "VMRequest", "evaluate_constraints", "nodes_to_score",
           "sample_candidates"]

"""Turning a fleet snapshot and a batch of VMs into an optimiser problem, and checking its answers.

Every hard constraint of ``aiops.placement.optimise.constraints`` except the capacity ones
(which the optimiser handles jointly for the batch) becomes a node mask per VM; the end
state is re-checked independently (capacity on every dimension, masks, anti-affinity groups).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np

from aiops.placement.errors import InvalidPlacementRequest
from aiops.placement.inventory import Inventory, VMRecord
from aiops.placement.optimise.constraints import PlacementConstraints, VMRequest, evaluate_constraints
from aiops.placement.optimise.nsga import OBJECTIVES, NodeSpec, PlacementProblem, PlanResult, VmSpec, plan_end_state

__all__ = ["DIMENSIONS", "CAPACITY_CONSTRAINTS", "DEFAULT_RISK", "PlanBatch", "static_mask", "vm_demand",
           "record_request", "node_matrices", "node_hourly_cost", "node_risk", "ProblemBuilder"]

DIMENSIONS = ("cpu", "memory_gb", "disk_gb", "gpus", "network_gbps", "iops", "vm_slots")
_CAP_COLS = ("cpu_cores", "mem_gb", "disk_gb", "gpus", "nic_gbps", "disk_iops_cap", "vm_max")
_ALLOC_COLS = ("cpu_alloc", "mem_alloc", "disk_alloc", "gpu_alloc", "net_alloc_gbps", "iops_alloc", "vm_count")
CAPACITY_CONSTRAINTS = frozenset({"insufficient_cpu", "insufficient_memory", "insufficient_disk", "insufficient_network",
                                  "insufficient_iops", "insufficient_gpu", "vm_slots_full"})
DEFAULT_RISK = 0.01  # failure probability assumed for hosts without a prediction


@dataclass
class PlanBatch:
    """The VMs one plan places: ids, requests, constraints, current host (None = new) and records."""

    ids: list[str]
    reqs: list[VMRequest]
    cons: list[PlacementConstraints]
    current: list[str | None]
    records: list[VMRecord | None]


def static_mask(inv: Inventory, vm: VMRequest, cons: PlacementConstraints, horizon_h: float) -> tuple[np.ndarray, dict[str, int]]:
    """Nodes passing every non-capacity hard constraint for ``vm``, and the counts per constraint."""
    res = evaluate_constraints(inv, vm, cons, horizon_h)
    bad = np.zeros(inv.n_nodes, dtype=bool)
    for name, mask in res.failures.items():
        if name not in CAPACITY_CONSTRAINTS:
            bad |= mask
    return ~bad, {k: v for k, v in res.rejections.items() if v and k not in CAPACITY_CONSTRAINTS}


def vm_demand(req: VMRequest) -> list[float]:
    """A VM's demand over DIMENSIONS (one VM slot)."""
    return [req.cpu, req.mem_gb, req.disk_gb, req.gpus, req.net_gbps, req.iops, 1.0]


def record_request(v: VMRecord) -> VMRequest:
    """The placement request of an already placed VM (for moving it)."""
    return VMRequest(tenant=v.tenant, cpu=v.vcpus, mem_gb=v.memory_gb, disk_gb=v.disk_gb, gpus=v.gpus,
                     net_gbps=v.net_gbps, iops=v.iops, vm_id=v.vm_id)


def node_matrices(inv: Inventory) -> tuple[np.ndarray, np.ndarray]:
    """(capacity, allocation) per node over DIMENSIONS."""
    cap = np.stack([inv.node[c] for c in _CAP_COLS], axis=1).astype(float)
    alloc = np.stack([inv.node[c] for c in _ALLOC_COLS], axis=1).astype(float)
    return cap, alloc


def node_hourly_cost(inv: Inventory, idx: np.ndarray) -> np.ndarray:
    """Price of running a whole node for an hour (what opening it costs the plan)."""
    n = inv.node
    return (n["cpu_cores"][idx] * (n["price_vcpu_hour"][idx] + n["license_core_hour"][idx])
            + n["mem_gb"][idx] * n["price_gb_hour"][idx] + n["price_gpu_hour"][idx]) * np.where(
        n["spot"][idx], 1 - n["spot_discount"][idx], 1.0)


def node_risk(inv: Inventory) -> np.ndarray:
    """Failure risk per node, DEFAULT_RISK where no prediction exists."""
    r = inv.node["failure_risk"].astype(float)
    return np.where(np.isfinite(r), r, DEFAULT_RISK)


class ProblemBuilder:
    """Problem construction and end-state checks shared by batch plans and evacuations (a mixin
    of ``PlanService``; reads ``max_candidate_nodes``)."""

    max_candidate_nodes: int

    def _candidates(self, inv: Inventory, mask: np.ndarray, must: Sequence[int]) -> np.ndarray:
        """Nodes allowed for some VM; on large fleets the ones with most free capacity."""
        any_ok = np.flatnonzero(mask.any(axis=0))
        if any_ok.size > self.max_candidate_nodes:
            cap, alloc = node_matrices(inv)
            free = ((cap[any_ok] - alloc[any_ok]) / np.maximum(cap[any_ok], 1e-9))[:, :3].mean(axis=1)
            any_ok = any_ok[np.argsort(-free, kind="stable")[: self.max_candidate_nodes]]
        return np.unique(np.concatenate([any_ok, np.asarray(list(must), dtype=np.int64)])).astype(np.int64)

    def _problem(self, inv: Inventory, batch: PlanBatch, mask: np.ndarray, extra_vms: Sequence[VMRecord] = (),
                 nodes: np.ndarray | None = None) -> tuple[PlacementProblem, np.ndarray]:
        """Arrays for the batch (+ ``extra_vms`` that may move on) over candidate nodes;
        ``mask`` has one row per VM of the batch and then of ``extra_vms``."""
        if nodes is None:
            must = [inv.node_index(v.host_id) for v in list(batch.records) + list(extra_vms) if v is not None]
            nodes = self._candidates(inv, mask, must)
        cap, alloc = node_matrices(inv)
        cost = node_hourly_cost(inv, nodes)
        risk = node_risk(inv)[nodes]
        zone, rack = inv.node["zone"][nodes], inv.node["rack"][nodes]
        specs_n = [NodeSpec(str(inv.node_ids[j]), cap[j].tolist(), float(c), float(r), str(z), str(rk))
                   for j, c, r, z, rk in zip(nodes, cost, risk, zone, rack)]
        reqs = list(batch.reqs) + [record_request(v) for v in extra_vms]
        currents = list(batch.current) + [v.host_id for v in extra_vms]
        specs_v = [VmSpec(r.vm_id or f"vm-{k}", vm_demand(r), r.tenant, c) for k, (r, c) in enumerate(zip(reqs, currents))]
        base = alloc[nodes].copy()
        pos = {int(j): k for k, j in enumerate(nodes)}
        for r, c in zip(reqs, currents):   # load of the VMs that are part of the problem is not base load
            if c is not None:
                base[pos[inv.node_index(c)]] -= vm_demand(r)
        base = np.maximum(base, 0.0)
        # a node already over capacity on a dimension (overcommitted before the plan) is not the
        # plan's violation: its capacity there is clamped to today's load, so it takes no more of it
        start = base.copy()
        for r, c in zip(reqs, currents):
            if c is not None:
                start[pos[inv.node_index(c)]] += vm_demand(r)
        capped = np.maximum(cap[nodes], start)
        specs_n = [replace(nd, capacity=c.tolist()) for nd, c in zip(specs_n, capped)]
        prob = PlacementProblem.from_specs(specs_v, specs_n, base_load=base)
        prob.allowed = np.ascontiguousarray(mask[:, nodes])
        return prob, nodes

    @staticmethod
    def _anti_affinity(prob: PlacementProblem, batch: PlanBatch, groups: list[list[str]]) -> None:
        if not groups:
            return
        pos = {v: i for i, v in enumerate(batch.ids)}
        group_of: dict[int, list[int]] = {}
        for g in groups:
            unknown = [v for v in g if v not in pos]
            if unknown:
                raise InvalidPlacementRequest(f"anti_affinity_groups name VMs outside the batch: {unknown[:5]}")
            members = [pos[v] for v in g]
            for i in members:
                group_of.setdefault(i, []).extend(k for k in members if k != i)

        def feasible(i: int, j: int, x: np.ndarray) -> bool:
            return not any(x[k] == j for k in group_of.get(i, ()))

        prob.feasible_dynamic = feasible

    @staticmethod
    def _gains(prob: PlacementProblem, x: np.ndarray, res: PlanResult) -> dict[int, float]:
        """For each kept move: how much the normalised objectives worsen if it is undone."""
        idx = [OBJECTIVES.index(o) for o in res.objectives]
        lo, hi = res.front_f.min(axis=0), res.front_f.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)

        def score(y: np.ndarray) -> float:
            return float(((prob.objectives(y)[idx] - lo) / span).sum())

        base = score(x)
        out = {}
        for i in np.flatnonzero((prob.current >= 0) & (x != prob.current)):
            y = x.copy()
            y[i] = prob.current[i]
            out[int(i)] = float("inf") if prob.violations(y) > 0 else score(y) - base
        return out

    @staticmethod
    def _shortfall(prob: PlacementProblem) -> dict[str, Any]:
        """What does not fit: total demand beyond the free capacity of the allowed nodes, per
        dimension, and the VMs that no single allowed node can hold, with the dimensions short."""
        free = np.maximum(prob.capacity - prob.base_load, 0)
        usable = (prob.allowed[:, :, None] * free[None]).max(axis=0).sum(axis=0)
        need = prob.demand.sum(axis=0)
        total = {d: round(float(n - u), 3) for d, n, u in zip(DIMENSIONS, need, usable) if n > u + 1e-9}
        unplaceable: dict[str, list[str]] = {}
        for i in range(prob.n):
            fits = (free[prob.allowed[i]] + 1e-9 >= prob.demand[i]).all(axis=1)
            if not fits.any():
                best = free[prob.allowed[i]].max(axis=0) if prob.allowed[i].any() else np.zeros(len(DIMENSIONS))
                unplaceable[prob.vm_ids[i]] = [d for d, need_i, b in zip(DIMENSIONS, prob.demand[i], best) if need_i > b + 1e-9] or ["combination"]
        return {"total": total, "unplaceable": unplaceable}

    @staticmethod
    def check_assignment(prob: PlacementProblem, x: np.ndarray) -> list[str]:
        """Independent re-check of an end state: capacity per dimension, node masks, anti-affinity."""
        problems = []
        load = prob.loads(x)
        over = load - prob.capacity > 1e-6
        for j, d in zip(*np.nonzero(over)):
            touched = (x == j).any()
            if touched:
                problems.append(f"{prob.node_ids[j]} over capacity on {DIMENSIONS[d]}: {load[j, d]:.2f} > {prob.capacity[j, d]:.2f}")
        for i in range(prob.n):
            if not prob.allowed[i, x[i]]:
                problems.append(f"{prob.vm_ids[i]} on {prob.node_ids[x[i]]} breaks a hard constraint")
            if prob.feasible_dynamic is not None and not prob.feasible_dynamic(i, int(x[i]), x):
                problems.append(f"{prob.vm_ids[i]} on {prob.node_ids[x[i]]} breaks anti-affinity")
        return problems

    def _end_state(self, prob: PlacementProblem, x: np.ndarray, ids: Sequence[str]) -> dict[str, Any]:
        raw = plan_end_state(prob, x)
        load = prob.loads(x)
        touched = sorted(set(int(j) for j in x) | set(int(j) for j in prob.current if j >= 0))
        util = {prob.node_ids[j]: {d: round(float(load[j, k] / prob.capacity[j, k]), 4) if prob.capacity[j, k] > 0 else 0.0
                                   for k, d in enumerate(DIMENSIONS)} for j in touched}
        problems = self.check_assignment(prob, x)
        return {"utilisation": util, "nodes_used": raw["nodes_used"], "nodes_considered": prob.m,
                "constraints_checked": {"hard_constraints": sorted({"capacity:" + d for d in DIMENSIONS}
                                                                   | {"static_masks", "anti_affinity_groups"}),
                                        "checks": int(prob.n * (len(DIMENSIONS) + 2)), "violations": problems},
                "feasible": not problems, "migrations": raw["migrations"],
                "objectives": raw["objectives"]}

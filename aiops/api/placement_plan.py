"""Batch placement plans, host evacuations and approved application: schemas, service, router.

Routes (mounted under ``/api/ai`` next to ``aiops.api.placement``):

* ``POST /placement/plan``               NSGA-II plan for a batch of new VMs, or a rebalancing of
  placed ones: Pareto front, knee choice with explanation, dry-run end state.
* ``POST /placement/evacuations``        move every VM off hosts at risk (explicit ``host_ids``, or
  by default every host whose predicted failure probability is ≥ ``threshold``).
* ``GET  /placement/plans/{plan_id}``    a stored plan and its status.
* ``POST /placement/plans/{plan_id}/apply`` with ``{"approve": true}`` only: applies through the
  control-plane interface; idempotent (a second call answers the first result).

``PlanService`` is plain Python (no Ray): it reads a ``FleetSnapshot`` from an injected
provider, runs ``aiops.placement.optimise.nsga`` through an injected optimiser (time-boxed) and
applies through an injected control plane (``SimulatedControlPlane`` on the embedded fleet).
Every hard constraint of ``aiops.placement.optimise.constraints`` except the capacity ones (which the
optimiser handles jointly for the batch) becomes a node mask per VM; the end state is
re-checked independently (capacity on every dimension, masks, anti-affinity groups).

A VM is moved only where the plan's own objectives say it is better off: rebalancing
moves survive ``prune_migrations`` and carry their gain (how much the normalised
objectives worsen if the move is undone); an evacuation move must lower the VM's failure
exposure (the drained host counts as failing). At apply time each action is re-checked
against the current fleet and skipped, with the reason, when it no longer fits.
"""
from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any, Callable, Literal, Protocol, Sequence

import numpy as np
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from aiops.api.placement import ConstraintsIn, VMSpecs
from aiops.placement.optimise.constraints import (InvalidPlacementRequest, NoFeasibleNode, PlacementConstraints, VMRequest,
                                         evaluate_constraints)
from aiops.placement.inventory.fleet import ControlPlaneError, FleetSnapshot, VMRecord
from aiops.placement.inventory.model import Inventory
from aiops.placement.optimise.nsga import (OBJECTIVES, NodeSpec, PlacementProblem, PlanResult, VmSpec, evacuation_plan,
                                  optimise_batch, plan_end_state, prune_migrations)

DIMENSIONS = ("cpu", "memory_gb", "disk_gb", "gpus", "network_gbps", "iops", "vm_slots")
_CAP_COLS = ("cpu_cores", "mem_gb", "disk_gb", "gpus", "nic_gbps", "disk_iops_cap", "vm_max")
_ALLOC_COLS = ("cpu_alloc", "mem_alloc", "disk_alloc", "gpu_alloc", "net_alloc_gbps", "iops_alloc", "vm_count")
CAPACITY_CONSTRAINTS = frozenset({"insufficient_cpu", "insufficient_memory", "insufficient_disk", "insufficient_network",
                                  "insufficient_iops", "insufficient_gpu", "vm_slots_full"})
DEFAULT_RISK = 0.01  # failure probability assumed for hosts without a prediction


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------
class PlanNotFound(KeyError):
    pass


class ApprovalRequired(PermissionError):
    pass


class NoFeasiblePlan(RuntimeError):
    """Constraints leave some VM no node, or capacity cannot hold the batch: HTTP 409."""

    def __init__(self, message: str, details: dict[str, Any]):
        super().__init__(message)
        self.details = details


# ---------------------------------------------------------------------------
# schemas
# ---------------------------------------------------------------------------
class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlanVM(VMSpecs):
    constraints: ConstraintsIn | None = Field(None, description="replaces the request's constraints for this VM")


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
    seed: int = 0


class EvacuationRequest(_In):
    host_ids: list[str] = Field([], max_length=100, description="hosts to drain; default: hosts at risk")
    threshold: float | None = Field(None, gt=0, le=1, description="failure probability at or above which a host is at risk")
    constraints: ConstraintsIn = ConstraintsIn()
    avoid_risk_above: float | None = Field(None, gt=0, le=1, description="never move a VM onto a host this risky")
    time_horizon: float = Field(24.0, gt=0, le=8760)


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


# ---------------------------------------------------------------------------
# service
# ---------------------------------------------------------------------------
class ControlPlane(Protocol):
    def migrate(self, vm_id: str, source: str, target: str, plan_id: str) -> None: ...
    def create(self, vm: VMRecord, plan_id: str) -> None: ...
    def cordon(self, host_id: str, plan_id: str) -> None: ...
    def vms(self) -> dict[str, VMRecord]: ...


@dataclass
class _Batch:
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


def _demand(req: VMRequest) -> list[float]:
    return [req.cpu, req.mem_gb, req.disk_gb, req.gpus, req.net_gbps, req.iops, 1.0]


def _record_request(v: VMRecord) -> VMRequest:
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
    r = inv.node["failure_risk"].astype(float)
    return np.where(np.isfinite(r), r, DEFAULT_RISK)


class PlanService:
    """Plans, evacuations and approved application over one fleet (thread-safe)."""

    def __init__(self, snapshot_provider: Callable[[], FleetSnapshot], control_plane: ControlPlane,
                 optimiser: Callable[..., PlanResult] = optimise_batch, risk_threshold: float = 0.7,
                 max_candidate_nodes: int = 200, max_plans: int = 1000, on_applied: Callable[[], None] | None = None):
        self.snapshot_provider = snapshot_provider
        self.control_plane = control_plane
        self.optimiser = optimiser
        self.risk_threshold = risk_threshold
        self.max_candidate_nodes = max_candidate_nodes
        self.max_plans = max_plans
        self.on_applied = on_applied
        self._plans: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.RLock()

    # ---- batch plans -----------------------------------------------------------
    def plan(self, req: PlanRequest) -> dict[str, Any]:
        snap = self.snapshot_provider()
        inv = snap.inventory
        batch = self._batch(req, snap)
        if not batch.ids:
            raise InvalidPlacementRequest("nothing to plan: give vms, rebalance_vm_ids or rebalance_hosts")
        masks, rejections = [], {}
        for vid, r, c in zip(batch.ids, batch.reqs, batch.cons):
            m, rej = static_mask(inv, r, c, req.time_horizon)
            if not m.any():
                raise NoFeasiblePlan(f"no node satisfies the constraints of {vid}: "
                                     + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in sorted(rej.items(), key=lambda kv: -kv[1])),
                                     {"vm_id": vid, "total_nodes": inv.n_nodes, "rejections": rej})
            masks.append(m)
            rejections[vid] = rej
        mask = np.stack(masks)
        rebalancing = any(c is not None for c in batch.current)
        for i, cur in enumerate(batch.current):   # staying put is always allowed for a placed VM
            if cur is not None:
                mask[i, inv.node_index(cur)] = True
        prob, nodes = self._problem(inv, batch, mask)
        self._anti_affinity(prob, batch, req.anti_affinity_groups)
        objectives = tuple(req.objectives) or (OBJECTIVES if rebalancing else OBJECTIVES[:4])
        res = self.optimiser(prob, objectives=objectives, time_limit_s=req.time_limit_s, seed=req.seed)
        if res.knee < 0:
            short = self._shortfall(prob)
            named = sorted({d for ds in short["unplaceable"].values() for d in ds} | set(short["total"]))
            raise NoFeasiblePlan("no feasible plan: the batch does not fit the free capacity of the allowed nodes "
                                 f"(insufficient {', '.join(named) or 'capacity for the combination'})",
                                 {"shortfall": short, "total_nodes": prob.m})
        x = res.choice
        gains: dict[int, float] = {}
        if rebalancing:
            x = prune_migrations(prob, x, res)
            gains = self._gains(prob, x, res)
        kind = "rebalance" if rebalancing else "place"
        actions = []
        for i, vid in enumerate(batch.ids):
            target = prob.node_ids[x[i]]
            if batch.current[i] is None:
                actions.append({"op": "create", "vm_id": vid, "to": target, "tenant": batch.reqs[i].tenant,
                                "demand": dict(zip(DIMENSIONS, prob.demand[i].tolist()))})
            elif target != batch.current[i]:
                actions.append({"op": "migrate", "vm_id": vid, "from": batch.current[i], "to": target,
                                "demand": dict(zip(DIMENSIONS, prob.demand[i].tolist())),
                                "gain": round(float(gains.get(i, 0.0)), 6)})
        end = self._end_state(prob, x, batch.ids)
        plan = self._store(kind, snap, res, prob, x, actions, end, batch.ids, {"rejections": rejections})
        return plan

    def _batch(self, req: PlanRequest, snap: FleetSnapshot) -> _Batch:
        ids, reqs, cons, cur, recs = [], [], [], [], []
        default = req.constraints.to_domain()
        for k, v in enumerate(req.vms):
            vid = v.vm_id or f"vm-new-{uuid.uuid4().hex[:8]}-{k}"
            if vid in snap.vms or vid in ids:
                raise InvalidPlacementRequest(f"vm_id {vid!r} exists already")
            d = v.to_domain()
            ids.append(vid)
            reqs.append(replace(d, vm_id=vid))
            cons.append(v.constraints.to_domain() if v.constraints is not None else default)
            cur.append(None)
            recs.append(None)
        unknown_hosts = [h for h in req.rebalance_hosts if h not in snap.hosts]
        if unknown_hosts:
            raise InvalidPlacementRequest(f"unknown hosts: {unknown_hosts[:5]}")
        wanted = list(dict.fromkeys(list(req.rebalance_vm_ids) + [v.vm_id for v in snap.vms.values() if v.host_id in set(req.rebalance_hosts)]))
        missing = [v for v in wanted if v not in snap.vms]
        if missing:
            raise InvalidPlacementRequest(f"unknown VM ids: {missing[:5]}")
        for vid in wanted:
            rec = snap.vms[vid]
            ids.append(vid)
            reqs.append(_record_request(rec))
            cons.append(default)
            cur.append(rec.host_id)
            recs.append(rec)
        return _Batch(ids, reqs, cons, cur, recs)

    def _candidates(self, inv: Inventory, mask: np.ndarray, must: Sequence[int]) -> np.ndarray:
        """Nodes allowed for some VM; on large fleets the ones with most free capacity."""
        any_ok = np.flatnonzero(mask.any(axis=0))
        if any_ok.size > self.max_candidate_nodes:
            cap, alloc = node_matrices(inv)
            free = ((cap[any_ok] - alloc[any_ok]) / np.maximum(cap[any_ok], 1e-9))[:, :3].mean(axis=1)
            any_ok = any_ok[np.argsort(-free, kind="stable")[: self.max_candidate_nodes]]
        return np.unique(np.concatenate([any_ok, np.asarray(list(must), dtype=np.int64)])).astype(np.int64)

    def _problem(self, inv: Inventory, batch: _Batch, mask: np.ndarray, extra_vms: Sequence[VMRecord] = (),
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
        reqs = list(batch.reqs) + [_record_request(v) for v in extra_vms]
        currents = list(batch.current) + [v.host_id for v in extra_vms]
        specs_v = [VmSpec(r.vm_id or f"vm-{k}", _demand(r), r.tenant, c) for k, (r, c) in enumerate(zip(reqs, currents))]
        base = alloc[nodes].copy()
        pos = {int(j): k for k, j in enumerate(nodes)}
        for r, c in zip(reqs, currents):   # load of the VMs that are part of the problem is not base load
            if c is not None:
                base[pos[inv.node_index(c)]] -= _demand(r)
        base = np.maximum(base, 0.0)
        # a node already over capacity on a dimension (overcommitted before the plan) is not the
        # plan's violation: its capacity there is clamped to today's load, so it takes no more of it
        start = base.copy()
        for r, c in zip(reqs, currents):
            if c is not None:
                start[pos[inv.node_index(c)]] += _demand(r)
        capped = np.maximum(cap[nodes], start)
        specs_n = [replace(nd, capacity=c.tolist()) for nd, c in zip(specs_n, capped)]
        prob = PlacementProblem.from_specs(specs_v, specs_n, base_load=base)
        prob.allowed = np.ascontiguousarray(mask[:, nodes])
        return prob, nodes

    @staticmethod
    def _anti_affinity(prob: PlacementProblem, batch: _Batch, groups: list[list[str]]) -> None:
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

    def _store(self, kind: str, snap: FleetSnapshot, res: PlanResult, prob: PlacementProblem, x: np.ndarray,
               actions: list[dict[str, Any]], end: dict[str, Any], ids: Sequence[str], extra: dict[str, Any]) -> dict[str, Any]:
        plan_id = uuid.uuid4().hex
        objs = list(res.objectives)
        front = [{"index": k, "objectives": dict(zip(objs, f.round(6).tolist())),
                  "nodes_used": int((prob.loads(xk) > 0).any(axis=1).sum())}
                 for k, (xk, f) in enumerate(zip(res.front_x[:50], res.front_f[:50]))]
        heur = {}
        for name, sx in res.seeds.items():
            if prob.violations(sx) == 0:
                heur[name] = dict(zip(OBJECTIVES, prob.objectives(sx).round(6).tolist()))
        plan = {
            "plan_id": plan_id, "kind": kind, "status": "proposed", "created": time.time(), "requires_approval": True,
            "objectives": objs, "pareto_front": front,
            "knee": {"index": int(res.knee), "objectives": dict(zip(objs, res.front_f[res.knee].round(6).tolist())),
                     "explanation": res.explanation},
            "assignment": {vid: prob.node_ids[x[i]] for i, vid in enumerate(ids)},
            "actions": actions, "end_state": end, "heuristics": heur,
            "optimiser": {"generations": res.generations, "seconds": round(res.seconds, 3), "front_size": len(res.front_f),
                          "vms": prob.n, "nodes": prob.m},
            "fleet_version": int(snap.inventory.version), **extra,
        }
        with self._lock:
            self._plans[plan_id] = plan
            while len(self._plans) > self.max_plans:
                self._plans.popitem(last=False)
        return plan

    # ---- evacuations -----------------------------------------------------------
    def at_risk(self, snap: FleetSnapshot, threshold: float | None) -> list[str]:
        t = self.risk_threshold if threshold is None else threshold
        return sorted(h for h, p in snap.failure.items() if p >= t and h in snap.hosts)

    def evacuate(self, req: EvacuationRequest) -> dict[str, Any]:
        snap = self.snapshot_provider()
        inv = snap.inventory
        hosts = list(dict.fromkeys(req.host_ids)) or self.at_risk(snap, req.threshold)
        if not hosts:
            t = self.risk_threshold if req.threshold is None else req.threshold
            known = max(snap.failure.values(), default=None)
            raise NoFeasiblePlan(f"no host at risk: no predicted failure probability is >= {t}"
                                 + (f" (highest {known:.3f})" if known is not None else " (no predictions yet)"),
                                 {"threshold": t, "hosts_with_predictions": len(snap.failure), "error": "no_host_at_risk"})
        unknown = [h for h in hosts if h not in snap.hosts]
        if unknown:
            raise InvalidPlacementRequest(f"unknown hosts: {unknown[:5]}")
        cons = req.constraints.to_domain()
        evacuees = [v for v in snap.vms.values() if v.host_id in set(hosts)]
        host_idx = [inv.node_index(h) for h in hosts]
        # allowed masks depend on the tenant (and the request's constraints) only: cache per tenant
        cache: dict[tuple[str, bool], tuple[np.ndarray, dict[str, int]]] = {}

        def mask_for(v: VMRecord, evac: bool) -> tuple[np.ndarray, dict[str, int]]:
            key = (v.tenant, evac)
            if key not in cache:
                cache[key] = static_mask(inv, _record_request(v), cons if evac else PlacementConstraints(), req.time_horizon)
            return cache[key]

        ev_masks = []
        rejections: dict[str, dict[str, int]] = {}
        for v in evacuees:
            m, rej = mask_for(v, True)
            m = m.copy()
            m[host_idx] = False
            ev_masks.append(m)
            rejections[v.vm_id] = rej
        ev_mask = np.stack(ev_masks) if ev_masks else np.zeros((0, inv.n_nodes), dtype=bool)
        cand = self._candidates(inv, ev_mask, host_idx)
        # residents of the candidate nodes may be moved on once (ejection chains)
        cset = set(inv.node_ids[cand].tolist()) - set(hosts)
        residents = [v for v in snap.vms.values() if v.host_id in cset]
        rows = list(ev_masks)
        for v in residents:
            m = mask_for(v, False)[0].copy()
            m[host_idx] = False
            m[inv.node_index(v.host_id)] = True   # staying put is always allowed
            rows.append(m)
        full_mask = np.stack(rows) if rows else np.zeros((0, inv.n_nodes), bool)
        batch = _Batch([v.vm_id for v in evacuees], [_record_request(v) for v in evacuees], [cons] * len(evacuees),
                       [v.host_id for v in evacuees], list(evacuees))
        prob, nodes = self._problem(inv, batch, full_mask, extra_vms=residents, nodes=cand)
        pos = {nid: k for k, nid in enumerate(prob.node_ids)}
        risk_before = prob.risk.copy()
        for h in hosts:   # a drained host is treated as failing: staying there is the worst outcome
            prob.risk[pos[h]] = 1.0
        start = prob.current.copy()
        stranded: list[str] = []
        t0 = time.perf_counter()
        for h in hosts:
            out = evacuation_plan(prob, pos[h], req.avoid_risk_above)
            stranded += out["stranded"]
            prob.current = np.asarray(out["assignment"], dtype=np.int64)
        x = prob.current.copy()
        prob.current = start
        actions = []
        for i in np.flatnonzero(x != start):
            src, dst = int(start[i]), int(x[i])
            before, after = float(prob.risk[src]), float(prob.risk[dst])
            actions.append({"op": "migrate", "vm_id": prob.vm_ids[i], "from": prob.node_ids[src], "to": prob.node_ids[dst],
                            "demand": dict(zip(DIMENSIONS, prob.demand[i].tolist())),
                            "risk_before": round(before, 6), "risk_after": round(after, 6),
                            "predicted_risk_target": round(float(risk_before[dst]), 6),
                            "gain": round(before - after, 6), "evacuee": bool(src in {pos[h] for h in hosts})})
        # a resident moved on to make room is justified by the evacuee it makes room for; it moves first
        ev_gains = [a["gain"] for a in actions if a["evacuee"]]
        for a in actions:
            if not a["evacuee"]:
                a["gain"] = round(min(ev_gains, default=0.0), 6)
                a["reason"] = "makes room for a VM leaving an at-risk host"
        actions.sort(key=lambda a: a["evacuee"])
        end = self._end_state(prob, x, prob.vm_ids)
        for h in hosts:
            end["utilisation"].setdefault(h, {d: 0.0 for d in DIMENSIONS})
        res = PlanResult(("risk", "migrations"), x[None], prob.objectives(x)[[2, 4]][None], 0,
                         f"Evacuation of {', '.join(hosts)}: {len(evacuees)} VMs to move, largest first, each to the allowed node "
                         f"with the lowest failure risk, then tenant locality, then the tightest fit; "
                         f"{len(actions) - len(evacuees) + len(stranded)} resident VMs moved on to make room.",
                         {}, 0, time.perf_counter() - t0)
        plan = self._store("evacuation", snap, res, prob, x, actions, end, prob.vm_ids,
                           {"hosts": hosts, "stranded": stranded, "complete": not stranded, "rejections": rejections,
                            "failure_probability": {h: snap.failure.get(h) for h in hosts}})
        plan["assignment"] = {a["vm_id"]: a["to"] for a in actions}
        return plan

    # ---- plans and apply ---------------------------------------------------------
    def get_plan(self, plan_id: str) -> dict[str, Any]:
        with self._lock:
            plan = self._plans.get(plan_id)
        if plan is None:
            raise PlanNotFound(plan_id)
        return plan

    def apply(self, plan_id: str, approve: bool) -> dict[str, Any]:
        """Apply an approved plan once; later calls return the first result."""
        with self._lock:
            plan = self.get_plan(plan_id)
            if not approve:
                raise ApprovalRequired(f"plan {plan_id} is a dry run: apply it with {{\"approve\": true}}")
            if plan.get("applied") is not None:
                return {**plan["applied"], "already_applied": True}
            snap = self.snapshot_provider()
            inv = snap.inventory
            cap, alloc = node_matrices(inv)
            current = self.control_plane.vms()
            applied, skipped = [], []
            for a in plan["actions"]:
                reason = self._refuse(a, plan, inv, cap, alloc, current)
                if reason:
                    skipped.append({**a, "reason": reason})
                    continue
                try:
                    if a["op"] == "create":
                        d = a["demand"]
                        self.control_plane.create(VMRecord(a["vm_id"], a["to"], a["tenant"], d["cpu"], d["memory_gb"],
                                                           d["disk_gb"], d["gpus"]), plan_id)
                    else:
                        self.control_plane.migrate(a["vm_id"], a["from"], a["to"], plan_id)
                except ControlPlaneError as exc:
                    skipped.append({**a, "reason": str(exc)})
                    continue
                j = inv.node_index(a["to"])
                dem = np.array([a["demand"][d] for d in DIMENSIONS])
                alloc[j] += dem
                if a["op"] == "migrate":
                    alloc[inv.node_index(a["from"])] -= dem
                applied.append(a)
            if plan["kind"] == "evacuation" and plan.get("complete") and not skipped:
                for h in plan.get("hosts", []):
                    self.control_plane.cordon(h, plan_id)
            result = {"plan_id": plan_id, "status": "applied" if not skipped else ("partially_applied" if applied else "not_applied"),
                      "already_applied": False, "applied": applied, "skipped": skipped,
                      "control_plane_version": int(getattr(self.control_plane, "version", 0)), "applied_at": time.time()}
            plan["applied"] = result
            plan["status"] = result["status"]
        if self.on_applied is not None:
            self.on_applied()
        return result

    @staticmethod
    def _refuse(a: dict[str, Any], plan: dict[str, Any], inv: Inventory, cap: np.ndarray, alloc: np.ndarray,
                current: dict[str, VMRecord]) -> str | None:
        """Why an action must not run now (None = go)."""
        try:
            j = inv.node_index(a["to"])
        except KeyError:
            return f"target {a['to']} left the inventory"
        if inv.node["cordoned"][j]:
            return f"target {a['to']} is cordoned"
        dem = np.array([a["demand"][d] for d in DIMENSIONS])
        if a["op"] == "migrate":
            now_on = current.get(a["vm_id"])
            if now_on is None:
                return f"{a['vm_id']} no longer exists"
            if now_on.host_id != a["from"]:
                return f"{a['vm_id']} moved to {now_on.host_id} since the plan was made"
            if not a.get("gain", 0.0) > 0:
                return "the plan's objectives do not improve with this move"
        elif a["vm_id"] in current:
            return f"{a['vm_id']} exists already"
        over = [d for d, k in zip(DIMENSIONS, range(len(DIMENSIONS))) if alloc[j, k] + dem[k] > cap[j, k] + 1e-6]
        if over:
            return f"insufficient {', '.join(over)} on {a['to']} now"
        return None


# ---------------------------------------------------------------------------
# router
# ---------------------------------------------------------------------------
class PlanApi(Protocol):
    def plan(self, req: PlanRequest) -> dict[str, Any]: ...
    def evacuate(self, req: EvacuationRequest) -> dict[str, Any]: ...
    def get_plan(self, plan_id: str) -> dict[str, Any]: ...
    def apply(self, plan_id: str, approve: bool) -> dict[str, Any]: ...


def _error(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    body: dict[str, Any] = {"error": code, "message": message, "status": status}
    if details is not None:
        body["details"] = details
    return JSONResponse(body, status_code=status)


def _guard(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except NoFeasibleNode as exc:
        return _error(409, "no_feasible_node", str(exc), {"total_nodes": exc.total_nodes, "rejections": exc.rejections})
    except NoFeasiblePlan as exc:
        return _error(409, str(exc.details.get("error", "no_feasible_plan")), str(exc), exc.details)
    except InvalidPlacementRequest as exc:
        return _error(422, "invalid_input", str(exc))
    except PlanNotFound as exc:
        return _error(404, "not_found", f"unknown plan {exc.args[0]!r}")
    except ApprovalRequired as exc:
        return _error(403, "approval_required", str(exc))


def make_plan_router(service: PlanApi) -> APIRouter:
    """Router over an injected plan service (``PlanService`` or a proxy to the optimiser actor)."""
    router = APIRouter(prefix="/placement", tags=["placement"])
    conflict = {409: {"description": "constraints or capacity leave no feasible plan (details name them)"},
                422: {"description": "invalid request"}}

    @router.post("/plan", response_model=PlanOut, responses=conflict)
    def plan(req: PlanRequest) -> Any:
        return _guard(lambda: service.plan(req))

    @router.post("/evacuations", response_model=PlanOut, responses=conflict)
    def evacuations(req: EvacuationRequest) -> Any:
        return _guard(lambda: service.evacuate(req))

    @router.get("/plans/{plan_id}", response_model=PlanOut, responses={404: {"description": "unknown plan"}})
    def get_plan(plan_id: str) -> Any:
        return _guard(lambda: service.get_plan(plan_id))

    @router.post("/plans/{plan_id}/apply", response_model=ApplyOut,
                 responses={403: {"description": "not approved"}, 404: {"description": "unknown plan"}})
    def apply(plan_id: str, req: ApplyRequest) -> Any:
        return _guard(lambda: service.apply(plan_id, req.approve))

    return router

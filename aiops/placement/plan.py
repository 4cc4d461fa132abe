"""Batch placement plans and approved application over one fleet (plain Python, no Ray, no HTTP).

``PlanService`` reads a ``FleetSnapshot`` from an injected provider, runs
``aiops.placement.optimise.nsga`` through an injected optimiser (time-boxed) and applies through an
injected control plane (``SimulatedControlPlane`` on the embedded fleet).

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
from typing import Any, Callable, Sequence

import numpy as np

from aiops.placement.errors import ApprovalRequired, ControlPlaneError, InvalidPlacementRequest, NoFeasiblePlan, PlanNotFound
from aiops.placement.evacuation import EvacuationQuery, Evacuations
from aiops.placement.inventory import ControlPlane, FleetSnapshot, Inventory, VMRecord
from aiops.placement.optimise.constraints import PlacementConstraints, VMRequest
from aiops.placement.optimise.nsga import OBJECTIVES, PlacementProblem, PlanResult, optimise_batch, prune_migrations
from aiops.placement.plan_problem import DIMENSIONS, PlanBatch, node_matrices, record_request, static_mask

__all__ = ["PlanVm", "PlanQuery", "EvacuationQuery", "PlanService"]


@dataclass(frozen=True)
class PlanVm:
    """A new VM of a batch, with its own constraints (None = the batch's)."""

    request: VMRequest
    constraints: PlacementConstraints | None = None


@dataclass(frozen=True)
class PlanQuery:
    """A batch to plan: new VMs, placed VMs (or hosts) that may move, and the optimiser's settings."""

    vms: tuple[PlanVm, ...] = ()
    rebalance_vm_ids: tuple[str, ...] = ()
    rebalance_hosts: tuple[str, ...] = ()
    constraints: PlacementConstraints = PlacementConstraints()
    anti_affinity_groups: tuple[tuple[str, ...], ...] = ()
    objectives: tuple[str, ...] = ()
    time_limit_s: float = 3.0
    time_horizon: float = 24.0
    seed: int = 0


class PlanService(Evacuations):
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
    def plan(self, req: PlanQuery) -> dict[str, Any]:
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

    def _batch(self, req: PlanQuery, snap: FleetSnapshot) -> PlanBatch:
        ids, reqs, cons, cur, recs = [], [], [], [], []
        default = req.constraints
        for k, v in enumerate(req.vms):
            vid = v.request.vm_id or f"vm-new-{uuid.uuid4().hex[:8]}-{k}"
            if vid in snap.vms or vid in ids:
                raise InvalidPlacementRequest(f"vm_id {vid!r} exists already")
            d = v.request
            ids.append(vid)
            reqs.append(replace(d, vm_id=vid))
            cons.append(v.constraints if v.constraints is not None else default)
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
            reqs.append(record_request(rec))
            cons.append(default)
            cur.append(rec.host_id)
            recs.append(rec)
        return PlanBatch(ids, reqs, cons, cur, recs)

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

    def get_plan(self, plan_id: str) -> dict[str, Any]:
        with self._lock:
            plan = self._plans.get(plan_id)
        if plan is None:
            raise PlanNotFound(plan_id)
        return plan

    def list_plans(self, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Summaries of the stored plans, newest first (a plan's body can be large: fetch it by id)."""
        with self._lock:
            plans = [p for p in reversed(self._plans.values()) if status is None or p["status"] == status][:max(limit, 0)]
            return [plan_summary(p) for p in plans]

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


def plan_summary(plan: dict[str, Any]) -> dict[str, Any]:
    """What a listing shows of a stored plan: its id, kind, status, size and when it was applied."""
    applied = plan.get("applied")
    return {"plan_id": plan["plan_id"], "kind": plan["kind"], "status": plan["status"], "created": plan["created"],
            "requires_approval": plan["requires_approval"], "hosts": list(plan.get("hosts", [])),
            "actions": len(plan["actions"]), "stranded": len(plan.get("stranded", [])),
            "complete": bool(plan.get("complete", True)), "applied_at": applied["applied_at"] if applied else None}

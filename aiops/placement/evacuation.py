"""Host evacuations: move every VM off hosts at risk, each VM only where its failure exposure drops.

The drained host counts as failing; residents of the candidate nodes may be moved on once to
make room (ejection chains) and move first, justified by the evacuee they make room for.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from aiops.placement.errors import InvalidPlacementRequest, NoFeasiblePlan
from aiops.placement.inventory import FleetSnapshot, VMRecord
from aiops.placement.optimise.constraints import PlacementConstraints
from aiops.placement.optimise.drain import evacuation_plan
from aiops.placement.optimise.nsga import PlacementProblem, PlanResult
from aiops.placement.plan_problem import DIMENSIONS, PlanBatch, ProblemBuilder, record_request, static_mask

__all__ = ["EvacuationQuery", "Evacuations"]


@dataclass(frozen=True)
class EvacuationQuery:
    """Which hosts to drain (default: those at risk) and the constraints every move must meet."""

    host_ids: tuple[str, ...] = ()
    threshold: float | None = None
    constraints: PlacementConstraints = PlacementConstraints()
    avoid_risk_above: float | None = None
    time_horizon: float = 24.0


class Evacuations(ProblemBuilder):
    """Evacuation planning (a mixin of ``PlanService``; reads ``snapshot_provider`` and ``risk_threshold``)."""

    def at_risk(self, snap: FleetSnapshot, threshold: float | None) -> list[str]:
        t = self.risk_threshold if threshold is None else threshold
        return sorted(h for h, p in snap.failure.items() if p >= t and h in snap.hosts)

    def evacuate(self, req: EvacuationQuery) -> dict[str, Any]:
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
        cons = req.constraints
        evacuees = [v for v in snap.vms.values() if v.host_id in set(hosts)]
        if not evacuees:
            raise NoFeasiblePlan(f"nothing to evacuate: no VM runs on {', '.join(hosts)}",
                                 {"hosts": hosts, "error": "nothing_to_evacuate"})
        host_idx = [inv.node_index(h) for h in hosts]
        # allowed masks depend on the tenant (and the request's constraints) only: cache per tenant
        cache: dict[tuple[str, bool], tuple[np.ndarray, dict[str, int]]] = {}

        def mask_for(v: VMRecord, evac: bool) -> tuple[np.ndarray, dict[str, int]]:
            key = (v.tenant, evac)
            if key not in cache:
                cache[key] = static_mask(inv, record_request(v), cons if evac else PlacementConstraints(), req.time_horizon)
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
        batch = PlanBatch([v.vm_id for v in evacuees], [record_request(v) for v in evacuees], [cons] * len(evacuees),
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
        actions = self._evacuation_actions(prob, x, start, risk_before, {pos[h] for h in hosts})
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

    @staticmethod
    def _evacuation_actions(prob: PlacementProblem, x: np.ndarray, start: np.ndarray, risk_before: np.ndarray,
                            drained: set[int]) -> list[dict[str, Any]]:
        """One migrate action per moved VM with its risk change; residents moved on to make room go first."""
        actions = []
        for i in np.flatnonzero(x != start):
            src, dst = int(start[i]), int(x[i])
            before, after = float(prob.risk[src]), float(prob.risk[dst])
            actions.append({"op": "migrate", "vm_id": prob.vm_ids[i], "from": prob.node_ids[src], "to": prob.node_ids[dst],
                            "demand": dict(zip(DIMENSIONS, prob.demand[i].tolist())),
                            "risk_before": round(before, 6), "risk_after": round(after, 6),
                            "predicted_risk_target": round(float(risk_before[dst]), 6),
                            "gain": round(before - after, 6), "evacuee": bool(src in drained)})
        # a resident moved on to make room is justified by the evacuee it makes room for; it moves first
        ev_gains = [a["gain"] for a in actions if a["evacuee"]]
        for a in actions:
            if not a["evacuee"]:
                a["gain"] = round(min(ev_gains, default=0.0), 6)
                a["reason"] = "makes room for a VM leaving an at-risk host"
        actions.sort(key=lambda a: a["evacuee"])
        return actions

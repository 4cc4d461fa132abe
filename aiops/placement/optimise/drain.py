"""Draining one host: every VM on it to the allowed node with the lowest failure risk.

Largest VMs first; ties broken by tenant locality and then the tightest fit. Residents of a
candidate node may be moved on once to make room (ejection chains).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from aiops.placement.optimise.nsga import PlacementProblem, load_ratio, plan_end_state

__all__ = ["evacuation_plan"]


def evacuation_plan(prob: PlacementProblem, host: int, avoid_risk_above: float | None = None) -> dict[str, Any]:
    """Move every VM off ``host`` (VMs with ``current == host``), respecting capacity and constraints.

    Other VMs stay put.  Targets are chosen largest VM first by a score that prefers low risk,
    tenant locality and a tight fit; if a VM fits nowhere, one resident of a target node is moved
    on to a third node to make room (a two-step ejection chain).  Returns the dry-run end state
    with ``complete`` False and the stranded VMs listed when even that fails.
    """
    x = prob.current.copy()
    if (x < 0).any():
        raise ValueError("evacuation needs the current node of every VM in the problem")
    allowed = prob.allowed.copy()
    allowed[:, host] = False
    if avoid_risk_above is not None:
        allowed[:, prob.risk > avoid_risk_above] = False
    evac = np.flatnonzero(x == host)
    norm = load_ratio(prob.demand, prob.capacity.max(axis=0)).sum(axis=1)
    L = prob.loads(x)
    L[host] -= prob.demand[evac].sum(axis=0)
    x[evac] = -1
    pi, pj = prob.tenant_pairs
    stranded: list[int] = []

    def fits(i: int, j: int) -> bool:
        return bool(allowed[i, j]) and bool((L[j] + prob.demand[i] <= prob.capacity[j] + 1e-9).all()) and (
            prob.feasible_dynamic is None or bool(prob.feasible_dynamic(i, j, x)))

    def score(i: int, j: int) -> float:
        mates = np.concatenate([pj[pi == i], pi[pj == i]])
        mates = mates[x[mates] >= 0]
        dist = prob.distance[j, x[mates]].mean() if mates.size else 0.0
        slack = load_ratio(prob.capacity[j] - L[j] - prob.demand[i], prob.capacity[j]).mean()
        return 4.0 * prob.risk[j] + 0.5 * dist + slack

    for i in evac[np.argsort(-norm[evac], kind="stable")]:
        i = int(i)
        cand = [j for j in range(prob.m) if fits(i, j)]
        if cand:
            j = min(cand, key=lambda j: score(i, j))
            x[i], L[j] = j, L[j] + prob.demand[i]
            continue
        moved = False
        for j in np.argsort([score(i, j) for j in range(prob.m)]):  # ejection chain: make room on j
            j = int(j)
            if not allowed[i, j]:
                continue
            for r in np.flatnonzero(x == j):
                r = int(r)
                if x[r] == j and (L[j] - prob.demand[r] + prob.demand[i] <= prob.capacity[j] + 1e-9).all():
                    L[j] -= prob.demand[r]
                    x[r] = -1
                    others = [k for k in range(prob.m) if k != j and fits(r, k)]
                    if others and fits(i, j):
                        k = min(others, key=lambda k: score(r, k))
                        x[r], L[k] = k, L[k] + prob.demand[r]
                        x[i], L[j] = j, L[j] + prob.demand[i]
                        moved = True
                        break
                    x[r], L[j] = j, L[j] + prob.demand[r]
            if moved:
                break
        if not moved:
            stranded.append(i)
    if stranded:
        x[stranded] = host  # left in place; the plan says so
        L[host] += prob.demand[stranded].sum(axis=0)
    state = plan_end_state(prob, x)
    state.update(host=prob.node_ids[host] if prob.node_ids else host, complete=not stranded,
                 stranded=[prob.vm_ids[i] if prob.vm_ids else i for i in stranded], assignment=x.tolist(),
                 host_utilisation_after=load_ratio(L[host], prob.capacity[host]).round(4).tolist())
    return state

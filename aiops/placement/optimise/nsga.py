"""Batch placement, rebalancing and host evacuation on heterogeneous nodes.

* :func:`optimise_batch` runs NSGA-II (pymoo) with an integer encoding (gene ``i`` = node index
  of VM ``i``), a capacity-and-constraint repair applied to every offspring, and an initial
  population seeded with first-fit / best-fit decreasing, dot-product and (when rebalancing)
  the current placement, so the front always contains solutions at least as good as those
  heuristics.  Five objectives, all minimised: node cost (or count), load imbalance, failure
  risk, tenant network distance and migrations.  It returns the Pareto front and a knee point
  with a plain-language explanation.
* :func:`evacuation_plan` empties one host (e.g. one with a high predicted failure risk) and
  returns a dry-run end state; nothing is applied here.

Constraints beyond capacity are injected as ``feasible(vm_index, node_index) -> bool`` (or
``feasible(vm_index, node_index, assignment)`` when they depend on where the other VMs are,
e.g. anti-affinity), so the constraint module can be plugged in without this file knowing it.
Plain Python + numpy + pymoo; no Ray.
"""
from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.core.mutation import Mutation
from pymoo.core.problem import Problem
from pymoo.core.repair import Repair
from pymoo.core.termination import Termination
from pymoo.operators.crossover.ux import UX
from pymoo.optimize import minimize

OBJECTIVES = ("cost", "imbalance", "risk", "locality", "migrations")
Feasible = Callable[..., bool]


@dataclass(frozen=True)
class NodeSpec:
    id: str
    capacity: Sequence[float]
    cost: float = 1.0  # per hour; 1.0 everywhere makes the objective 'nodes used'
    risk: float = 0.0  # predicted failure probability over the planning horizon
    zone: str = ""
    rack: str = ""


@dataclass(frozen=True)
class VmSpec:
    id: str
    demand: Sequence[float]
    tenant: str = ""
    current: str | None = None  # node id the VM runs on now (rebalancing); None = new VM


@dataclass
class PlacementProblem:
    """Arrays for one batch: VMs to (re)place onto nodes that may already carry other load."""

    demand: np.ndarray  # (n, d)
    capacity: np.ndarray  # (m, d)
    base_load: np.ndarray  # (m, d) load of VMs outside the batch
    cost: np.ndarray  # (m,)
    risk: np.ndarray  # (m,)
    distance: np.ndarray  # (m, m) network distance between nodes
    tenant_pairs: tuple[np.ndarray, np.ndarray]  # VM index pairs sharing a tenant
    current: np.ndarray  # (n,) node index now, -1 for new VMs
    allowed: np.ndarray  # (n, m) static constraint mask
    vm_ids: list[str] = field(default_factory=list)
    node_ids: list[str] = field(default_factory=list)
    feasible_dynamic: Callable[[int, int, np.ndarray], bool] | None = None

    @property
    def n(self) -> int:
        return int(self.demand.shape[0])

    @property
    def m(self) -> int:
        return int(self.capacity.shape[0])

    @classmethod
    def from_specs(cls, vms: Sequence[VmSpec], nodes: Sequence[NodeSpec], base_load: np.ndarray | None = None,
                   feasible: Feasible | None = None, max_pairs_per_tenant: int = 2000, seed: int = 0) -> "PlacementProblem":
        """Build arrays from specs; ``feasible`` with two arguments is evaluated once into a mask."""
        node_index = {nd.id: j for j, nd in enumerate(nodes)}
        demand = np.asarray([v.demand for v in vms], dtype=np.float64).reshape(len(vms), -1)
        capacity = np.asarray([nd.capacity for nd in nodes], dtype=np.float64)
        if demand.shape[1] != capacity.shape[1]:
            raise ValueError(f"VMs have {demand.shape[1]} resource dimensions, nodes {capacity.shape[1]}")
        m = len(nodes)
        zone = np.asarray([nd.zone for nd in nodes])
        rack = np.asarray([f"{nd.zone}/{nd.rack}" for nd in nodes])
        # 0 same node, 1 same rack, 2 same zone, 4 across zones (relative hop costs)
        distance = np.where(zone[:, None] == zone[None, :], np.where(rack[:, None] == rack[None, :], 1.0, 2.0), 4.0)
        np.fill_diagonal(distance, 0.0)
        rng = np.random.default_rng(seed)
        pi, pj = [], []
        tenants: dict[str, list[int]] = {}
        for i, v in enumerate(vms):
            if v.tenant:
                tenants.setdefault(v.tenant, []).append(i)
        for members in tenants.values():
            if len(members) < 2:
                continue
            iu, ju = np.triu_indices(len(members), 1)
            if iu.size > max_pairs_per_tenant:
                keep = rng.choice(iu.size, max_pairs_per_tenant, replace=False)
                iu, ju = iu[keep], ju[keep]
            arr = np.asarray(members)
            pi.append(arr[iu])
            pj.append(arr[ju])
        pairs = (np.concatenate(pi) if pi else np.empty(0, np.int64), np.concatenate(pj) if pj else np.empty(0, np.int64))
        current = np.asarray([node_index.get(v.current, -1) if v.current else -1 for v in vms], dtype=np.int64)
        allowed = np.ones((len(vms), m), dtype=bool)
        dynamic = None
        if feasible is not None:
            if len(inspect.signature(feasible).parameters) >= 3:
                dynamic = feasible
            else:
                allowed = np.array([[bool(feasible(i, j)) for j in range(m)] for i in range(len(vms))], dtype=bool).reshape(len(vms), m)
        return cls(demand=demand, capacity=capacity, base_load=np.zeros_like(capacity) if base_load is None else np.asarray(base_load, np.float64),
                   cost=np.asarray([nd.cost for nd in nodes], np.float64), risk=np.asarray([nd.risk for nd in nodes], np.float64),
                   distance=distance, tenant_pairs=pairs, current=current, allowed=allowed,
                   vm_ids=[v.id for v in vms], node_ids=[nd.id for nd in nodes], feasible_dynamic=dynamic)

    # -- evaluation ------------------------------------------------------------------------
    def loads(self, x: np.ndarray) -> np.ndarray:
        L = self.base_load.copy()
        np.add.at(L, x, self.demand)
        return L

    def objectives(self, x: np.ndarray) -> np.ndarray:
        """The five minimised objectives for one assignment (see OBJECTIVES)."""
        L = self.loads(x)
        on = (L > 0).any(axis=1)
        has = self.capacity > 0
        util = (load_ratio(L, self.capacity) * has).sum(axis=1) / np.maximum(has.sum(axis=1), 1)
        cost = float(self.cost[on].sum())
        imbalance = float(util[on].std()) if on.any() else 0.0
        size = load_ratio(self.demand, self.capacity.max(axis=0)).sum(axis=1)
        risk = float((self.risk[x] * size).sum())
        pi, pj = self.tenant_pairs
        locality = float(self.distance[x[pi], x[pj]].sum()) / max(1, pi.size)
        migrations = float(((self.current >= 0) & (x != self.current)).sum())
        return np.array([cost, imbalance, risk, locality, migrations])

    def violations(self, x: np.ndarray) -> float:
        """Total capacity overflow (normalised) plus disallowed placements; 0 = feasible."""
        over = load_ratio(np.maximum(self.loads(x) - self.capacity, 0), self.capacity)
        bad = (~self.allowed[np.arange(self.n), x]).sum()
        if self.feasible_dynamic is not None:
            bad += sum(not self.feasible_dynamic(i, int(x[i]), x) for i in range(self.n))
        return float(over.sum() + bad)

    def can_host(self, i: int, j: int, L: np.ndarray, x: np.ndarray) -> bool:
        if not self.allowed[i, j] or (L[j] + self.demand[i] > self.capacity[j] + 1e-9).any():
            return False
        return self.feasible_dynamic is None or bool(self.feasible_dynamic(i, j, x))


def load_ratio(num: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """num / cap where a zero capacity (e.g. no GPU on a node) gives 0 if unused, a large overflow if used."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(cap > 0, num / np.where(cap > 0, cap, 1.0), np.where(num > 1e-12, 1e3, 0.0))


# -- constructive seeds (heterogeneous nodes) ----------------------------------------------
def greedy_assign(prob: PlacementProblem, rule: str = "first", order: np.ndarray | None = None, keep: np.ndarray | None = None) -> np.ndarray:
    """FFD ('first'), BFD ('best'), dot-product ('dot') or spread ('least') onto heterogeneous nodes.

    ``keep`` is a preferred node per VM (e.g. its current node or its gene): kept when it still
    fits, which is how the repair operator preserves as much of an individual as possible.
    Nodes already in use are preferred over opening a new one, cheapest and safest first.
    """
    norm = load_ratio(prob.demand, prob.capacity.max(axis=0))
    if order is None:
        order = np.argsort(-norm.sum(axis=1), kind="stable")
    x = np.full(prob.n, -1, dtype=np.int64)
    L = prob.base_load.copy()
    open_rank = prob.cost * (1.0 + prob.risk) + 1e-6 * np.arange(prob.m)
    for i in order:
        i = int(i)
        if keep is not None and keep[i] >= 0 and prob.can_host(i, int(keep[i]), L, x):
            j = int(keep[i])
        else:
            fit = prob.allowed[i] & (L + prob.demand[i] <= prob.capacity + 1e-9).all(axis=1)
            cand = np.flatnonzero(fit)
            if prob.feasible_dynamic is not None and cand.size:
                cand = np.asarray([j for j in cand if prob.feasible_dynamic(i, int(j), x)], dtype=np.int64)
            if cand.size == 0:  # nothing fits: least-overflow node, counted as a violation
                over = np.maximum(L + prob.demand[i] - prob.capacity, 0).sum(axis=1) + (~prob.allowed[i]) * 1e6
                j = int(np.argmin(over))
            else:
                used = (L[cand] > 0).any(axis=1)
                pool = cand[used] if used.any() and rule != "least" else cand
                residual = load_ratio(prob.capacity[pool] - L[pool] - prob.demand[i], prob.capacity[pool])
                if rule == "first":
                    j = int(pool[np.argmin(open_rank[pool])]) if not used.any() else int(pool[0])
                elif rule == "best":
                    j = int(pool[np.argmin(residual.sum(axis=1) + (0 if used.any() else open_rank[pool]))])
                elif rule == "dot":
                    j = int(pool[np.argmax((residual + load_ratio(prob.demand[i], prob.capacity[pool])) @ norm[i] - (0 if used.any() else open_rank[pool]))])
                elif rule == "least":
                    j = int(pool[np.argmax(residual.mean(axis=1))])
                else:
                    raise ValueError(f"unknown rule {rule!r}")
        x[i] = j
        L[j] += prob.demand[i]
    return x


class _CapacityRepair(Repair):
    """Keep each gene where it fits; move the rest with best fit (largest VMs first)."""

    def _do(self, problem, X, **kwargs):
        prob: PlacementProblem = problem.prob
        out = np.empty_like(X)
        for r in range(X.shape[0]):
            order = np.argsort(-load_ratio(prob.demand, prob.capacity.max(axis=0)).sum(axis=1) + problem.rng.random(prob.n) * 1e-3)
            out[r] = greedy_assign(prob, "best", order=order, keep=X[r].astype(np.int64))
        return out


class _ReassignMutation(Mutation):
    """Move a few VMs to a random allowed node (the repair then restores capacity)."""

    def _do(self, problem, X, random_state=None, **kwargs):
        prob: PlacementProblem = problem.prob
        rng = random_state or np.random.default_rng()
        X = X.copy()
        rate = min(1.0, 2.0 / max(prob.n, 1))  # about two VMs per child
        for r in range(X.shape[0]):
            for i in np.flatnonzero(rng.random(prob.n) < rate):
                allowed = np.flatnonzero(prob.allowed[i])
                if allowed.size:
                    X[r, i] = allowed[rng.integers(allowed.size)]
        return X


class _Problem(Problem):
    def __init__(self, prob: PlacementProblem, objectives: Sequence[str], seed: int):
        self.prob, self.obj_idx, self.rng = prob, [OBJECTIVES.index(o) for o in objectives], np.random.default_rng(seed)
        super().__init__(n_var=prob.n, n_obj=len(objectives), n_ieq_constr=1, xl=0, xu=prob.m - 1, vtype=int)

    def _evaluate(self, X, out, *args, **kwargs):
        X = X.astype(np.int64)
        out["F"] = np.array([self.prob.objectives(x)[self.obj_idx] for x in X])
        out["G"] = np.array([[self.prob.violations(x)] for x in X])


class _Deadline(Termination):
    def __init__(self, seconds: float, max_gen: int):
        super().__init__()
        self.t0, self.seconds, self.max_gen = time.perf_counter(), seconds, max_gen

    def _update(self, algorithm):
        return max((time.perf_counter() - self.t0) / self.seconds, algorithm.n_gen / self.max_gen)


@dataclass
class PlanResult:
    """Pareto front (assignments and objective values), the knee choice and why."""

    objectives: tuple[str, ...]
    front_x: np.ndarray  # (k, n) node index per VM
    front_f: np.ndarray  # (k, n_obj)
    knee: int
    explanation: str
    seeds: dict[str, np.ndarray]
    generations: int
    seconds: float

    @property
    def choice(self) -> np.ndarray:
        return self.front_x[self.knee]


def knee_point(F: np.ndarray) -> int:
    """Front member closest to the ideal point after min-max normalisation of each objective."""
    lo, hi = F.min(axis=0), F.max(axis=0)
    Z = (F - lo) / np.where(hi > lo, hi - lo, 1.0)
    return int(np.argmin(np.sqrt((Z ** 2).sum(axis=1))))


def _explain(objectives: Sequence[str], F: np.ndarray, k: int, seeds_f: dict[str, np.ndarray]) -> str:
    parts = [f"{o}={F[k, i]:.3g} (front range {F[:, i].min():.3g}..{F[:, i].max():.3g})" for i, o in enumerate(objectives)]
    txt = f"Knee of {len(F)} Pareto-optimal plans, closest to the ideal point after normalising each objective: " + ", ".join(parts) + "."
    if seeds_f:
        name, sf = min(seeds_f.items(), key=lambda kv: tuple(kv[1]))
        better = [o for i, o in enumerate(objectives) if F[k, i] < sf[i] - 1e-9]
        worse = [o for i, o in enumerate(objectives) if F[k, i] > sf[i] + 1e-9]
        txt += f" Versus the {name} heuristic it is better on {', '.join(better) or 'nothing'} and worse on {', '.join(worse) or 'nothing'}."
    return txt


def optimise_batch(prob: PlacementProblem, objectives: Sequence[str] = OBJECTIVES, time_limit_s: float = 5.0,
                   pop_size: int = 60, max_gen: int = 500, seed: int = 0) -> PlanResult:
    """NSGA-II over integer assignments; every returned front member is feasible (or the front is empty)."""
    t0 = time.perf_counter()
    objectives = tuple(objectives)
    problem = _Problem(prob, objectives, seed)
    seeds = {r: greedy_assign(prob, r) for r in ("first", "best", "dot", "least")}
    if (prob.current >= 0).any():
        seeds["current"] = greedy_assign(prob, "best", keep=np.where(prob.current >= 0, prob.current, -1))
    rng = np.random.default_rng(seed)
    X0 = list(seeds.values())
    while len(X0) < pop_size:  # random orders of best-fit fill the rest of the first generation
        X0.append(greedy_assign(prob, "best", order=rng.permutation(prob.n)))
    algorithm = NSGA2(pop_size=pop_size, sampling=np.asarray(X0[:pop_size]), crossover=UX(), mutation=_ReassignMutation(),
                      repair=_CapacityRepair(), eliminate_duplicates=True)
    res = minimize(problem, algorithm, _Deadline(max(0.05, time_limit_s - (time.perf_counter() - t0)), max_gen), seed=seed, verbose=False)
    pop = res.pop
    X, F, G = pop.get("X").astype(np.int64), pop.get("F"), pop.get("G")[:, 0]
    seeds_f = {k: prob.objectives(v)[problem.obj_idx] for k, v in seeds.items() if prob.violations(v) == 0}
    feas = G <= 1e-9
    X, F = X[feas], F[feas]
    # add feasible seeds so the front is never worse than the heuristics, then keep the non-dominated set
    for k, v in seeds.items():
        if k in seeds_f:
            X, F = np.vstack([X, v[None]]), np.vstack([F, seeds_f[k][None]])
    if len(F) == 0:
        return PlanResult(objectives, np.empty((0, prob.n), np.int64), np.empty((0, len(objectives))), -1,
                          "no feasible plan: capacity or constraints cannot be met", seeds, int(res.algorithm.n_gen), time.perf_counter() - t0)
    _, uniq = np.unique(X, axis=0, return_index=True)
    X, F = X[uniq], F[uniq]
    nd = np.array([not ((F <= F[i]).all(axis=1) & (F < F[i]).any(axis=1)).any() for i in range(len(F))])
    X, F = X[nd], F[nd]
    k = knee_point(F)
    return PlanResult(objectives, X, F, k, _explain(objectives, F, k, seeds_f), seeds, int(res.algorithm.n_gen), time.perf_counter() - t0)


def prune_migrations(prob: PlacementProblem, x: np.ndarray, result: PlanResult) -> np.ndarray:
    """Undo every migration that does not pay for itself by the plan's own objectives.

    Each moved VM is tried back on its current node (if it still fits and is allowed); the
    revert is kept when the sum of objectives, normalised by the front's ranges, does not get
    worse.  So a VM is only moved where the plan is better for it.
    """
    idx = [OBJECTIVES.index(o) for o in result.objectives]
    lo, hi = result.front_f.min(axis=0), result.front_f.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)

    def score(y: np.ndarray) -> float:
        return float(((prob.objectives(y)[idx] - lo) / span).sum())

    x = x.copy()
    best = score(x)
    for i in np.flatnonzero((prob.current >= 0) & (x != prob.current)):
        y = x.copy()
        y[i] = prob.current[i]
        if prob.violations(y) > 0:
            continue
        sc = score(y)
        if sc <= best + 1e-12:
            x, best = y, sc
    return x


def plan_end_state(prob: PlacementProblem, x: np.ndarray) -> dict[str, Any]:
    """Dry-run summary of an assignment: utilisation per node, constraint checks, migrations."""
    L = prob.loads(x)
    util = load_ratio(L, prob.capacity)
    checks = prob.n * (1 + (prob.feasible_dynamic is not None))
    moves = [(prob.vm_ids[i] if prob.vm_ids else i, prob.node_ids[prob.current[i]] if prob.node_ids else int(prob.current[i]),
              prob.node_ids[x[i]] if prob.node_ids else int(x[i])) for i in np.flatnonzero((prob.current >= 0) & (x != prob.current))]
    return {
        "utilisation": {(prob.node_ids[j] if prob.node_ids else j): util[j].round(4).tolist() for j in range(prob.m)},
        "nodes_used": int((L > 0).any(axis=1).sum()),
        "constraints_checked": int(checks),
        "violations": prob.violations(x),
        "migrations": len(moves),
        "moves": [{"vm": a, "from": b, "to": c} for a, b, c in moves],
        "objectives": dict(zip(OBJECTIVES, prob.objectives(x).round(6).tolist())),
    }

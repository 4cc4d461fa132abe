"""Single-VM placement recommendations: filter, sample, score, rank, explain.

``PlacementService`` is the object the HTTP router (and later a Ray actor) calls. It
reads the fleet through an injected ``inventory_provider`` so the control plane and
feature store can feed it, and learns weights through an injected feedback store.
"""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from aiops.placement.optimise.constraints import (InvalidPlacementRequest, NoFeasibleNode, PlacementConstraints,
                                         VMRequest, evaluate_constraints, sample_candidates)
from aiops.placement.factors.catalog import CATEGORIES, IMPORTANCE_BOUNDS, FactorCatalog, FactorEngine
from aiops.placement.factors.calc_cost import hourly_cost_breakdown
from aiops.placement.factors.registry import FactorContext
from aiops.placement.feedback import (FeedbackLearner, FeedbackOutcome, FeedbackRecord, FeedbackStore,
                                      InMemoryFeedbackStore, LearnerConfig)
from aiops.placement.inventory import Inventory
from aiops.placement.factors import scoring

OBJECTIVE_BOOST = 2.0


@dataclass(frozen=True)
class NodeRecommendation:
    node_id: str
    rank: int
    placement_score: float
    confidence: float
    factor_scores: dict[str, float]
    category_scores: dict[str, float]
    pros: list[str]
    cons: list[str]
    estimated_cost: dict[str, Any]
    performance_estimate: dict[str, float | None]
    zone: str
    rack: int


@dataclass(frozen=True)
class RecommendationResult:
    placement_id: str
    recommendations: list[NodeRecommendation]
    total_nodes: int
    feasible_nodes: int
    nodes_scored: int
    sampling: dict[str, Any]
    rejections: dict[str, int]
    factors_considered: int
    analysis_time: float            # seconds
    weights_version: int
    time_horizon_hours: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RecommendationQuery:
    vm: VMRequest
    constraints: PlacementConstraints = field(default_factory=PlacementConstraints)
    objectives: Mapping[str, float] | Sequence[str] = ()
    consider_cost: bool = True
    time_horizon_h: float = 24.0
    max_recommendations: int = 5
    percentage_of_nodes_to_score: float | None = None


class PlacementService:
    """Recommendation, factor listing and feedback for one fleet."""

    def __init__(self, inventory_provider: Callable[[], Inventory], catalog: FactorCatalog,
                 store: FeedbackStore | None = None, learner_config: LearnerConfig | None = None,
                 default_percentage: float | None = None):
        self.inventory_provider = inventory_provider
        self.catalog = catalog  # Settings.placement.factors: passed in, never read here
        self.engine = FactorEngine(self.catalog)
        self.store = store or InMemoryFeedbackStore()
        bounds = {f.id: IMPORTANCE_BOUNDS[f.importance] for f in self.catalog.factors}
        self.learner = FeedbackLearner({f.id: f.weight for f in self.catalog.factors}, bounds, self.store, learner_config)
        self.default_percentage = default_percentage
        self._start = 0
        self._lock = threading.Lock()
        self._fid = {fid: j for j, fid in enumerate(self.engine.ids)}

    # ---- recommendations -----------------------------------------------------
    def category_multipliers(self, objectives: Mapping[str, float] | Sequence[str], consider_cost: bool) -> dict[str, float]:
        """Objectives raise the categories they name; consider_cost=False drops cost."""
        if isinstance(objectives, Mapping):
            mult = {str(k): float(v) for k, v in objectives.items()}
        else:
            mult = {str(k): OBJECTIVE_BOOST for k in objectives}
        unknown = set(mult) - set(CATEGORIES)
        if unknown:
            raise InvalidPlacementRequest(f"unknown objectives {sorted(unknown)}; use categories: {', '.join(CATEGORIES)}")
        if any(v < 0 for v in mult.values()):
            raise InvalidPlacementRequest("objective multipliers must be >= 0")
        if not consider_cost:
            mult["cost"] = 0.0
        return mult

    def recommend(self, q: RecommendationQuery) -> RecommendationResult:
        """Rank feasible nodes for one VM; NoFeasibleNode / InvalidPlacementRequest on failure."""
        t0 = time.perf_counter()
        if q.time_horizon_h <= 0:
            raise InvalidPlacementRequest("time_horizon must be > 0 hours")
        inv = self.inventory_provider()
        mult = self.category_multipliers(q.objectives, q.consider_cost)
        version, learned = self.learner.current()
        weights = scoring.effective_weights(self.engine, learned, mult)
        cons = evaluate_constraints(inv, q.vm, q.constraints, q.time_horizon_h)
        if cons.n_feasible == 0:
            raise NoFeasibleNode(inv.n_nodes, cons.rejections)
        pct = q.percentage_of_nodes_to_score if q.percentage_of_nodes_to_score is not None else self.default_percentage
        with self._lock:
            sample = sample_candidates(cons.feasible, self._start % max(inv.n_nodes, 1), pct)
            self._start = sample.next_start
        idx = sample.candidates
        ctx = FactorContext(inv, q.vm, q.time_horizon_h)
        fm = self.engine.compute(ctx, idx)
        sc = scoring.score(self.engine, fm, weights)
        k = min(q.max_recommendations, idx.size)
        ranked = scoring.top_k(sc.scores, k + 1)
        conf = scoring.confidence(sc, ranked, self.engine.uncertainty(fm, ranked))[:k]
        ranked = ranked[:k]
        costs = hourly_cost_breakdown(inv, idx[ranked], q.vm)
        explainer = scoring.Explainer(self.engine, sc, ranked)
        recs = []
        for r, row in enumerate(ranked):
            recs.append(self._build(inv, q, idx, explainer, row, r, float(conf[r]),
                                    {c: float(v[r]) for c, v in costs.items()}))
        placement_id = uuid.uuid4().hex
        self.store.put_placement(placement_id, {
            "vm": asdict(q.vm), "weights_version": version, "ts": time.time(),
            "nodes": {rec.node_id: {"score": rec.placement_score, "factors": rec.factor_scores} for rec in recs}})
        elapsed = time.perf_counter() - t0
        return RecommendationResult(
            placement_id=placement_id, recommendations=recs, total_nodes=inv.n_nodes,
            feasible_nodes=cons.n_feasible, nodes_scored=int(idx.size),
            sampling={"percentage_of_nodes_to_score": round(sample.percentage, 3), "sample_size": sample.sample_size,
                      "nodes_evaluated": sample.nodes_evaluated, "start_index": int(sample.next_start)},
            rejections={k2: v for k2, v in cons.rejections.items()}, factors_considered=self.engine.n_factors,
            analysis_time=elapsed, weights_version=version, time_horizon_hours=q.time_horizon_h)

    def _build(self, inv: Inventory, q: RecommendationQuery, idx: np.ndarray, explainer: scoring.Explainer,
               row: int, rank: int, conf: float, cost: dict[str, float]) -> NodeRecommendation:
        node = int(idx[row])
        sc = explainer.sc
        pros, cons = explainer.explain(rank)
        xn = explainer.xn[:, rank]
        cats: dict[str, float] = {}
        for c in CATEGORIES:
            m = self.engine.categories == c
            if m.any():
                cats[c] = round(float(xn[m].mean()), 4)
        horizon = q.time_horizon_h
        return NodeRecommendation(
            node_id=str(inv.node_ids[node]), rank=rank + 1, placement_score=round(float(sc.scores[row]), 6),
            confidence=round(conf, 4),
            factor_scores={fid: round(float(v), 4) for fid, v in zip(self.engine.ids, xn)},
            category_scores=cats, pros=pros, cons=cons,
            estimated_cost={"currency": "USD", "hourly": round(cost["total"], 5), "horizon_hours": horizon,
                            "total": round(cost["total"] * horizon, 4),
                            "breakdown_hourly": {k: round(v, 5) for k, v in cost.items() if k != "total"},
                            "spot": bool(inv.node["spot"][node])},
            performance_estimate=self._performance(explainer.raw[:, rank], xn),
            zone=str(inv.zone_names[inv.node["zone"][node]]), rack=int(inv.node["rack"][node]))

    def _performance(self, raw: np.ndarray, xn: np.ndarray) -> dict[str, float | None]:
        def get(fid: str) -> float | None:
            j = self._fid.get(fid)
            return None if j is None or not np.isfinite(raw[j]) else round(float(raw[j]), 4)

        perf = self.engine.categories == "performance"
        return {
            "expected_cpu_p95_pct": get("expected_cpu_contention"),
            "expected_mem_p95_pct": get("expected_mem_pressure"),
            "disk_latency_p95_ms": get("disk_latency_p95"),
            "tenant_latency_ms": get("tenant_latency"),
            "user_latency_ms": get("user_latency"),
            "effective_core_speed_ghz": get("effective_core_speed"),
            "failure_probability": get("failure_risk"),
            "relative_performance": round(float(xn[perf].mean()), 4) if perf.any() else None,
        }

    # ---- factor catalog -------------------------------------------------------
    def factors(self) -> dict[str, Any]:
        """Categories and factors with current (learned) and catalog weights."""
        version, learned = self.learner.current()
        eff = scoring.effective_weights(self.engine, learned)
        factors = []
        for f in self.catalog.factors:
            j = self._fid[f.id]
            factors.append({
                "id": f.id, "name": f.name, "category": f.category, "weight": round(learned.get(f.id, f.weight), 6),
                "base_weight": f.weight, "effective_weight": round(float(eff[j]), 6), "importance": f.importance,
                "description": f.description, "scope": f.scope, "update_frequency": f.update_frequency,
                "direction": f.direction, "unit": f.unit, "calculator": f.calculator.name})
        cats = []
        for c, spec in self.catalog.categories.items():
            m = self.engine.categories == c
            cats.append({"name": c, "description": spec.description, "multiplier": spec.weight,
                         "factor_count": int(m.sum()), "weight_share": round(float(eff[m].sum()), 6)})
        return {"weights_version": version, "total_factors": len(factors), "categories": cats, "factors": factors,
                "drift_detected": self.learner.drift, "retraining_requests": len(self.store.retraining_requests())}

    # ---- feedback --------------------------------------------------------------
    def feedback(self, fb: FeedbackRecord) -> FeedbackOutcome:
        """Record an outcome; factor values come from the stored placement or are recomputed."""
        payload = self.store.get_placement(fb.placement_id)
        vec = None
        if payload and fb.node_id in payload.get("nodes", {}):
            vec = payload["nodes"][fb.node_id]["factors"]
        else:
            vec = self._factor_vector(fb)
        return self.learner.record(fb, vec)

    def _factor_vector(self, fb: FeedbackRecord) -> dict[str, float]:
        inv = self.inventory_provider()
        try:
            node = inv.node_index(fb.node_id)
        except KeyError:
            raise InvalidPlacementRequest(f"unknown node_id {fb.node_id!r}") from None
        vm = fb.vm
        try:
            req = VMRequest(tenant=str(vm.get("tenant", vm.get("tenant_id", ""))), cpu=float(vm.get("cpu", vm.get("cpu_cores", 1))),
                            mem_gb=float(vm.get("mem_gb", vm.get("memory_gb", 1))), disk_gb=float(vm.get("disk_gb", 0)),
                            gpus=float(vm.get("gpus", 0)))
        except (TypeError, ValueError) as exc:
            raise InvalidPlacementRequest(f"vm_specs not usable: {exc}") from None
        idx = np.arange(inv.n_nodes)
        fm = self.engine.compute(FactorContext(inv, req, 24.0), idx)
        w = scoring.effective_weights(self.engine)
        xn = scoring.score(self.engine, fm, w).normalised(np.array([node]))[:, 0]
        return {fid: float(v) for fid, v in zip(self.engine.ids, xn)}


def naive_scores(service: PlacementService, q: RecommendationQuery) -> tuple[np.ndarray, np.ndarray]:
    """Baseline: evaluate constraints and factors one node at a time in a Python loop.

    Same calculators and normalisation as ``recommend`` so results are identical; it
    exists to measure what vectorising over nodes buys. Returns (node indices, scores).
    """
    inv = service.inventory_provider()
    version, learned = service.learner.current()
    weights = scoring.effective_weights(service.engine, learned, service.category_multipliers(q.objectives, q.consider_cost))
    ctx = FactorContext(inv, q.vm, q.time_horizon_h)
    block = service.engine.static_block(ctx)   # fleet bounds, so scores match the fast path
    rows, keep = [], []
    for i in range(inv.n_nodes):
        one = np.array([i])
        if not _feasible_one(inv, q, i):
            continue
        vals = np.empty(service.engine.n_factors)
        for j, (fn, params) in enumerate(service.engine._calls):
            out = fn(ctx, one, **params)
            vals[j] = (out[0] if isinstance(out, tuple) else out)[0]
        rows.append(vals)
        keep.append(i)
    x = np.array(rows).T
    return np.array(keep), scoring.score_matrix(service.engine, block, x, weights)


def _feasible_one(inv: Inventory, q: RecommendationQuery, i: int) -> bool:
    n = inv.node
    vm = q.vm
    return bool(not n["cordoned"][i]
                and n["cpu_cores"][i] - n["cpu_alloc"][i] >= vm.cpu
                and n["mem_gb"][i] - n["mem_alloc"][i] >= vm.mem_gb
                and n["disk_gb"][i] - n["disk_alloc"][i] >= vm.disk_gb
                and n["nic_gbps"][i] - n["net_alloc_gbps"][i] >= vm.net_gbps
                and n["disk_iops_cap"][i] - n["iops_alloc"][i] >= vm.iops
                and n["vm_count"][i] + 1 <= n["vm_max"][i]
                and (vm.gpus <= 0 or n["gpus"][i] - n["gpu_alloc"][i] >= vm.gpus)
                and n["max_classification"][i] >= vm.data_classification
                and (n["dedicated_tenant"][i] < 0 or inv.tenant_names[n["dedicated_tenant"][i]] == vm.tenant)
                and not (q.constraints.avoid_maintenance and np.isfinite(n["maint_start"][i])
                         and n["maint_start"][i] < inv.now + q.time_horizon_h * 3600 and n["maint_end"][i] > inv.now))

"""Single-VM recommendations: ranking, explanations, confidence, objectives, infeasibility."""
from __future__ import annotations

import numpy as np
import pytest

from aiops.placement.optimise.constraints import NoFeasibleNode, PlacementConstraints, nodes_to_score
from aiops.placement.recommend import PlacementService, RecommendationQuery, naive_scores

from tests.unit.placement.recommend_fixtures import catalog, fleet, vm_request


def _service(inv=None) -> PlacementService:
    inv = inv if inv is not None else fleet()
    return PlacementService(lambda: inv, catalog=catalog())


def test_recommendation_carries_scores_explanations_and_counts() -> None:
    inv = fleet()
    svc = _service(inv)
    res = svc.recommend(RecommendationQuery(vm=vm_request(inv), max_recommendations=5))
    assert [r.rank for r in res.recommendations] == [1, 2, 3, 4, 5]
    scores = [r.placement_score for r in res.recommendations]
    assert scores == sorted(scores, reverse=True)
    assert res.factors_considered == len(catalog().factors) >= 100
    assert res.total_nodes == inv.n_nodes and 0 < res.feasible_nodes <= inv.n_nodes
    assert res.nodes_scored == res.sampling["sample_size"] == nodes_to_score(inv.n_nodes, None) == 142
    assert sum(res.rejections.values()) >= inv.n_nodes - res.feasible_nodes
    assert res.analysis_time > 0
    ids = {f.id for f in catalog().factors}
    for r in res.recommendations:
        assert set(r.factor_scores) == ids
        assert all(0.0 <= v <= 1.0 for v in r.factor_scores.values())
        assert 0.0 <= r.confidence <= 1.0
        assert r.pros and all("better" in p for p in r.pros)
        assert all("worse" in c for c in r.cons)
        assert r.estimated_cost["total"] == pytest.approx(r.estimated_cost["hourly"] * 24.0, rel=1e-3)
        assert r.performance_estimate["expected_cpu_p95_pct"] is not None
        node = inv.node_index(r.node_id)
        assert inv.node["cpu_cores"][node] - inv.node["cpu_alloc"][node] >= 4


def test_vectorised_ranking_equals_naive_loop() -> None:
    inv = fleet()
    svc = _service(inv)
    q = RecommendationQuery(vm=vm_request(inv), max_recommendations=3, percentage_of_nodes_to_score=100)
    res = svc.recommend(q)
    idx, scores = naive_scores(svc, q)
    assert idx.size == res.feasible_nodes
    best = idx[np.argsort(-scores, kind="stable")[:3]]
    assert [str(inv.node_ids[i]) for i in best] == [r.node_id for r in res.recommendations]
    np.testing.assert_allclose(np.sort(scores)[::-1][:3], [r.placement_score for r in res.recommendations], atol=1e-6)


def test_sampling_on_large_fleet_reports_sample_size() -> None:
    inv = fleet(2000, 5)
    svc = _service(inv)
    res = svc.recommend(RecommendationQuery(vm=vm_request(inv)))
    assert res.nodes_scored == res.sampling["sample_size"] == 680   # 2000 × (50 - 2000/125) %
    assert res.feasible_nodes > 680
    res2 = svc.recommend(RecommendationQuery(vm=vm_request(inv)))
    assert res2.sampling["start_index"] != res.sampling["start_index"]   # round robin moves on


def test_cost_objective_picks_cheaper_nodes() -> None:
    inv = fleet()
    svc = _service(inv)
    vm = vm_request(inv)
    cheap = svc.recommend(RecommendationQuery(vm=vm, objectives={"cost": 20.0}, max_recommendations=3))
    blind = svc.recommend(RecommendationQuery(vm=vm, consider_cost=False, max_recommendations=3))
    mean = lambda r: np.mean([x.estimated_cost["hourly"] for x in r.recommendations])  # noqa: E731
    assert mean(cheap) < mean(blind)


def test_consider_cost_false_ignores_prices() -> None:
    inv = fleet()
    vm = vm_request(inv)
    q = RecommendationQuery(vm=vm, consider_cost=False, max_recommendations=5)
    a = _service(inv).recommend(q)
    pricier = inv.with_field("node.price_vcpu_hour", np.random.default_rng(1).permutation(inv.node["price_vcpu_hour"]))
    b = _service(pricier).recommend(q)
    assert [r.node_id for r in a.recommendations] == [r.node_id for r in b.recommendations]


def test_missing_failure_predictions_lower_confidence() -> None:
    inv = fleet()
    vm = vm_request(inv)
    known = inv.with_field("node.failure_risk", np.nan_to_num(inv.node["failure_risk"], nan=0.01))
    unknown = inv.with_field("node.failure_risk", np.full(inv.n_nodes, np.nan))
    c_known = np.mean([r.confidence for r in _service(known).recommend(RecommendationQuery(vm=vm)).recommendations])
    c_unknown = np.mean([r.confidence for r in _service(unknown).recommend(RecommendationQuery(vm=vm)).recommendations])
    assert c_unknown < c_known


def test_infeasible_request_names_constraints_with_counts() -> None:
    inv = fleet()
    with pytest.raises(NoFeasibleNode) as err:
        _service(inv).recommend(RecommendationQuery(vm=vm_request(inv, cpu=10_000.0),
                                                    constraints=PlacementConstraints(min_security_level=5)))
    exc = err.value
    assert exc.rejections["insufficient_cpu"] == inv.n_nodes
    assert exc.rejections["security_level_too_low"] == int((inv.node["security_level"] < 5).sum())
    assert f"0/{inv.n_nodes} nodes are available" in str(exc) and "insufficient cpu" in str(exc)


def test_factor_listing_shows_current_weights() -> None:
    svc = _service()
    out = svc.factors()
    assert out["total_factors"] == len(catalog().factors)
    assert {c["name"] for c in out["categories"]} >= {"cost", "security", "network"}
    assert sum(c["weight_share"] for c in out["categories"]) == pytest.approx(1.0, abs=1e-4)
    f = out["factors"][0]
    for key in ("id", "name", "category", "weight", "importance", "description", "scope", "update_frequency"):
        assert key in f

"""Feedback learning: bounded, versioned weight updates; anomaly and drift flags."""
from __future__ import annotations

import numpy as np
import pytest

from aiops.placement.optimise.constraints import InvalidPlacementRequest
from aiops.placement.feedback import (FeedbackLearner, FeedbackRecord, InMemoryFeedbackStore, LearnerConfig,
                                      outcome_value)
from aiops.placement.recommend import PlacementService, RecommendationQuery

from tests.unit.placement.recommend_fixtures import catalog, fleet, vm_request

BASE = {"good": 1.0, "noise": 1.0, "bad": 1.0}
BOUNDS = {"good": (0.5, 2.0), "noise": (0.5, 2.0), "bad": (0.5, 2.0)}


def _record(rng: np.random.Generator, learner: FeedbackLearner, i: int, shift: float = 0.0):
    x = {"good": float(rng.random()), "noise": float(rng.random()), "bad": float(rng.random())}
    perf = float(np.clip(0.2 + 0.6 * x["good"] - 0.3 * x["bad"] + rng.normal(0, 0.05) + shift, 0, 1))
    fb = FeedbackRecord(placement_id=f"p{i}", node_id="n", placement_score=0.6, actual_performance=perf,
                        user_satisfaction=1 + 4 * perf)
    return learner.record(fb, x)


def test_outcome_blends_performance_satisfaction_and_issues() -> None:
    assert outcome_value(1.0, 5.0, []) == 1.0
    assert outcome_value(0.0, 1.0, []) == 0.0
    assert outcome_value(1.0, 5.0, ["slow disk", "oom"]) == pytest.approx(0.9)


def test_weights_follow_factor_outcome_correlation_within_bounds() -> None:
    store = InMemoryFeedbackStore()
    learner = FeedbackLearner(BASE, BOUNDS, store, LearnerConfig(min_samples=30, update_every=10))
    rng = np.random.default_rng(0)
    for i in range(400):
        _record(rng, learner, i)
    version, w = learner.current()
    assert version > 1
    assert w["good"] > 1.5 and w["good"] <= 2.0 + 1e-12
    assert w["bad"] < 0.8 and w["bad"] >= 0.5 - 1e-12
    assert w["noise"] == pytest.approx(1.0, abs=0.15)
    hist = store.weight_history()
    assert [h["version"] for h in hist] == list(range(1, version + 1))
    assert hist[-1]["meta"]["reason"] == "feedback correlation"
    # a new learner on the same store resumes from the latest version
    again = FeedbackLearner(BASE, BOUNDS, store)
    assert again.current() == (version, w)


def test_anomalous_placement_is_flagged() -> None:
    store = InMemoryFeedbackStore()
    learner = FeedbackLearner(BASE, BOUNDS, store)
    rng = np.random.default_rng(1)
    outs = [_record(rng, learner, i) for i in range(60)]
    assert sum(o.anomalous for o in outs) <= 2
    bad = learner.record(FeedbackRecord("px", "n", placement_score=0.95, actual_performance=0.0,
                                        user_satisfaction=1.0, issues=("crash",)), {"good": 0.9, "noise": 0.5, "bad": 0.1})
    assert bad.anomalous and bad.anomaly_score < -3.5
    assert any("under-delivered" in r for r in bad.anomaly_reasons)
    assert any(r["anomalous"] for r in store.outcomes())


def test_drift_schedules_retraining() -> None:
    store = InMemoryFeedbackStore()
    learner = FeedbackLearner(BASE, BOUNDS, store, LearnerConfig(drift_window=40))
    rng = np.random.default_rng(2)
    calm = [_record(rng, learner, i) for i in range(120)]
    assert not any(o.retraining_scheduled for o in calm)
    shifted = [_record(rng, learner, 1000 + i, shift=-0.4) for i in range(60)]
    assert any(o.retraining_scheduled for o in shifted)
    assert shifted[-1].drift_detected
    req = store.retraining_requests()
    assert req and req[0]["meta"]["residual_shift"] < -0.1


def test_service_feedback_uses_stored_factor_vector_and_rejects_unknown_nodes() -> None:
    inv = fleet()
    svc = PlacementService(lambda: inv, catalog=catalog())
    res = svc.recommend(RecommendationQuery(vm=vm_request(inv)))
    top = res.recommendations[0]
    out = svc.feedback(FeedbackRecord(res.placement_id, top.node_id, top.placement_score, 0.9, 4.5))
    assert out.accepted and out.samples == 1
    stored = svc.store.outcomes()[-1]
    assert stored["factors"] == top.factor_scores
    # placement unknown to the store: factors are recomputed for the node
    other = str(inv.node_ids[7])
    out2 = svc.feedback(FeedbackRecord("elsewhere", other, 0.5, 0.5, 3.0, vm={"tenant": "t", "cpu": 2, "mem_gb": 4}))
    assert out2.accepted and len(svc.store.outcomes()[-1]["factors"]) == len(catalog().factors)
    with pytest.raises(InvalidPlacementRequest, match="unknown node_id"):
        svc.feedback(FeedbackRecord("elsewhere", "node-nope", 0.5, 0.5, 3.0))

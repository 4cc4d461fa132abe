"""FeedbackStore on a real Redis: JSON values, capped lists, versioned weights, restarts."""
from __future__ import annotations

import pytest

from aiops.placement.feedback import FeedbackLearner, FeedbackRecord, LearnerConfig
from aiops.placement.feedback_redis import RedisFeedbackStore


@pytest.fixture
def store(clean_redis):
    return RedisFeedbackStore(clean_redis, prefix="t", max_outcomes=5)


def test_outcomes_are_capped_but_counted(store):
    for i in range(8):
        store.append_outcome({"i": i, "outcome": 0.5})
    assert [r["i"] for r in store.outcomes()] == [3, 4, 5, 6, 7]
    assert [r["i"] for r in store.outcomes(2)] == [6, 7]
    assert store.count_outcomes() == 8


def test_weight_versions_are_never_overwritten(store):
    store.save_weights(1, {"a": 1.0}, {"reason": "catalog"})
    store.save_weights(1, {"a": 1.0}, {"reason": "catalog again"})   # same weights: no-op (replicas racing)
    with pytest.raises(ValueError):
        store.save_weights(1, {"a": 2.0}, {})
    store.save_weights(3, {"a": 1.5}, {})
    store.save_weights(2, {"a": 1.2}, {})        # an older version arriving late does not become latest
    assert store.latest_weights()["version"] == 3
    assert [w["version"] for w in store.weight_history()] == [1, 2, 3]


def test_placements_and_retraining(store):
    store.put_placement("p1", {"nodes": {"n1": {"score": 0.7, "factors": {"a": 0.2}}}})
    assert store.get_placement("p1")["nodes"]["n1"]["factors"]["a"] == 0.2 and store.get_placement("nope") is None
    store.schedule_retraining("drift", {"p": 0.001})
    assert store.retraining_requests()[0]["reason"] == "drift"


def test_learned_weights_survive_a_restart(clean_redis):
    """Outcomes that track factor 'a' raise its weight; a new learner on the same Redis resumes it."""
    import numpy as np

    cfg = LearnerConfig(min_samples=20, update_every=10)
    base = {"a": 1.0, "b": 1.0}
    bounds = {"a": (0.5, 2.0), "b": (0.5, 2.0)}
    learner = FeedbackLearner(base, bounds, RedisFeedbackStore(clean_redis, "t2"), cfg)
    rng = np.random.default_rng(0)
    for k in range(40):
        a, b = rng.random(), rng.random()
        learner.record(FeedbackRecord(f"p{k}", "n1", 0.5, actual_performance=a, user_satisfaction=1 + 4 * a),
                       {"a": a, "b": b})
    version, weights = learner.current()
    assert version > 1 and weights["a"] > base["a"]
    again = FeedbackLearner(base, bounds, RedisFeedbackStore(clean_redis, "t2"), cfg)
    assert again.current() == (version, weights)

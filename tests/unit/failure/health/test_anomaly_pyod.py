"""Fleet health score: training-only fit, 0-1 calibration, label-free threshold, constant columns."""
import numpy as np
import pytest

from aiops.failure.health.scorer import HealthEnsemble, HealthScorer, rolling_health


def _fleet(n=400, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[:, 2] = 7.0  # constant column (e.g. a metric that never moves)
    return X


@pytest.mark.parametrize("method", ["ecod", "copod", "iforest"])
def test_scores_in_unit_interval_and_outliers_rank_high(method):
    X = _fleet()
    m = HealthScorer(method, contamination=0.02).fit(X)
    test = _fleet(100, seed=1)
    test[:5, 0] = 9.0  # five hosts far outside the training range on two metrics
    test[:5, 3] = -9.0
    s = m.score(test)
    assert np.isfinite(s).all() and s.min() >= 0 and s.max() < 1
    assert s[:5].min() > np.median(s[5:])
    assert m.predict(test)[:5].all()
    assert not m.keep_[2]  # constant column dropped


@pytest.mark.parametrize("method", ["ecod", "copod"])
def test_batch_composition_does_not_change_a_rows_score(method):
    """pyod rebuilds ECOD/COPOD ECDFs from the scored batch; we must not."""
    m = HealthScorer(method).fit(_fleet())
    test = _fleet(50, seed=2)
    alone = np.array([m.score(test[i : i + 1])[0] for i in range(5)])
    crowd = np.vstack([test[:5], np.full((200, test.shape[1]), 50.0)])  # a batch full of anomalies
    np.testing.assert_allclose(m.score(crowd)[:5], alone)


def test_threshold_gives_roughly_the_contamination_rate_on_normal_rows():
    m = HealthScorer("iforest", contamination=0.05).fit(_fleet(1000))
    rate = m.predict(_fleet(2000, seed=3)).mean()
    assert 0.01 < rate < 0.12


def test_all_constant_training_is_rejected():
    with pytest.raises(ValueError):
        HealthScorer().fit(np.ones((50, 3)))


def test_ensemble_and_rolling_windows():
    X = _fleet()
    ens = HealthEnsemble(contamination=0.02).fit(X)
    test = _fleet(60, seed=4)
    test[0, 1] = 12.0
    test[0, 4] = 12.0
    s = ens.score(test)
    assert s.argmax() == 0 and 0 <= s.min() and s.max() < 1
    frames = [_fleet(100, seed=10 + i) for i in range(4)]
    frames[3][0, [0, 1, 3]] = 15.0  # one host far off on three metrics in the newest window
    out = rolling_health(frames, train_windows=2, method="ecod")
    assert out[0] is None and out[1] is None
    assert out[3].argmax() == 0

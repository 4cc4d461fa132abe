"""The multivariate health score on synthetic server-like metrics: causal, finite, calibrated, attributes."""
import numpy as np
import pytest
from scipy.signal import lfilter

from aiops.failure.health.config import HealthConfig
from aiops.failure.health.multivariate import fit_health


def _metrics(n: int, seed: int, d: int = 12) -> np.ndarray:
    """Correlated metrics driven by two latent loads plus noise, one constant column (the last)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    ar = lfilter([1.0], [1.0, -0.95], rng.normal(0, 0.1, n))  # a stationary, slowly wandering load
    load = np.column_stack([np.sin(2 * np.pi * t / 1440), ar])
    mix = np.random.default_rng(99).normal(0, 1, (2, d))
    X = load @ mix + rng.normal(0, 0.1, (n, d))
    X[:, -1] = 5.0
    return X


@pytest.fixture(scope="module")
def model():
    return fit_health(_metrics(6000, 0), HealthConfig())


def test_a_row_score_does_not_change_when_later_rows_change(model):
    X = _metrics(3000, 1)
    Y = X.copy()
    Y[2000:] += 50.0  # the future changes drastically
    a, _ = model.score(X)
    b, _ = model.score(Y)
    np.testing.assert_array_equal(a.score[:2000], b.score[:2000])
    np.testing.assert_array_equal(a.alarm[:2000], b.alarm[:2000])
    assert b.alarm[2000:2100].mean() > 0.9  # and the change itself is seen


def test_scoring_in_pieces_equals_scoring_at_once(model):
    X = _metrics(3000, 2)
    X[1000:1400] += 3.0
    whole, _ = model.score(X)
    first, state = model.score(X[:1234])
    second, _ = model.score(X[1234:], state)
    np.testing.assert_allclose(np.concatenate([first.score, second.score]), whole.score)


def test_constant_and_missing_columns_give_finite_scores():
    X = _metrics(2000, 3)
    X[:, 0] = 0.0  # another constant column
    model = fit_health(X, HealthConfig())
    T = _metrics(500, 4)
    T[:, 0] = 1.0  # the constant column moves at test time
    T[10, 3] = np.nan
    res, _ = model.score(T)
    assert np.isfinite(res.score).all() and np.isfinite(model.threshold)


def test_false_alarm_rate_on_held_back_normal_rows_is_near_the_stated_rate():
    cfg = HealthConfig(false_alarm_rate=0.02, smoothing=1.0)  # unsmoothed rows are close to exchangeable
    rates = []
    for seed in range(4):
        rng = np.random.default_rng(seed)
        cov = np.random.default_rng(7).normal(size=(8, 8))
        X = rng.normal(size=(8000, 8)) @ cov
        model = fit_health(X[:4000], cfg)
        res, _ = model.score(X[4000:])
        rates.append(res.alarm.mean())
    assert 0.01 < np.mean(rates) < 0.035, rates


def test_attribution_finds_the_perturbed_metric(model):
    X = _metrics(2000, 5)
    X[1000:1100, 4] += 1.5  # metric 5 (1-based) breaks from the others
    res, _ = model.score(X)
    rows = np.flatnonzero(res.alarm[1000:1100]) + 1000
    assert len(rows) > 50
    assert (res.causes[rows, 0] == 5).mean() > 0.9


def test_a_changed_baseline_raises_one_window_of_alarms_not_a_storm():
    # the window spans whole daily cycles (period 1440 rows here), so its median is the new level
    cfg = HealthConfig(drift_window=2880)
    model = fit_health(_metrics(6000, 6), cfg)
    X = _metrics(9000, 7)
    X[1000:] += np.random.default_rng(0).normal(0, 1, X.shape[1])  # a new level from row 1000 on, for good
    res, _ = model.score(X)
    assert res.rebaselined_at and 1000 < res.rebaselined_at[0] < 1000 + 2880
    assert res.alarm[5000:].mean() < 0.05
    kept, _ = fit_health(_metrics(6000, 6), cfg.model_copy(update={"drift_window": 10**9})).score(X)
    assert kept.alarm[5000:].mean() > 0.9  # without drift handling it is a storm


def test_drift_moves_the_alarm_level_not_the_score_and_lets_it_fall_back():
    cfg = HealthConfig(drift_window=2880)
    model = fit_health(_metrics(6000, 6), cfg)
    X = _metrics(14000, 8)
    X[1000:7000] += np.random.default_rng(1).normal(0, 1, X.shape[1])  # a new level for four days, then back
    res, _ = model.score(X)
    kept, _ = fit_health(_metrics(6000, 6), cfg.model_copy(update={"drift_window": 10**9})).score(X)
    np.testing.assert_array_equal(res.score, kept.score)  # the ranking is the undrifted score
    assert res.level[:1000].max() == model.threshold
    assert res.level[5000] > model.threshold + 1.0  # raised while the new level lasts
    assert res.alarm[5000:7000].mean() < 0.05
    assert res.level[-1] < model.threshold + 0.2 * (res.level[5000] - model.threshold)  # and back down after
    np.testing.assert_array_equal(res.alarm, res.score > res.level)


def test_the_sequence_residual_sees_a_metric_turning_jumpy_inside_its_range(model):
    X = _metrics(2000, 9)
    jitter = 0.25 * np.where(np.arange(300) % 2, 1.0, -1.0)  # row-to-row flips, well inside the metric's range
    X[1000:1300, 6] += jitter
    res, _ = model.score(X)
    plain, _ = fit_health(_metrics(6000, 0), HealthConfig(ar_weight=0.0)).score(X)
    assert res.alarm[1000:1300].mean() > 0.8
    assert plain.alarm[1000:1300].mean() < 0.4  # one row at a time, the linear model barely sees it
    assert (res.causes[1050:1300, 0] == 7).mean() > 0.9

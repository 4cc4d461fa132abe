"""Streaming detector: causality, 0-1 range, and that it actually reacts to anomalies."""
import numpy as np
import pytest

from aiops.failure.health.baselines import rolling_knn_distance, windowed_gaussian
from aiops.failure.health.stream import (
    StreamParams,
    anomaly_likelihood,
    conformal_surprise,
    knn_nonconformity,
    rolling_robust_z,
    spatial_novelty,
    stream_scores,
)


def _series(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 10 + np.sin(2 * np.pi * t / 50) + 0.1 * rng.normal(size=n)


@pytest.mark.parametrize(
    "fn",
    [
        lambda v: stream_scores(v, StreamParams(), probation=200),
        lambda v: stream_scores(v, StreamParams(use_knn=False, suppress_rows=50), probation=200),
        windowed_gaussian,
        rolling_knn_distance,
        lambda v: knn_nonconformity(v, 10, 5, 300),
        lambda v: conformal_surprise(rolling_robust_z(v, 100), 200),
    ],
)
def test_changing_future_rows_does_not_change_past_scores(fn):
    v = _series()
    cut = 900
    w = v.copy()
    w[cut:] = w[cut:] * 3 + 50 + np.random.default_rng(1).normal(size=len(v) - cut) * 5
    a, b = fn(v), fn(w)
    np.testing.assert_array_equal(a[:cut], b[:cut])
    assert not np.allclose(a[cut:], b[cut:])


def test_scores_are_within_unit_interval_and_finite():
    for seed in range(3):
        v = _series(seed=seed)
        v[700:705] += 8
        for s in (stream_scores(v), windowed_gaussian(v), rolling_knn_distance(v)):
            assert np.isfinite(s).all() and s.min() >= 0.0 and s.max() <= 1.0


def test_constant_and_short_series_do_not_crash():
    assert np.all(stream_scores(np.full(500, 3.0)) <= 1.0)
    s = stream_scores(np.arange(5.0))
    assert s.shape == (5,)


def test_injected_anomaly_scores_above_normal_rows():
    v = _series(3000)
    v[2000:2010] = v[2000:2010] + np.linspace(0, 4, 10)  # a ramp the sine has never shown
    s = stream_scores(v, probation=450)
    assert s[2000:2030].max() >= 0.5
    normal = np.r_[s[450:1990], s[2300:]]
    assert np.quantile(normal, 0.99) < s[2000:2030].max()


def test_spatial_novelty_fires_only_beyond_seen_range_plus_margin():
    v = np.r_[np.zeros(10), 1.0, 0.5, 1.04, 1.2, -0.2]
    sp = spatial_novelty(v, 0.05, 0)
    # 1.0 is new (range was 0), 1.04 inside 1.0 + 5%, 1.2 beyond, -0.2 beyond
    assert sp.tolist() == [False] * 10 + [False, False, False, True, True]


def test_likelihood_is_neutral_during_learning_and_high_after_a_burst():
    raw = np.full(2000, 0.02)
    raw[1500:1510] = 1.0
    lik = anomaly_likelihood(raw, probation=300, p=StreamParams())
    assert np.all(lik[:300] == 0.5)
    assert lik[1505] > 0.99999

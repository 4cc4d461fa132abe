"""Reference streaming detectors used as baselines next to our own on NAB.

* :func:`windowed_gaussian` reproduces NAB's own ``windowedGaussian`` detector
  (window 6400, refreshed every 100 rows, Gaussian tail of the new value), so that
  running it through :mod:`aiops.failure.evaluation.nab_scoring` must give NAB's published
  per-file scores — the end-to-end check of our scorer.
* :func:`rolling_knn_distance` is the simple "distance to the 5 nearest past lagged
  windows" detector quoted in the issue (~51 on NAB standard).

Both are causal: the score of row ``t`` uses rows ``<= t`` only.
"""
from __future__ import annotations

import math

import numpy as np


def _gaussian_tail(x: float, mean: float, std: float) -> float:
    """Q-function of |x - mean| (NAB's ``normalProbability``: reflect below the mean)."""
    if x < mean:
        x = 2 * mean - x
    return 0.5 * math.erfc(((x - mean) / std) / math.sqrt(2))


def windowed_gaussian(values: np.ndarray, window: int = 6400, step: int = 100) -> np.ndarray:
    """NAB's windowedGaussian: ``1 - Q(z)`` of each value against the mean/std of past rows.

    The window grows to ``window`` rows, then slides by ``step`` rows at a time, as in NAB.
    """
    v = np.asarray(values, dtype=float)
    n = len(v)
    out = np.zeros(n)
    mean, std = 0.0, 1.0
    for t in range(n):
        if t > 0:
            out[t] = 1.0 - _gaussian_tail(float(v[t]), mean, std)
        # state after ingesting row t (what row t+1 is scored against)
        if t < window:
            seg = v[: t + 1]
        elif (t - window + 1) % step == 0:
            k = (t - window + 1) // step
            seg = v[k * step : window + k * step]
        else:
            continue
        mean = float(np.mean(seg))
        std = float(np.std(seg))
        if std == 0.0:
            std = 0.000001
    return out


def rolling_knn_distance(values: np.ndarray, dim: int = 10, k: int = 5, history: int = 1000) -> np.ndarray:
    """Mean distance of the current lagged window to its ``k`` nearest among the past ``history`` windows.

    Windows are scaled by the running range seen so far (see
    :func:`aiops.failure.health.stream.knn_nonconformity`); the distance is squashed
    to 0–1 by ``d / (1 + d)`` with no further calibration — the plain baseline our
    detector adds conformal calibration and the anomaly likelihood to.
    """
    from aiops.failure.health.stream import knn_nonconformity

    d = knn_nonconformity(np.asarray(values, dtype=float), dim, k, history)
    return d / (1.0 + d)

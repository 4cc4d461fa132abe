"""Reference streaming detectors used as baselines next to our own on NAB.

* :func:`windowed_gaussian` reproduces NAB's own ``windowedGaussian`` detector
  (window 6400, refreshed every 100 rows, Gaussian tail of the new value), so that
  running it through :mod:`aiops.failure.nab_scoring` must give NAB's published
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


def lagged_embedding(values: np.ndarray, dim: int) -> np.ndarray:
    """Row ``t`` = values[t-dim+1 .. t]; the first rows repeat the first value (causal padding)."""
    v = np.asarray(values, dtype=float)
    pad = np.r_[np.full(dim - 1, v[0] if len(v) else 0.0), v]
    return np.lib.stride_tricks.sliding_window_view(pad, dim)


def rolling_knn_distance(
    values: np.ndarray, dim: int = 10, k: int = 5, history: int = 1000, block: int = 256
) -> np.ndarray:
    """Mean distance of the current lagged window to its ``k`` nearest among the past ``history`` windows.

    Values are scaled by the running range seen so far, so the score is comparable
    across files; the raw distance is then squashed to 0–1 by ``d / (1 + d)``.
    """
    v = np.asarray(values, dtype=float)
    n = len(v)
    lo = np.minimum.accumulate(v)
    hi = np.maximum.accumulate(v)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    emb = lagged_embedding(v, dim)
    out = np.zeros(n)
    for start in range(dim, n, block):
        stop = min(n, start + block)
        lo_h = max(0, start - history)
        ref = emb[lo_h:stop]  # candidates; each query t only uses rows < t - dim + 1 (non-overlapping past)
        q = emb[start:stop]
        d = np.sqrt(np.maximum(((q[:, None, :] - ref[None, :, :]) ** 2).sum(-1), 0.0))
        ts = np.arange(start, stop)[:, None]
        cand = np.arange(lo_h, stop)[None, :]
        valid = (cand <= ts - dim) & (cand >= ts - history)
        d = np.where(valid, d, np.inf)
        kk = min(k, d.shape[1])
        part = np.partition(d, kk - 1, axis=1)[:, :kk]
        part = np.where(np.isfinite(part), part, np.nan)
        with np.errstate(all="ignore"):
            m = np.nanmean(part, axis=1) / span[start:stop]
        out[start:stop] = np.nan_to_num(m / (1.0 + m), nan=0.0)
    return out

"""Streaming anomaly detector for one metric series: 0–1 scores from past rows only.

Pipeline (every step is causal — the score of row ``t`` reads rows ``<= t``):

1. **Raw surprise** in [0, 1]: a KNN-CAD-like nonconformity (distance of the
   current lagged window to its nearest neighbours among past windows) turned into
   a conformal p-value against its own recent history, so that the scale is the
   same for very different series; only strong surprises count. Robust z-scores of
   the value and of its first difference can join the ensemble (``use_z``) but did
   not add to the KNN term on NAB, so they are off by default.
2. **Anomaly likelihood** (Numenta's post-processing, Ahmad et al. 2017): the short
   moving average of the raw surprise is compared with the long-run Gaussian of
   those averages; the tail probability is mapped to ``log`` scale in [0, 1].
   This is what makes a threshold meaningful across 58 very different files.
3. **Spatial novelty**: a value beyond the range seen so far (plus a margin) is an
   anomaly outright, as in Numenta's NAB detector.
4. **Alert spreading**: only the first row of a run of very unlikely rows keeps its
   full score (Numenta's red-zone filter), and scores are damped for a short time
   after a strong alert, so one event does not become many false positives.

All parameters are global (set once for a whole corpus); nothing is tuned per file.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import erfc

from aiops.failure.evaluation.nab_corpus import probation_length


@dataclass(frozen=True)
class StreamParams:
    """Global detector settings (the same for every series)."""

    knn_dim: int = 10
    knn_k: int = 5
    knn_history: int = 1500
    calib: int = 600  # past nonconformity scores a p-value is ranked against
    z_window: int = 300  # rolling median/MAD window for value/diff z-scores
    surprise_floor: float = 0.97  # 1 - p below this counts as no surprise
    avg_window: int = 20  # likelihood: short moving average of raw surprise
    hist_window: int = 8640  # likelihood: long-run window of averages
    reestimate_every: int = 100
    min_mean: float = 0.03
    min_var: float = 0.0003
    red: float = 0.99999  # likelihood above which a row is "red"
    yellow: float = 0.999
    spatial_margin: float = 0.05
    spatial_warmup: int = 0  # rows before spatial novelty may fire
    use_spatial: bool = True
    use_knn: bool = True
    use_z: bool = False  # robust z of value/diff: available, but did not add to KNN on NAB
    suppress_rows: int = 200  # damp scores this many rows after a score >= suppress_level
    suppress_level: float = 0.5
    suppress_factor: float = 0.8


# --------------------------------------------------------------------------- helpers


def _running_scale(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Causal location/scale: running min and range of values seen so far."""
    lo = np.minimum.accumulate(v)
    hi = np.maximum.accumulate(v)
    span = hi - lo
    span = np.where(span > 0, span, np.maximum(np.abs(hi), 1.0))
    return lo, span


def _embed(v: np.ndarray, dim: int) -> np.ndarray:
    pad = np.r_[np.full(dim - 1, v[0]), v]
    return np.lib.stride_tricks.sliding_window_view(pad, dim)


def knn_nonconformity(v: np.ndarray, dim: int, k: int, history: int, block: int = 512) -> np.ndarray:
    """Mean distance of window ending at t to its k nearest past windows (non-overlapping ones only).

    Windows are scaled by the running range known at time t, so no future extreme
    rescales the past; rows with no valid neighbour get 0.
    """
    n = len(v)
    lo, span = _running_scale(v)
    emb = _embed(v, dim)
    out = np.zeros(n)
    for start in range(dim, n, block):
        stop = min(n, start + block)
        ref_lo = max(0, start - history - dim)
        ref = emb[ref_lo : stop - dim]
        if len(ref) == 0:
            continue
        q = emb[start:stop]
        # squared distances via the expansion |q|^2 + |r|^2 - 2 q.r
        d2 = (q * q).sum(1)[:, None] + (ref * ref).sum(1)[None, :] - 2.0 * q @ ref.T
        ts = np.arange(start, stop)[:, None]
        cand = np.arange(ref_lo, stop - dim)[None, :]
        valid = (cand <= ts - dim) & (cand >= ts - dim - history)
        d2 = np.where(valid, np.maximum(d2, 0.0), np.inf)
        kk = min(k, d2.shape[1])
        part = np.partition(d2, kk - 1, axis=1)[:, :kk]
        fin = np.isfinite(part)
        cnt = fin.sum(1)
        sm = np.where(fin, np.sqrt(np.where(fin, part, 0.0)), 0.0).sum(1)
        out[start:stop] = np.where(cnt > 0, sm / np.maximum(cnt, 1), 0.0) / span[start:stop]
    return out


def conformal_surprise(score: np.ndarray, calib: int, warmup: int = 20) -> np.ndarray:
    """1 - p-value of each score against the previous ``calib`` scores (0.5 until ``warmup``)."""
    n = len(score)
    out = np.full(n, 0.5)
    if n <= warmup:
        return out
    pad = np.r_[np.full(calib, np.nan), score]
    win = np.lib.stride_tricks.sliding_window_view(pad[:-1], calib)  # win[t] = scores t-calib..t-1
    for a in range(warmup, n, 8192):
        b = min(n, a + 8192)
        w = win[a:b]
        s = score[a:b, None]
        valid = ~np.isnan(w)
        m = valid.sum(1)
        ge = (valid & (w >= s)).sum(1)
        out[a:b] = 1.0 - (ge + 1.0) / (m + 1.0)
    return out


def rolling_robust_z(x: np.ndarray, window: int) -> np.ndarray:
    """|x_t - median(x_{t-w..t-1})| / (1.4826 MAD), causal; 0 while fewer than 10 past rows."""
    n = len(x)
    out = np.zeros(n)
    pad = np.r_[np.full(window, np.nan), x]
    win = np.lib.stride_tricks.sliding_window_view(pad[:-1], window)
    for a in range(10, n, 4096):
        b = min(n, a + 4096)
        w = win[a:b]
        med = np.nanmedian(w, axis=1)
        mad = np.nanmedian(np.abs(w - med[:, None]), axis=1) * 1.4826
        sd = np.nanstd(w, axis=1)
        scale = np.where(mad > 0, mad, np.where(sd > 0, sd, 1e-9))
        out[a:b] = np.abs(x[a:b] - med) / scale
    return out


def spatial_novelty(v: np.ndarray, margin: float, warmup: int) -> np.ndarray:
    """True where the value leaves [min - m*range, max + m*range] of all earlier values."""
    n = len(v)
    prev_lo = np.r_[np.inf, np.minimum.accumulate(v)[:-1]]
    prev_hi = np.r_[-np.inf, np.maximum.accumulate(v)[:-1]]
    rng = prev_hi - prev_lo
    ok = np.isfinite(rng) & (rng > 0)
    tol = np.where(ok, rng * margin, 0.0)
    out = ok & ((v > prev_hi + tol) | (v < prev_lo - tol))
    out[: min(n, warmup)] = False
    return out


def _moving_average(x: np.ndarray, w: int) -> np.ndarray:
    c = np.cumsum(np.r_[0.0, x])
    idx = np.arange(1, len(x) + 1)
    lo = np.maximum(0, idx - w)
    return (c[idx] - c[lo]) / (idx - lo)


def anomaly_likelihood(raw: np.ndarray, probation: int, p: StreamParams) -> np.ndarray:
    """Numenta-style anomaly likelihood of a raw 0–1 surprise series (1 - tail probability).

    The first half of the probationary period is skipped (the detector is still
    learning), the second half gives the first estimate; afterwards the Gaussian of
    the short-window averages is re-estimated every ``reestimate_every`` rows over
    the last ``hist_window`` rows. Returns 0.5 before the first estimate.
    """
    n = len(raw)
    learn = probation // 2
    start = max(probation, learn + 2)
    avg = _moving_average(raw, p.avg_window)
    lik = np.full(n, 0.5)
    if n <= start:
        return lik
    c1 = np.cumsum(np.r_[0.0, avg])
    c2 = np.cumsum(np.r_[0.0, avg * avg])
    est_points = np.arange(start, n, p.reestimate_every)
    mean = np.empty(len(est_points))
    var = np.empty(len(est_points))
    for j, t in enumerate(est_points):
        a = max(learn, t + 1 - p.hist_window)
        m = t + 1 - a
        mu = (c1[t + 1] - c1[a]) / m
        mean[j] = mu
        var[j] = max((c2[t + 1] - c2[a]) / m - mu * mu, 0.0)
    mean = np.maximum(mean, p.min_mean)
    var = np.maximum(var, p.min_var)
    seg = np.searchsorted(est_points, np.arange(start, n), side="right") - 1
    mu = mean[seg]
    sd = np.sqrt(var[seg])
    x = avg[start:]
    z = np.abs(x - mu) / sd  # Numenta reflects values below the mean
    tail = 0.5 * erfc(z / math.sqrt(2))
    lik[start:] = 1.0 - tail
    return lik


def likelihood_to_score(lik: np.ndarray, p: StreamParams) -> np.ndarray:
    """Red-zone filter then log scale: 0.5 ↦ 0.03, 1 - 1e-5 ↦ 0.5, 1 - 1e-10 ↦ 1."""
    red = lik >= p.red
    prev_red = np.r_[False, red[:-1]]
    filt = np.where(red & prev_red, p.yellow, lik)
    return np.log(1.0000000001 - filt) / math.log(1.0 - 0.9999999999)


def _suppress(score: np.ndarray, p: StreamParams, start: int = 0) -> np.ndarray:
    """Damp scores for ``suppress_rows`` rows after a strong alert (sequential, causal).

    Alerts before ``start`` (the learning period, where every new extreme fires) do
    not open a quiet period.
    """
    if p.suppress_rows <= 0:
        return score
    out = score.copy()
    quiet_until = -1
    hits = np.flatnonzero(score >= p.suppress_level)
    for t in hits[hits >= start]:
        if t <= quiet_until:
            out[t] = score[t] * p.suppress_factor
        else:
            quiet_until = t + p.suppress_rows
    return out


# --------------------------------------------------------------------------- detector


def raw_surprise(values: np.ndarray, p: StreamParams) -> np.ndarray:
    """Ensemble raw surprise in [0, 1]: max over components of the rescaled conformal surprise."""
    v = np.asarray(values, dtype=float)
    parts = []
    if p.use_knn:
        parts.append(conformal_surprise(knn_nonconformity(v, p.knn_dim, p.knn_k, p.knn_history), p.calib))
    if p.use_z:
        parts.append(conformal_surprise(rolling_robust_z(v, p.z_window), p.calib))
        d = np.r_[0.0, np.diff(v)]
        parts.append(conformal_surprise(rolling_robust_z(d, p.z_window), p.calib))
    if not parts:
        return np.zeros(len(v))
    s = np.max(np.vstack(parts), axis=0)
    return np.clip((s - p.surprise_floor) / (1.0 - p.surprise_floor), 0.0, 1.0)


def stream_scores(values: np.ndarray, p: StreamParams | None = None, probation: int | None = None) -> np.ndarray:
    """Anomaly score in [0, 1] for every row of a series, each from rows <= t only.

    ``probation`` (default: NAB's 15%/750-row rule on the series length) is the
    learning period of the likelihood estimate; pass it explicitly for a live
    stream whose final length is unknown.
    """
    p = p or StreamParams()
    v = np.asarray(values, dtype=float)
    if len(v) == 0:
        return np.zeros(0)
    if probation is None:
        probation = probation_length(len(v))
    raw = raw_surprise(v, p)
    score = likelihood_to_score(anomaly_likelihood(raw, probation, p), p)
    if p.use_spatial:
        score = np.where(spatial_novelty(v, p.spatial_margin, p.spatial_warmup), 1.0, score)
    return np.clip(_suppress(score, p, probation), 0.0, 1.0)

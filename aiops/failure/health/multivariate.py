"""Multivariate, label-free, causal health score for one target (a server, a VM) over its metrics.

What it computes, row by row, from the fitted training state and earlier rows only:

1. **Linear model** (:mod:`.linear`): standardised PCA fitted on the first part of the training
   rows; each row's reconstruction error (SPE) and in-model distance (T^2), each divided by its
   median on the held-back rest of the training rows, summed (T^2 weighted) and log-compressed.
2. **Smoothing**: an EWMA over rows, because anomalies on servers last minutes while single-row
   spikes are mostly noise.
3. **Threshold that needs no labels**: the (1 - false_alarm_rate) conformal quantile of the
   smoothed scores of the held-back training rows. An alarm means "more unusual than all but
   `false_alarm_rate` of held-back training rows" (the rows are autocorrelated, so the guarantee is
   approximate; the unit tests check it on normal data).
4. **Drift**: when at least `drift_share` of the last `drift_window` rows alarmed, the level of
   the latest drift_share x drift_window rows is accepted as the new baseline (the centre moves to their median; scale and
   axes stay), so a changed baseline gives one window of alarms, not an endless storm. The window
   should span whole seasonal cycles (default two days of per-minute rows), or the median would
   carry the time of day.
5. **Attribution**: each row blames the metrics with the largest smoothed squared standardised
   deviation from the baseline plus residual, top three, 1-based.

`HealthModel.score` may be called on consecutive batches: it carries a :class:`StreamState`, and
scoring a stream in pieces gives the same numbers as scoring it at once.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.signal import lfilter

from aiops.failure.health.config import HealthConfig
from aiops.failure.health.linear import LinearModel, fit_linear

_EPS = 1e-12


@dataclass
class StreamState:
    """What scoring carries from one row to the next (the only memory of earlier rows)."""

    smooth: float  # EWMA of the score after the last row
    contrib: np.ndarray  # EWMA of per-metric contributions after the last row
    linear: LinearModel  # the baseline now in force (moved by drift handling)
    recent_x: np.ndarray  # last drift_window rows
    recent_alarm: np.ndarray  # their alarms (bool)


@dataclass
class HealthResult:
    """Scores of a batch: higher is less healthy; `alarm` at the label-free threshold."""

    score: np.ndarray
    risk: np.ndarray  # share of held-back training rows scoring lower (0-1)
    alarm: np.ndarray
    causes: np.ndarray  # (n, top) 1-based metric numbers, most to blame first
    rebaselined_at: list[int] = field(default_factory=list)  # rows where a drift re-baseline happened


@dataclass
class HealthModel:
    """The fitted score of one target; build it with :func:`fit_health`."""

    config: HealthConfig
    linear: LinearModel
    spe_ref: float
    t2_ref: float
    threshold: float
    calibration: np.ndarray  # sorted smoothed scores of the held-back rows
    start: StreamState

    def _raw(self, Z: np.ndarray, linear: LinearModel | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Unsmoothed score and per-metric contributions of standardised rows."""
        R, T = (linear or self.linear).parts(Z)
        spe = (R**2).sum(axis=1) / self.spe_ref
        t2 = (T**2).sum(axis=1) / self.t2_ref
        raw = np.log1p(spe + self.config.t2_weight * t2)
        contrib = R**2 / self.spe_ref + self.config.t2_weight * (Z - R) ** 2 / self.t2_ref
        return raw, contrib

    def risk(self, score: np.ndarray) -> np.ndarray:
        """Conformal risk: share of held-back training rows with a lower score."""
        cal = self.calibration
        return np.searchsorted(cal, score, side="left") / (len(cal) + 1.0)

    def score(self, X: np.ndarray, state: StreamState | None = None) -> tuple[HealthResult, StreamState]:
        """Score rows that follow `state` (default: straight after the training rows); causal."""
        st = self.start if state is None else state
        st = replace(st, contrib=st.contrib.copy())
        X = np.asarray(X, dtype=float)
        n, cfg = len(X), self.config
        score, alarm = np.empty(n), np.zeros(n, dtype=bool)
        contrib = np.empty(X.shape)
        rebased: list[int] = []
        pos = 0
        while pos < n:
            end = self._segment(X, pos, st, score, alarm, contrib)
            if end == n:
                break
            rebased.append(end - 1)
            self._rebaseline(st, np.vstack([st.recent_x, X[:end]])[-cfg.drift_window :])
            pos = end
        st.recent_x = np.vstack([st.recent_x, X])[-cfg.drift_window :]
        top = np.argsort(-contrib, axis=1, kind="stable")[:, : cfg.top_causes] + 1
        return HealthResult(score, self.risk(score), alarm, top, rebased), st

    def _rebaseline(self, st: StreamState, window: np.ndarray) -> None:
        """Accept the recent level as normal: the centre moves to the median of the last drift_share x window rows.

        (Refitting the axes on old + new rows was tried: it also absorbs long anomalies; see
        docs/benchmarks/health.md.)
        """
        recent = window[-math.ceil(self.config.drift_share * self.config.drift_window) :]  # at the new level
        with np.errstate(all="ignore"):
            level = np.nanmedian(recent, axis=0)
        st.linear = replace(st.linear, center=np.where(np.isfinite(level), level, st.linear.center))
        st.recent_alarm = np.zeros(0, dtype=bool)
        st.smooth = float(np.median(self.calibration))
        st.contrib = np.zeros_like(st.contrib)

    def _segment(self, X, pos, st, score, alarm, contrib) -> int:
        """Score rows from `pos` with the baseline in force; stop after a row that triggers a re-baseline."""
        cfg, a = self.config, self.config.smoothing
        raw, c = self._raw(st.linear.standardise(X[pos:]), st.linear)
        s, cs = _ewma(raw, a, st.smooth), _ewma(c, a, st.contrib)
        al = s > self.threshold
        hist = np.concatenate([st.recent_alarm, al])
        w = cfg.drift_window
        need = math.ceil(cfg.drift_share * w)
        csum = np.concatenate([[0], np.cumsum(hist)])
        idx = np.arange(w, len(hist) + 1)
        hits = idx[(csum[idx] - csum[idx - w]) >= need] - len(st.recent_alarm)  # rows (1-based within segment)
        hits = hits[hits >= 1]
        stop = int(hits[0]) if len(hits) else len(al)
        score[pos : pos + stop], alarm[pos : pos + stop], contrib[pos : pos + stop] = s[:stop], al[:stop], cs[:stop]
        st.smooth, st.contrib = float(s[stop - 1]), cs[stop - 1].copy()
        st.recent_alarm = hist[: len(st.recent_alarm) + stop][-w:]
        return pos + stop


def fit_health(X_train: np.ndarray, config: HealthConfig | None = None) -> HealthModel:
    """Fit on the first part of `X_train`, set the threshold on the held-back rest; never sees test rows."""
    cfg = config or HealthConfig()
    X = np.asarray(X_train, dtype=float)
    if X.ndim != 2 or X.shape[0] < 20:
        raise ValueError("need a 2-D training matrix with at least 20 rows")
    k = int(round(len(X) * (1.0 - cfg.calibration_share)))
    linear = fit_linear(X[:k], cfg.variance, cfg.scale_floor)
    Zfit, Zcal = linear.standardise(X[:k]), linear.standardise(X[k:])
    R, T = linear.parts(Zcal)
    spe_ref = max(float(np.median((R**2).sum(axis=1))), _EPS)
    t2_ref = max(float(np.median((T**2).sum(axis=1))), _EPS) if T.shape[1] else 1.0
    d = X.shape[1]
    blank = StreamState(0.0, np.zeros(d), linear, np.zeros((0, d)), np.zeros(0, dtype=bool))
    model = HealthModel(cfg, linear, spe_ref, t2_ref, math.inf, np.zeros(0), blank)
    # held-back rows scored as a stream that starts at the last fitted row's level: they define normal
    init, _ = model._raw(Zfit[-1:])
    raw, c = model._raw(Zcal)
    s = _ewma(raw, cfg.smoothing, float(init[0]))
    model.calibration = np.sort(s)
    n = len(s)
    q = min(1.0, math.ceil((n + 1) * (1.0 - cfg.false_alarm_rate)) / n)
    model.threshold = float(np.quantile(model.calibration, q, method="higher"))
    cs = _ewma(c, cfg.smoothing, np.zeros(d))
    w = cfg.drift_window
    model.start = StreamState(float(s[-1]), cs[-1].copy(), linear, X[k:][-w:].copy(), (s > model.threshold)[-w:])
    return model


def _ewma(x: np.ndarray, a: float, init: float | np.ndarray) -> np.ndarray:
    """y[t] = a x[t] + (1 - a) y[t-1], with y[-1] = init; along rows."""
    zi = (1.0 - a) * np.asarray(init, dtype=float)
    y, _ = lfilter([a], [1.0, a - 1.0], x, axis=0, zi=zi[None, ...] if np.ndim(x) == 2 else np.atleast_1d(zi))
    return y

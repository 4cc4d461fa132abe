"""Multivariate, label-free, causal health score for one target (a server, a VM) over its metrics.

What it computes, row by row, from the fitted training state and earlier rows only:

1. **Linear model** (:mod:`.linear`): standardised PCA fitted on the first part of the training
   rows; each row's reconstruction error (SPE, each metric's residual divided by its mean square
   on the held-back rows) and in-model distance (T^2).
2. **Sequence residual**: each metric's one-step autoregressive residual ``z[t] - phi z[t-1]``
   (divided by its mean square on held-back rows), for a metric that turns jumpy inside its range.
   The three statistics, each divided by its median on the held-back rest of the training rows,
   are summed (T^2 and AR weighted) and log-compressed.
3. **Smoothing**: an EWMA over rows, because anomalies on servers last minutes while single-row
   spikes are mostly noise. The smoothed value is the ``score`` (what ranks rows).
4. **Threshold that needs no labels**: the (1 - false_alarm_rate) conformal quantile of the
   smoothed scores of the held-back training rows. An alarm means "more unusual than all but
   `false_alarm_rate` of held-back training rows" (the rows are autocorrelated, so the guarantee is
   approximate; the unit tests check it on normal data).
5. **Drift re-baselines the alarm level, not the score**: when at least `drift_share` of the last
   `drift_window` rows alarmed, the alarm level rises by how far the median score of the latest
   drift_share x drift_window rows sits above the held-back rows' median. A changed baseline gives
   one window of alarms, not an endless storm, while the score keeps ranking rows on the training
   baseline (moving the centre instead cost ranking: a shifted machine's scores before and after a
   re-baseline are not comparable; docs/benchmarks/health.md).
6. **Attribution**: each row blames the metrics with the largest smoothed share of the three
   statistics, top three, 1-based.

`HealthModel.score` may be called on consecutive batches: it carries a :class:`StreamState`, and
scoring a stream in pieces gives the same numbers as scoring it at once.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.signal import lfilter

from aiops.failure.health.config import HealthConfig
from aiops.failure.health.linear import LinearModel, ar_coefficients, fit_linear

_EPS = 1e-12


@dataclass
class StreamState:
    """What scoring carries from one row to the next (the only memory of earlier rows)."""

    smooth: float  # EWMA of the score after the last row
    contrib: np.ndarray  # EWMA of per-metric contributions after the last row
    linear: LinearModel  # the baseline (fixed: drift moves the alarm level, not the score)
    recent_x: np.ndarray  # last drift_window rows
    recent_alarm: np.ndarray  # their alarms (bool)
    prev_z: np.ndarray | None = None  # last standardised row (the sequence residual's lag); None: the centre
    recent_score: np.ndarray = field(default_factory=lambda: np.zeros(0))  # scores of the last drift_window rows
    shift: float = 0.0  # how far drift has raised the alarm level above the calibrated threshold


@dataclass
class HealthResult:
    """Scores of a batch: higher is less healthy; `alarm` at the label-free threshold."""

    score: np.ndarray
    risk: np.ndarray  # share of held-back training rows scoring lower (0-1)
    alarm: np.ndarray
    causes: np.ndarray  # (n, top) 1-based metric numbers, most to blame first
    rebaselined_at: list[int] = field(default_factory=list)  # rows where drift raised the alarm level
    level: np.ndarray = field(default_factory=lambda: np.zeros(0))  # alarm level in force at each row


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
    resid_var: np.ndarray | None = None  # per-metric mean square residual on held-back rows (None: 1)
    ar_coef: np.ndarray | None = None  # per-metric lag-1 coefficient (None: no sequence residual)
    ar_var: np.ndarray | None = None  # per-metric mean square one-step residual on held-back rows
    ar_ref: float = 1.0  # median of the summed sequence residual on held-back rows

    def _raw(self, Z: np.ndarray, linear: LinearModel | None = None,
             prev: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Unsmoothed score and per-metric contributions of standardised rows (`prev`: the row before)."""
        cfg = self.config
        R, T = (linear or self.linear).parts(Z)
        rv = 1.0 if self.resid_var is None else self.resid_var
        contrib = R**2 / rv / self.spe_ref + cfg.t2_weight * (Z - R) ** 2 / self.t2_ref
        total = (R**2 / rv).sum(axis=1) / self.spe_ref + cfg.t2_weight * (T**2).sum(axis=1) / self.t2_ref
        if self.ar_coef is not None and cfg.ar_weight > 0:
            e2 = self._ar_residual(Z, prev) ** 2 / self.ar_var / self.ar_ref
            contrib = contrib + cfg.ar_weight * e2
            total = total + cfg.ar_weight * e2.sum(axis=1)
        return np.log1p(total), contrib

    def _ar_residual(self, Z: np.ndarray, prev: np.ndarray | None) -> np.ndarray:
        """z[t] - phi z[t-1] per metric; the first row's lag is `prev` (the centre when None)."""
        lag = np.vstack([np.zeros((1, Z.shape[1])) if prev is None else np.reshape(prev, (1, -1)), Z[:-1]])
        return Z - self.ar_coef * lag

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
        score, alarm, level = np.empty(n), np.zeros(n, dtype=bool), np.empty(n)
        contrib = np.empty(X.shape)
        Z = st.linear.standardise(X)
        raw, c = self._raw(Z, st.linear, st.prev_z)
        rebased: list[int] = []
        pos = 0
        while pos < n:
            end = self._segment(raw[pos:], c[pos:], st, pos, (score, alarm, contrib, level))
            if end == n:
                break
            if self._rebaseline(st):
                rebased.append(end - 1)
            pos = end
        st.recent_x = np.vstack([st.recent_x, X])[-cfg.drift_window :]
        if n:
            st.prev_z = Z[-1].copy()
        top = np.argsort(-contrib, axis=1, kind="stable")[:, : cfg.top_causes] + 1
        return HealthResult(score, self.risk(score), alarm, top, rebased, level), st

    def _rebaseline(self, st: StreamState) -> bool:
        """Move the alarm level to the recent score level: median of the latest drift_share x window rows.

        The shift is how far that median sits above the held-back rows' median (never below 0), so
        the level rises after a lasting change and falls back once the scores do. The score is not
        touched (re-centring the metrics instead was tried: it cost ranking; docs/benchmarks/health.md).
        """
        recent = st.recent_score[-math.ceil(self.config.drift_share * self.config.drift_window) :]
        shift = max(0.0, float(np.median(recent)) - float(np.median(self.calibration)))
        st.recent_alarm = np.zeros(0, dtype=bool)
        moved, st.shift = shift != st.shift, shift
        return moved

    def _segment(self, raw, c, st, pos, out) -> int:
        """Score rows from `pos` at the alarm level in force; stop after a row that triggers a re-baseline.

        A re-baseline triggers when drift_share of the last drift_window rows alarmed (raise the
        level) or, with a raised level, when none of a full window did (let it fall back).
        """
        cfg, a = self.config, self.config.smoothing
        score, alarm, contrib, level = out
        s, cs = _ewma(raw, a, st.smooth), _ewma(c, a, st.contrib)
        al = s > self.threshold + st.shift
        hist = np.concatenate([st.recent_alarm, al])
        w, old = cfg.drift_window, len(st.recent_alarm)
        csum = np.concatenate([[0], np.cumsum(hist)])
        idx = np.arange(w, len(hist) + 1)
        alarmed = csum[idx] - csum[idx - w]
        trigger = (alarmed >= math.ceil(cfg.drift_share * w)) | ((alarmed == 0) & (st.shift > 0))
        hits = idx[trigger] - old  # rows (1-based within segment)
        hits = hits[hits >= 1]
        stop = int(hits[0]) if len(hits) else len(al)
        rows = slice(pos, pos + stop)
        score[rows], alarm[rows], contrib[rows] = s[:stop], al[:stop], cs[:stop]
        level[rows] = self.threshold + st.shift
        st.smooth, st.contrib = float(s[stop - 1]), cs[stop - 1].copy()
        st.recent_alarm = hist[: old + stop][-w:]
        st.recent_score = np.concatenate([st.recent_score, s[:stop]])[-w:]
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
    d = X.shape[1]
    blank = StreamState(0.0, np.zeros(d), linear, np.zeros((0, d)), np.zeros(0, dtype=bool))
    model = HealthModel(cfg, linear, 1.0, 1.0, math.inf, np.zeros(0), blank)
    R, T = linear.parts(Zcal)
    if cfg.residual_norm:
        model.resid_var = np.maximum((R**2).mean(axis=0), _EPS)
    model.spe_ref = max(float(np.median((R**2 / (model.resid_var if cfg.residual_norm else 1.0)).sum(axis=1))), _EPS)
    model.t2_ref = max(float(np.median((T**2).sum(axis=1))), _EPS) if T.shape[1] else 1.0
    if cfg.ar_weight > 0:
        model.ar_coef = ar_coefficients(Zfit)
        E = model._ar_residual(Zcal, Zfit[-1])
        model.ar_var = np.maximum((E**2).mean(axis=0), _EPS)
        model.ar_ref = max(float(np.median((E**2 / model.ar_var).sum(axis=1))), _EPS)
    _calibrate(model, X[k:], Zfit, Zcal)
    return model


def _calibrate(model: HealthModel, Xcal: np.ndarray, Zfit: np.ndarray, Zcal: np.ndarray) -> None:
    """Threshold and starting state from the held-back rows, scored as a stream after the fitted ones."""
    cfg = model.config
    init, _ = model._raw(Zfit[-1:], prev=Zfit[-2] if len(Zfit) > 1 else None)
    raw, c = model._raw(Zcal, prev=Zfit[-1])
    s = _ewma(raw, cfg.smoothing, float(init[0]))
    model.calibration = np.sort(s)
    n = len(s)
    q = min(1.0, math.ceil((n + 1) * (1.0 - cfg.false_alarm_rate)) / n)
    model.threshold = float(np.quantile(model.calibration, q, method="higher"))
    cs = _ewma(c, cfg.smoothing, np.zeros(Zcal.shape[1]))
    w = cfg.drift_window
    model.start = StreamState(float(s[-1]), cs[-1].copy(), model.linear, Xcal[-w:].copy(),
                              (s > model.threshold)[-w:], Zcal[-1].copy(), s[-w:].copy())


def _ewma(x: np.ndarray, a: float, init: float | np.ndarray) -> np.ndarray:
    """y[t] = a x[t] + (1 - a) y[t-1], with y[-1] = init; along rows."""
    zi = (1.0 - a) * np.asarray(init, dtype=float)
    y, _ = lfilter([a], [1.0, a - 1.0], x, axis=0, zi=zi[None, ...] if np.ndim(x) == 2 else np.atleast_1d(zi))
    return y

"""The multivariate health score for a whole fleet: one model per target type, a baseline per target.

Why per type with per-target baselines: in the first minutes a target has a few dozen history rows, too few
for its own covariance of ~30 features, while the fleet's targets of one type share how their metrics move
together (load drives CPU, network and disk alike). So each type's rows are pooled *after* subtracting each
target's own median (its baseline): the model learns the shared correlation structure of deviations, and a
host that always runs hot is normal for itself. A target too young to have a baseline of its own uses its
type's pooled median until the next refit.

Calibration is per target stream: each target's held-back (latest) rows are scored as their own smoothed
stream, and the union of those scores sets the conformal threshold and the risk ("share of held-back normal
rows scoring lower"). Live rows come at whatever cadence callers ask, so smoothing is in time, not in rows:
a row `k` steps after the last one gets the weight k rows would have had.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

import numpy as np

from aiops.failure.health.config import HealthConfig
from aiops.failure.health.multivariate import HealthModel, StreamState, fit_health

__all__ = ["TypeHealth", "TargetHealth", "FleetHealth", "fit_fleet_health", "history_matrix"]

_MIN_CAL_ROWS = 10


@dataclass
class TargetHealth:
    """A target's latest scored row: what a prediction is written from."""

    as_of: float
    score: float
    risk: float  # share of held-back normal rows scoring lower (0-1)
    alarm: bool
    causes: list[tuple[str, float, float]]  # (feature, share of the score, deviation from the target's baseline)
    values: dict[str, float | None]


@dataclass
class TypeHealth:
    """One target type's fitted score, its columns and its targets' baselines."""

    columns: list[str]
    model: HealthModel
    baselines: dict[str, np.ndarray]
    pooled: np.ndarray
    starts: dict[str, tuple[StreamState, float]]  # per target: state after its history, and that history's last ts
    rows: int

    @property
    def calibration_rows(self) -> int:
        return len(self.model.calibration)


def history_matrix(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(timestamps, rows x columns) of the usable history rows: a row mostly empty (before the target's data
    began, or a gap) is dropped; a missing value is NaN."""
    ts, out = [], []
    for r in rows:
        vals = [r.get(c) for c in columns]
        if sum(v is None for v in vals) * 2 >= len(columns):
            continue
        ts.append(float(r["ts"]))
        out.append([np.nan if v is None else float(v) for v in vals])
    return np.asarray(ts, dtype=float), np.asarray(out, dtype=float).reshape(len(out), len(columns))


def _columns(histories: Sequence[Mapping[str, Any]]) -> list[str]:
    """Features present (not None) in at least half of the type's rows, in a stable order."""
    seen: dict[str, int] = {}
    total = 0
    for h in histories:
        for r in h["rows"]:
            present = [k for k, v in r.items() if k != "ts" and v is not None]
            if len(present) * 2 < len(r) - 1:
                continue  # before the target's data began (only the zero-filled event counts are set)
            total += 1
            for k in present:
                seen[k] = seen.get(k, 0) + 1
    return sorted(k for k, n in seen.items() if n * 2 >= total)


def _median(X: np.ndarray, fallback: np.ndarray | None = None) -> np.ndarray:
    with np.errstate(all="ignore"):
        m = np.nanmedian(X, axis=0) if len(X) else np.full(X.shape[1], np.nan)
    if fallback is not None:
        m = np.where(np.isfinite(m), m, fallback)
    return np.where(np.isfinite(m), m, 0.0)


def _fit_type(histories: Sequence[Mapping[str, Any]], cfg: HealthConfig, min_rows: int) -> TypeHealth | None:
    columns = _columns(histories)
    if not columns:
        return None
    series = {h["target_id"]: history_matrix(h["rows"], columns) for h in histories}
    series = {t: s for t, s in series.items() if len(s[1]) >= min_rows}
    if not series:
        return None
    baselines, fit_parts, cal_parts = {}, [], {}
    for t, (_, X) in series.items():
        baselines[t] = _median(X)
        k = max(2, int(round(len(X) * (1.0 - cfg.calibration_share))))
        fit_parts.append(X[:k] - baselines[t])
        cal_parts[t] = X[k:] - baselines[t]
    n_cal = sum(len(c) for c in cal_parts.values())
    n_fit = sum(len(f) for f in fit_parts)
    if n_cal < _MIN_CAL_ROWS or n_fit + n_cal < 20:
        return None
    stacked = np.vstack([*fit_parts, *cal_parts.values()])
    stacked = np.where(np.isfinite(stacked), stacked, 0.0)  # a missing value sits at the target's baseline
    model = fit_health(stacked, cfg.model_copy(update={"calibration_share": n_cal / len(stacked)}))
    model = _calibrate_per_target(model, fit_parts, cal_parts)
    starts = {}
    for (t, (ts, X)), fit in zip(series.items(), fit_parts):
        state = _fresh_state(model, fit)
        _, state = model.score(np.where(np.isfinite(X[len(fit):]), X[len(fit):], baselines[t]) - baselines[t], state)
        starts[t] = (state, float(ts[-1]))
    pooled = _median(np.vstack([X for _, X in series.values()]))
    return TypeHealth(columns, model, baselines, pooled, starts, len(stacked))


def _fresh_state(model: HealthModel, fit_rows: np.ndarray) -> StreamState:
    """A target's stream state at the end of its own fitted rows (its level, not the fleet's)."""
    last = np.where(np.isfinite(fit_rows[-1:]), fit_rows[-1:], 0.0)
    raw = replace(model, threshold=math.inf, config=model.config.model_copy(update={"smoothing": 1.0}))
    res, _ = raw.score(last, replace(model.start, contrib=np.zeros_like(model.start.contrib)))
    return replace(model.start, smooth=float(res.score[0]), contrib=np.zeros_like(model.start.contrib),
                   recent_x=np.zeros((0, fit_rows.shape[1])), recent_alarm=np.zeros(0, dtype=bool))


def _calibrate_per_target(model: HealthModel, fit_parts: list[np.ndarray], cal_parts: dict[str, np.ndarray]) -> HealthModel:
    """Threshold and risk from each target's held-back rows scored as that target's own stream."""
    probe = replace(model, threshold=math.inf)
    scores = []
    for fit, cal in zip(fit_parts, cal_parts.values()):
        if len(cal):
            res, _ = probe.score(np.where(np.isfinite(cal), cal, 0.0), _fresh_state(model, fit))
            scores.append(res.score)
    s = np.sort(np.concatenate(scores))
    n, fa = len(s), model.config.false_alarm_rate
    q = min(1.0, math.ceil((n + 1) * (1.0 - fa)) / n)
    return replace(model, calibration=s, threshold=float(np.quantile(s, q, method="higher")))


def fit_fleet_health(histories: Sequence[Mapping[str, Any]], config: HealthConfig | None = None,
                     min_rows: int = 8) -> dict[str, TypeHealth]:
    """Per target type, the pooled score over baseline-subtracted history ({"target_id", "target_type",
    "rows": [{"ts", feature: value}]}, as the shards' history query answers); types with too little
    history are left out."""
    cfg = config or HealthConfig()
    by_type: dict[str, list[Mapping[str, Any]]] = {}
    for h in histories:
        by_type.setdefault(str(h.get("target_type") or "host"), []).append(h)
    out = {}
    for kind, hs in sorted(by_type.items()):
        fitted = _fit_type(hs, cfg, min_rows)
        if fitted is not None:
            out[kind] = fitted
    return out


class FleetHealth:
    """Scores live feature vectors against the fitted types, keeping each target's stream state between calls."""

    def __init__(self, types: Mapping[str, TypeHealth], step_s: float) -> None:
        self.types = dict(types)
        self.step_s = step_s
        self._states: dict[str, tuple[StreamState, float]] = {}
        self._last: dict[str, TargetHealth] = {}

    def knows(self, target_type: str) -> bool:
        return target_type in self.types

    def score(self, target_id: str, target_type: str, as_of: float, features: Mapping[str, Any]) -> TargetHealth | None:
        """The target's health at `as_of`; the same row asked again is not scored twice (the state moves only
        on newer rows). None for a type that was not fitted."""
        th = self.types.get(target_type)
        if th is None:
            return None
        last = self._last.get(target_id)
        if last is not None and as_of <= last.as_of:
            return last
        state, prev_ts = self._states.get(target_id) or th.starts.get(target_id) or (None, None)
        base = th.baselines.get(target_id, th.pooled)
        x = np.array([[np.nan if features.get(c) is None else float(features[c]) for c in th.columns]])
        x = np.where(np.isfinite(x), x, base) - base
        model = th.model
        if prev_ts is not None and as_of > prev_ts:
            steps = min((as_of - prev_ts) / self.step_s, 50.0)  # EWMA in time: k steps weigh like k rows
            a = 1.0 - (1.0 - model.config.smoothing) ** max(steps, 1e-3)
            model = replace(model, config=model.config.model_copy(update={"smoothing": min(a, 1.0)}))
        res, state = model.score(x, state)
        self._states[target_id] = (state, as_of)
        share = state.contrib / max(float(state.contrib.sum()), 1e-12)
        causes = [(th.columns[j - 1], float(share[j - 1]), float(x[0, j - 1])) for j in res.causes[0]]
        out = TargetHealth(float(as_of), float(res.score[0]), float(res.risk[0]), bool(res.alarm[0]), causes,
                           {c: (None if features.get(c) is None else float(features[c])) for c in th.columns})
        self._last[target_id] = out
        return out

"""Learning from placement outcomes: storage, anomaly flags, bounded weight updates, drift.

* Outcomes are kept through a small ``FeedbackStore`` interface (plain JSON-able dicts)
  so a Redis store can replace the in-memory one without touching the learner.
* Outcome ``y`` in [0, 1] blends measured performance, user satisfaction and reported
  issues. The residual ``y - placement_score`` says how wrong the ranking was.
* A placement is anomalous when its residual is a robust outlier (median/MAD z-score)
  among past residuals: the score promised much more (or less) than was delivered.
* Weights follow factor–outcome correlations: every ``update_every`` outcomes the
  Pearson correlation ``r`` between each factor's normalised value (as seen when the
  node was recommended) and the outcome is measured over the latest window and
  soft-thresholded at its significance level (``z / sqrt(n)``); the weight becomes
  ``catalog weight × exp(lr · r)``, clipped to bounds set by the factor's importance.
  Recomputing from the catalog weight (rather than compounding) keeps overlapping
  windows from pushing a weight on the same evidence again. Each change is saved as a
  new version.
* Drift: a two-sample Kolmogorov–Smirnov test between a reference window of residuals
  and the latest window; a significant shift schedules retraining in the store.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Protocol, Sequence

import numpy as np
from scipy.stats import ks_2samp


class FeedbackStore(Protocol):
    """Persistence used by the learner; all values are JSON-serialisable."""

    def append_outcome(self, record: dict[str, Any]) -> None: ...
    def outcomes(self, limit: int | None = None) -> list[dict[str, Any]]: ...
    def count_outcomes(self) -> int: ...
    def save_weights(self, version: int, weights: dict[str, float], meta: dict[str, Any]) -> None: ...
    def latest_weights(self) -> dict[str, Any] | None: ...
    def weight_history(self) -> list[dict[str, Any]]: ...
    def put_placement(self, placement_id: str, payload: dict[str, Any]) -> None: ...
    def get_placement(self, placement_id: str) -> dict[str, Any] | None: ...
    def schedule_retraining(self, reason: str, meta: dict[str, Any]) -> None: ...
    def retraining_requests(self) -> list[dict[str, Any]]: ...


class InMemoryFeedbackStore:
    """Bounded in-process store (the default when no Redis is configured)."""

    def __init__(self, max_outcomes: int = 100_000, max_placements: int = 50_000):
        self._outcomes: deque[dict[str, Any]] = deque(maxlen=max_outcomes)
        self._total = 0
        self._weights: list[dict[str, Any]] = []
        self._placements: dict[str, dict[str, Any]] = {}
        self._max_placements = max_placements
        self._retrain: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def append_outcome(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._outcomes.append(dict(record))
            self._total += 1

    def outcomes(self, limit: int | None = None) -> list[dict[str, Any]]:
        with self._lock:
            items = list(self._outcomes)
        return items[-limit:] if limit else items

    def count_outcomes(self) -> int:
        return self._total

    def save_weights(self, version: int, weights: dict[str, float], meta: dict[str, Any]) -> None:
        with self._lock:
            self._weights.append({"version": version, "weights": dict(weights), "meta": dict(meta)})

    def latest_weights(self) -> dict[str, Any] | None:
        with self._lock:
            return dict(self._weights[-1]) if self._weights else None

    def weight_history(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(w) for w in self._weights]

    def put_placement(self, placement_id: str, payload: dict[str, Any]) -> None:
        with self._lock:
            if len(self._placements) >= self._max_placements:
                self._placements.pop(next(iter(self._placements)))
            self._placements[placement_id] = payload

    def get_placement(self, placement_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._placements.get(placement_id)

    def schedule_retraining(self, reason: str, meta: dict[str, Any]) -> None:
        with self._lock:
            self._retrain.append({"reason": reason, "meta": dict(meta), "ts": time.time()})

    def retraining_requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._retrain)


@dataclass(frozen=True)
class FeedbackRecord:
    placement_id: str
    node_id: str
    placement_score: float
    actual_performance: float        # 0..1: share of expected performance delivered (SLO attainment)
    user_satisfaction: float         # 1..5
    issues: tuple[str, ...] = ()
    timestamp: float = field(default_factory=time.time)
    vm: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LearnerConfig:
    min_samples: int = 30
    update_every: int = 10
    window: int = 500
    learning_rate: float = 1.5
    significance_z: float = 2.0
    anomaly_z: float = 3.5
    drift_window: int = 50
    drift_p: float = 0.01


@dataclass(frozen=True)
class FeedbackOutcome:
    accepted: bool
    outcome: float
    residual: float
    anomalous: bool
    anomaly_score: float
    anomaly_reasons: tuple[str, ...]
    weights_version: int
    weights_updated: bool
    changed_factors: tuple[str, ...]
    drift_detected: bool
    retraining_scheduled: bool
    samples: int


def outcome_value(perf: float, satisfaction: float, issues: Sequence[str]) -> float:
    """Blend measured performance (60 %), satisfaction (40 %) and a penalty per reported issue."""
    y = 0.6 * perf + 0.4 * (satisfaction - 1.0) / 4.0 - 0.05 * min(len(issues), 4)
    return float(np.clip(y, 0.0, 1.0))


class FeedbackLearner:
    """Adjusts factor weights from outcomes; thread-safe."""

    def __init__(self, base_weights: Mapping[str, float], bounds: Mapping[str, tuple[float, float]],
                 store: FeedbackStore, config: LearnerConfig | None = None):
        self.base = dict(base_weights)
        self.bounds = dict(bounds)
        self.store = store
        self.cfg = config or LearnerConfig()
        self._lock = threading.Lock()
        latest = store.latest_weights()
        if latest and set(latest["weights"]) >= set(self.base):
            self.version, self.weights = int(latest["version"]), dict(latest["weights"])
        else:
            self.version, self.weights = 1, dict(self.base)
            store.save_weights(self.version, self.weights, {"reason": "catalog", "ts": time.time()})
        self._residuals: list[float] = [r["residual"] for r in store.outcomes(self.cfg.window)]
        self._reference: list[float] | None = None
        self._since_reference: list[float] = []
        self.drift = False

    def acknowledge_retraining(self) -> None:
        """Clear the drift flag once the scheduled retraining has run."""
        with self._lock:
            self.drift = False

    def current(self) -> tuple[int, dict[str, float]]:
        with self._lock:
            return self.version, dict(self.weights)

    def record(self, fb: FeedbackRecord, factor_vector: Mapping[str, float] | None) -> FeedbackOutcome:
        """Store one outcome, flag anomalies, maybe update weights and check drift."""
        y = outcome_value(fb.actual_performance, fb.user_satisfaction, fb.issues)
        resid = y - fb.placement_score
        with self._lock:
            z, reasons = self._anomaly(resid, fb)
            anomalous = bool(reasons)
            rec = {**asdict(fb), "vm": dict(fb.vm), "issues": list(fb.issues), "outcome": y, "residual": resid,
                   "anomalous": anomalous, "factors": dict(factor_vector or {}), "weights_version": self.version}
            self.store.append_outcome(rec)
            self._residuals.append(resid)
            self._residuals = self._residuals[-self.cfg.window:]
            n = self.store.count_outcomes()
            changed: tuple[str, ...] = ()
            if n >= self.cfg.min_samples and n % self.cfg.update_every == 0:
                changed = self._update_weights()
            drift, scheduled = self._check_drift(resid)
            return FeedbackOutcome(True, y, resid, anomalous, z, tuple(reasons), self.version, bool(changed),
                                   changed, drift, scheduled, n)

    # ---- internals (called with the lock held) ---------------------------------
    def _anomaly(self, resid: float, fb: FeedbackRecord) -> tuple[float, list[str]]:
        reasons: list[str] = []
        z = 0.0
        hist = np.asarray(self._residuals, dtype=float)
        if hist.size >= 10:
            med = float(np.median(hist))
            mad = float(np.median(np.abs(hist - med))) * 1.4826
            z = (resid - med) / max(mad, 0.02)
            if abs(z) > self.cfg.anomaly_z:
                kind = "under-delivered" if z < 0 else "over-delivered"
                reasons.append(f"outcome {kind}: residual {resid:+.2f} is {abs(z):.1f} robust SDs from typical")
        if any(i.lower() in ("crash", "oom", "data_loss", "host_failure") for i in fb.issues):
            reasons.append("severe issue reported: " + ", ".join(fb.issues))
        return z, reasons

    def _update_weights(self) -> tuple[str, ...]:
        rows = [r for r in self.store.outcomes(self.cfg.window) if r.get("factors")]
        if len(rows) < self.cfg.min_samples:
            return ()
        ids = [fid for fid in self.base if all(fid in r["factors"] for r in rows)]
        if not ids:
            return ()
        x = np.array([[r["factors"][fid] for fid in ids] for r in rows], dtype=float)
        y = np.array([r["outcome"] for r in rows], dtype=float)
        xc = x - x.mean(axis=0)
        yc = y - y.mean()
        denom = np.sqrt((xc ** 2).sum(axis=0) * (yc ** 2).sum())
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.where(denom > 1e-12, (xc * yc[:, None]).sum(axis=0) / denom, 0.0)
        # soft-threshold at the significance level, so noise correlations give no change
        threshold = self.cfg.significance_z / np.sqrt(len(rows))
        shrunk = np.sign(r) * np.maximum(np.abs(r) - threshold, 0.0)
        changed = []
        for fid, rj in zip(ids, shrunk):
            lo, hi = self.bounds.get(fid, (0.5, 2.0))
            base = self.base[fid]
            new = float(np.clip(base * np.exp(self.cfg.learning_rate * rj), base * lo, base * hi))
            if abs(new - self.weights[fid]) > 0.01 * max(base, 1e-9):
                self.weights[fid] = new
                changed.append(fid)
        if changed:
            self.version += 1
            self.store.save_weights(self.version, self.weights, {
                "reason": "feedback correlation", "samples": len(rows), "ts": time.time(),
                "correlations": {fid: float(rj) for fid, rj in zip(ids, r) if fid in changed}})
        return tuple(changed)

    def _check_drift(self, resid: float) -> tuple[bool, bool]:
        w = self.cfg.drift_window
        if self._reference is None:
            self._since_reference.append(resid)
            if len(self._since_reference) >= w:
                self._reference, self._since_reference = self._since_reference[:w], []
            return self.drift, False
        self._since_reference.append(resid)
        if len(self._since_reference) < w:
            return self.drift, False
        recent = self._since_reference[-w:]
        p = float(ks_2samp(self._reference, recent).pvalue)
        if p < self.cfg.drift_p:
            self.drift = True
            shift = float(np.mean(recent) - np.mean(self._reference))
            self.store.schedule_retraining("placement outcome drift", {
                "ks_pvalue": p, "residual_shift": shift, "weights_version": self.version, "window": w})
            self._reference, self._since_reference = recent, []
            return True, True
        self._since_reference = self._since_reference[-w:]
        return self.drift, False

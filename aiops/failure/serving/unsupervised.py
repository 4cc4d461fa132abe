"""Predictions from the label-free fleet health score, in the served `Prediction` shape.

What the numbers mean (also in `describe()`, served by GET /api/ai/models/failure-prediction):

* `failure_probability` is a **calibrated risk, not a probability of failure within the horizon**: the share of
  held-back normal rows of the same target type (each target's own latest history, scored as its own stream)
  whose health score is lower than this target's now. On normal behaviour it is spread evenly over 0-1, so a
  value of 0.8 alone means nothing; values near 1 mean "more unusual than almost everything seen as normal".
* `severity` is therefore read from the score, not from the bands a supervised probability uses: low below the
  label-free alarm threshold (where 1 - false_alarm_rate of held-back rows lie), medium above it, high beyond
  every held-back row, critical beyond them by the held-back rows' own spread again.
* `confidence_interval` is the 10-90 % Beta interval of that share with an effective sample size shrunk for
  the smoothing's autocorrelation (n x a / (2 - a)): wide, because a few dozen rows per target say little.
* `time_to_failure` is null: the score says something is unusual, not when (or whether) it fails.
* contributing factors are the metrics the score blames (their share of the smoothed score).
"""
from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from scipy.stats import beta

from aiops.failure.health.fleet import FleetHealth, TargetHealth, TypeHealth
from aiops.failure.serving.predictor import Prediction

__all__ = ["UNSUPERVISED_PREFIX", "UNSUPERVISED_TYPE", "is_unsupervised", "unsupervised_version", "UnsupervisedCore"]

UNSUPERVISED_PREFIX = "unsupervised-health-"
UNSUPERVISED_TYPE = "unsupervised-health"
MEANING = ("label-free fleet health score (no supervised failure model is promoted yet): failure_probability is the "
           "share of held-back normal rows of the same target type whose health score is lower than this target's, "
           "not a probability of failure within the horizon; severity is medium above the label-free alarm threshold, "
           "high beyond every held-back row; time_to_failure is null; factors are the metrics the score blames")


def is_unsupervised(model_version: str | None) -> bool:
    """Whether a served version is the label-free fallback (its risk must not be read as a probability)."""
    return bool(model_version) and str(model_version).startswith(UNSUPERVISED_PREFIX)


def unsupervised_version(fitted_at: float) -> str:
    """`unsupervised-health-<UTC fit time>`: a new fit is a new version (caches and snapshots follow)."""
    return UNSUPERVISED_PREFIX + datetime.fromtimestamp(fitted_at, timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _severity(th: TypeHealth, score: float) -> str:
    cal = th.model.calibration
    top, mid = float(cal[-1]), float(np.median(cal))
    if score > top + (top - mid):
        return "critical"
    if score > top:
        return "high"
    return "medium" if score > th.model.threshold else "low"


def _interval(risk: float, n_cal: int, smoothing: float) -> tuple[float, float]:
    n_eff = max(2.0, n_cal * smoothing / (2.0 - smoothing))
    lo, hi = beta.ppf([0.1, 0.9], risk * n_eff + 0.5, (1.0 - risk) * n_eff + 0.5)
    return float(min(lo, risk)), float(max(hi, risk))


class UnsupervisedCore:
    """Same interface as `FailurePredictorCore` (version, horizon_s, predict) over a fitted `FleetHealth`."""

    def __init__(self, fleet: FleetHealth, fitted_at: float, horizon_s: float,
                 vms_on_host: Callable[[str], int] | None = None, history: Mapping[str, Any] | None = None) -> None:
        self.fleet = fleet
        self.fitted_at = fitted_at
        self.version = unsupervised_version(fitted_at)
        self.horizon_s = horizon_s  # only echoed: the risk does not depend on it
        self.history = dict(history or {})
        self._vms_on_host = vms_on_host or (lambda host: 0)

    def predict(self, vectors: Sequence[Mapping[str, Any]], horizon_s: float | None = None,
                include_recommendations: bool = True, top_k: int = 5) -> list[Prediction]:
        """One prediction per vector whose target type was fitted (others are left out, like unknown targets)."""
        out, now = [], time.time()
        for v in vectors:
            kind = str(v.get("target_type") or "host")
            as_of = float(v.get("as_of") or now)
            h = self.fleet.score(v["target_id"], kind, as_of, v.get("features") or {})
            if h is None:
                continue
            th = self.fleet.types[kind]
            sev = _severity(th, h.score)
            factors = self._factors(h, top_k)
            recs = self.recommendations(v["target_id"], kind, sev, factors) if include_recommendations else []
            out.append(Prediction(v["target_id"], kind, h.risk,
                                  _interval(h.risk, th.calibration_rows, th.model.config.smoothing), None, None, sev,
                                  factors, recs, self.version, as_of, now))
        return out

    @staticmethod
    def _factors(h: TargetHealth, top_k: int) -> list[dict[str, Any]]:
        return [{"feature": name, "value": h.values.get(name), "contribution": share,
                 "description": f"{name} {'above' if dev > 0 else 'below'} this target's baseline"}
                for name, share, dev in h.causes[:top_k] if share > 0]

    def recommendations(self, target_id: str, target_type: str, sev: str, factors: list[dict[str, Any]]) -> list[str]:
        """Investigate when the score alarms; suggest an evacuation plan only beyond every normal row."""
        if sev == "low":
            return []
        why = ", ".join(f["description"] for f in factors[:2]) or "unusual metrics"
        if target_type != "host":
            return [f"investigate VM {target_id}: {why} (label-free health score)"]
        n = self._vms_on_host(target_id)
        recs = [f"investigate host {target_id}: {why} (label-free health score"
                + (f"; {n} VM{'s' if n != 1 else ''} on it)" if n else ")")]
        if sev in ("high", "critical"):
            recs.append(f"consider an evacuation plan: POST /api/ai/placement/evacuations with host_ids=[{target_id}]")
        return recs

    def describe(self, device: str, replica: str) -> dict[str, Any]:
        """The /models/failure-prediction answer: plainly unsupervised, what the score means, what it was fitted on."""
        per_type = {k: {"targets": len(t.baselines), "rows": t.rows, "calibration_rows": t.calibration_rows,
                        "features": len(t.columns), "alarm_score": t.model.threshold}
                    for k, t in self.fleet.types.items()}
        features = sorted({c for t in self.fleet.types.values() for c in t.columns})
        cfg = next(iter(self.fleet.types.values())).model.config
        return {"id": f"fleet-health:{self.version}", "type": UNSUPERVISED_TYPE, "version": self.version,
                "accuracy": None, "precision": None, "recall": None, "f1_score": None, "last_trained": self.fitted_at,
                "decision_threshold": None, "training_data_size": sum(t.rows for t in self.fleet.types.values()),
                "features": features, "supervised": False, "description": MEANING,
                "performance_metrics": {"supervised": False, "meaning": MEANING, "device": device, "replica": replica,
                                        "false_alarm_rate": cfg.false_alarm_rate, "history_step_s": self.fleet.step_s,
                                        "per_type": per_type, **self.history}}

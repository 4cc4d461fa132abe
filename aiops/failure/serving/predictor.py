"""Turn feature vectors into failure predictions an operator can act on.

Probability from the model, an interval from the spread of its bagged members,
time to failure from the hazard implied by P(fail within H) (constant-hazard
assumption, stated in the answer), contributing factors from SHAP contributions,
and recommendations written from the top factors.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from aiops.features.definitions import FeatureDefinition

TTF_MIN_PROBABILITY = 0.05  # below this a time to failure says nothing useful
SEVERITY = ((0.9, "critical"), (0.7, "high"), (0.4, "medium"), (0.0, "low"))
_RISING = {"trend", "change_rate", "rate", "spike_count", "count", "sum"}


def severity(p: float) -> str:
    return next(name for floor, name in SEVERITY if p >= floor)


def rescale_horizon(p: np.ndarray, trained_s: float, wanted_s: float) -> np.ndarray:
    """P(fail within wanted) from P(fail within trained), assuming a constant hazard."""
    p = np.clip(p, 0.0, 1 - 1e-9)
    return 1.0 - (1.0 - p) ** (wanted_s / trained_s)


def at_horizon(pred: dict[str, Any], trained_s: float, wanted_s: float) -> dict[str, Any]:
    """A served prediction restated for another horizon (probability, interval, severity)."""
    p = float(rescale_horizon(np.array([pred["failure_probability"]]), trained_s, wanted_s)[0])
    lo, hi = rescale_horizon(np.array(pred["confidence_interval"], dtype=np.float64), trained_s, wanted_s)
    return {**pred, "failure_probability": p, "confidence_interval": (float(lo), float(hi)), "severity": severity(p)}


def time_to_failure(p: float, horizon_s: float) -> tuple[float | None, tuple[float, float] | None]:
    """Median and 10-90% interval of the failure time under the hazard implied by p."""
    if p <= 1e-6:
        return None, None
    lam = -math.log(max(1e-12, 1.0 - min(p, 1 - 1e-9))) / horizon_s
    q = lambda a: -math.log(1.0 - a) / lam  # noqa: E731
    return q(0.5), (q(0.1), q(0.9))


@dataclass
class Prediction:
    target_id: str
    target_type: str
    failure_probability: float
    confidence_interval: tuple[float, float]
    time_to_failure: float | None  # seconds
    time_to_failure_interval: tuple[float, float] | None
    severity: str
    contributing_factors: list[dict[str, Any]]
    recommendations: list[str]
    model_version: str
    features_as_of: float
    last_updated: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def describe_factor(name: str, contribution: float, definitions: Mapping[str, FeatureDefinition]) -> str:
    d = definitions.get(name)
    metric = d.source if d and d.source else name
    if contribution < 0:
        return f"{metric} normal"
    if d and d.aggregation in _RISING:
        return f"{metric} rising"
    return f"{metric} high"


def _number(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


class FailurePredictorCore:
    """Model + metadata -> predictions; no Ray, no I/O."""

    def __init__(self, model: Any, version: str, horizon_s: float, definitions: Sequence[FeatureDefinition],
                 vms_on_host: Callable[[str], int] | None = None, survival: Any | None = None,
                 survival_unit_s: float = 3600.0) -> None:
        self.model = model
        self.survival = survival  # AFT model (trained in hours: seconds-scale labels stall its fit); else hazard
        self.survival_unit_s = survival_unit_s
        self.version = version
        self.horizon_s = horizon_s
        self.definitions = {d.name: d for d in definitions}
        self.features = list(model.feature_names)
        self._vms_on_host = vms_on_host or (lambda host: 0)

    def frame(self, vectors: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
        """Model inputs in training order; a categorical like target_type comes from the vector itself."""
        categorical = set(getattr(getattr(self.model, "schema", None), "categories", {}) or {})
        rows = []
        for v in vectors:
            feats = v["features"]
            rows.append({f: (v.get(f) if f in categorical else (np.nan if feats.get(f) is None else feats[f]))
                         for f in self.features})
        X = pd.DataFrame(rows, columns=self.features)
        for c in self.features:
            if c not in categorical:
                X[c] = X[c].astype(np.float64)
        return X

    def _member_probs(self, X: pd.DataFrame) -> np.ndarray | None:
        boosters = getattr(self.model, "boosters", None)
        if not boosters or len(boosters) < 2:
            return None
        import xgboost as xgb

        d = xgb.DMatrix(self.model.schema.conform(X), enable_categorical=True)
        margins = np.stack([b.predict(d, output_margin=True) for b in boosters])
        from aiops.failure.models import prior_correct

        p = 1.0 / (1.0 + np.exp(-margins))
        rate = self.model.params.neg_sample_rate / max(self.model.params.scale_pos_weight, 1e-12)
        return np.stack([prior_correct(row, rate) for row in p])

    def predict(self, vectors: Sequence[Mapping[str, Any]], horizon_s: float | None = None,
                include_recommendations: bool = True, top_k: int = 5) -> list[Prediction]:
        if not vectors:
            return []
        X = self.frame(vectors)
        p = np.asarray(self.model.predict_proba(X), dtype=np.float64)
        members = self._member_probs(X)
        lo, hi = (p, p) if members is None else (np.percentile(members, 10, axis=0), np.percentile(members, 90, axis=0))
        h = horizon_s or self.horizon_s
        if h != self.horizon_s:
            p, lo, hi = (rescale_horizon(a, self.horizon_s, h) for a in (p, lo, hi))
        contrib, names = self.model.contributions(X)
        ttfs = self.survival.predict(X) if self.survival is not None else None
        now = time.time()
        out = []
        for i, vec in enumerate(vectors):
            order = np.argsort(-contrib[i])[:top_k]
            factors = [{"feature": names[j], "value": _number(X.iloc[i][names[j]]),
                        "contribution": float(contrib[i, j]),
                        "description": describe_factor(names[j], float(contrib[i, j]), self.definitions)}
                       for j in order if contrib[i, j] > 0]
            prob = float(p[i])
            if ttfs is not None:
                u = self.survival_unit_s
                ttf, ttf_iv = ((ttfs[i].median * u, (ttfs[i].lower * u, ttfs[i].upper * u)) if prob >= TTF_MIN_PROBABILITY
                               else (None, None))
            else:
                ttf, ttf_iv = time_to_failure(prob, h)
            recs = self.recommendations(vec["target_id"], vec.get("target_type", "host"), prob, factors) if include_recommendations else []
            out.append(Prediction(vec["target_id"], vec.get("target_type", "host"), prob,
                                  (float(min(lo[i], prob)), float(max(hi[i], prob))), ttf, ttf_iv, severity(prob), factors,
                                  recs, self.version, float(vec.get("as_of", now)), now))
        return out

    def recommendations(self, target_id: str, target_type: str, p: float, factors: list[dict[str, Any]]) -> list[str]:
        if p < 0.4:
            return []
        why = ", ".join(f["description"] for f in factors[:2]) or "elevated risk"
        if target_type == "host":
            n = self._vms_on_host(target_id)
            action = "drain" if p >= 0.7 else "schedule maintenance for"
            moves = f", {n} VM{'s' if n != 1 else ''} to move" if n else ""
            recs = [f"{action} host {target_id}: {why}{moves}"]
            if p >= 0.7:
                recs.append(f"request an evacuation plan: POST /api/ai/placement/plan with evacuate_host={target_id}")
            return recs
        return [f"{'migrate or restart' if p >= 0.7 else 'watch'} VM {target_id}: {why}"]

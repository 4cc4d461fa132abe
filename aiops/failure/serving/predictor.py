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
import orjson
import pandas as pd

from aiops.features.definitions import FeatureDefinition
from aiops.failure.serving.horizon import TTF_MIN_PROBABILITY, rescale_horizon, severity, time_to_failure

__all__ = ["Prediction", "FailurePredictorCore", "describe_factor"]

_RISING = {"trend", "change_rate", "rate", "spike_count", "count", "sum"}


@dataclass
class Prediction:
    """One target's answer, in the API's field order; `to_json` is its one serialised (served) form."""

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
        """Field name -> value, as the API schema names them."""
        return dict(self.__dict__)

    def to_json(self) -> bytes:
        """The bytes every cache, the snapshot and HTTP pass through unchanged (serialised once, here)."""
        return orjson.dumps(self.__dict__)


def describe_factor(name: str, contribution: float, definitions: Mapping[str, FeatureDefinition]) -> str:
    """Operator wording for a factor: the source metric and whether it is high, rising or normal."""
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

    def _probabilities(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        """Combined and per-member probabilities from one pass over the boosters when the model offers it."""
        both = getattr(self.model, "predict_proba_members", None)
        if both is not None:
            p, members = both(X)
        else:
            p, members = self.model.predict_proba(X), None
        return np.asarray(p, dtype=np.float64), members

    def predict(self, vectors: Sequence[Mapping[str, Any]], horizon_s: float | None = None,
                include_recommendations: bool = True, top_k: int = 5) -> list[Prediction]:
        if not vectors:
            return []
        X = self.frame(vectors)
        p, members = self._probabilities(X)
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

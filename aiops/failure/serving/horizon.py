"""Horizon maths for served predictions: severity bands, P(fail within h) from P(fail within H) under a
constant hazard, and the time to failure that hazard implies. Shared by the model core and the ingress,
which restates a cached prediction for another horizon instead of running the model again."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson

__all__ = ["TTF_MIN_PROBABILITY", "SEVERITY", "severity", "rescale_horizon", "at_horizon", "at_horizon_json",
           "time_to_failure"]

TTF_MIN_PROBABILITY = 0.05  # below this a time to failure says nothing useful
SEVERITY = ((0.9, "critical"), (0.7, "high"), (0.4, "medium"), (0.0, "low"))


def severity(p: float) -> str:
    """The severity band a probability falls in (alerts and operators read the band, not the number)."""
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


def at_horizon_json(body: bytes, trained_s: float, wanted_s: float) -> bytes:
    """`at_horizon` on a serialised prediction: one decode and one encode, the same bytes when nothing changes."""
    if wanted_s == trained_s:
        return body
    return orjson.dumps(at_horizon(orjson.loads(body), trained_s, wanted_s))


def time_to_failure(p: float, horizon_s: float) -> tuple[float | None, tuple[float, float] | None]:
    """Median and 10-90% interval of the failure time under the hazard implied by p."""
    if p <= 1e-6:
        return None, None
    lam = -math.log(max(1e-12, 1.0 - min(p, 1 - 1e-9))) / horizon_s
    q = lambda a: -math.log(1.0 - a) / lam  # noqa: E731
    return q(0.5), (q(0.1), q(0.9))

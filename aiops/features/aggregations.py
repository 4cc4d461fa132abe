"""Window aggregations over one series (timestamps, values).

Each function takes the points inside a window (already sliced, ordered by time)
and returns a float; empty windows give NaN so callers can tell "no data" from 0.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["AGGREGATIONS", "DERIVED", "aggregate"]

Aggregation = Callable[[np.ndarray, np.ndarray, dict], float]


def _mean(ts: np.ndarray, v: np.ndarray, p: dict) -> float:
    return float(v.mean(dtype=np.float64))


def _max(ts: np.ndarray, v: np.ndarray, p: dict) -> float:
    return float(v.max())


def _min(ts: np.ndarray, v: np.ndarray, p: dict) -> float:
    return float(v.min())


def _stddev(ts: np.ndarray, v: np.ndarray, p: dict) -> float:
    return float(v.std(dtype=np.float64)) if v.size > 1 else 0.0


def _p50(ts: np.ndarray, v: np.ndarray, p: dict) -> float:
    return float(np.median(v))


def _p95(ts: np.ndarray, v: np.ndarray, p: dict) -> float:
    return float(np.percentile(v, 95))


def _p99(ts: np.ndarray, v: np.ndarray, p: dict) -> float:
    return float(np.percentile(v, 99))


def _sum(ts: np.ndarray, v: np.ndarray, p: dict) -> float:
    return float(v.sum(dtype=np.float64))


def _count(ts: np.ndarray, v: np.ndarray, p: dict) -> float:
    """Number of points, or of points above `threshold` when given (e.g. error events)."""
    thr = p.get("threshold")
    return float(v.size if thr is None else int((v > thr).sum()))


def _rate(ts: np.ndarray, v: np.ndarray, p: dict) -> float:
    """Per-second rate: of a counter (monotone, resets tolerated) or of summed event counts."""
    if p.get("counter", False):
        if v.size < 2 or ts[-1] <= ts[0]:
            return 0.0
        d = np.diff(v.astype(np.float64))
        d[d < 0] = 0.0  # counter reset
        return float(d.sum() / (ts[-1] - ts[0]))
    span = float(p.get("window_s") or (ts[-1] - ts[0]) or 1.0)
    return float(v.sum(dtype=np.float64) / span)


def _trend(ts: np.ndarray, v: np.ndarray, p: dict) -> float:
    """Least-squares slope per hour: rising temperature, leaking memory."""
    if v.size < 2:
        return 0.0
    t = ts - ts.mean()
    denom = float((t * t).sum())
    if denom == 0.0:
        return 0.0
    return float((t * (v - v.mean(dtype=np.float64))).sum() / denom * 3600.0)


def _change_rate(ts: np.ndarray, v: np.ndarray, p: dict) -> float:
    """Relative change from the first to the last quarter of the window."""
    if v.size < 4:
        return 0.0
    q = max(1, v.size // 4)
    first, last = float(v[:q].mean()), float(v[-q:].mean())
    return (last - first) / max(abs(first), 1e-9)


def _spike_count(ts: np.ndarray, v: np.ndarray, p: dict) -> float:
    """Points more than k robust deviations above the window median."""
    if v.size < 3:
        return 0.0
    med = float(np.median(v))
    mad = float(np.median(np.abs(v - med))) * 1.4826
    scale = max(mad, float(p.get("min_scale", 1e-6)))
    return float(((v - med) > float(p.get("k", 3.0)) * scale).sum())


def _last(ts: np.ndarray, v: np.ndarray, p: dict) -> float:
    return float(v[-1])


AGGREGATIONS: dict[str, Aggregation] = {
    "mean": _mean, "max": _max, "min": _min, "stddev": _stddev, "p50": _p50, "p95": _p95, "p99": _p99,
    "sum": _sum, "count": _count, "rate": _rate, "trend": _trend, "change_rate": _change_rate,
    "spike_count": _spike_count, "last": _last,
}
DERIVED = ("ratio", "difference")


def aggregate(name: str, ts: np.ndarray, values: np.ndarray, params: dict | None = None) -> float:
    """Apply a named aggregation; NaN for an empty window."""
    if values.size == 0:
        return float("nan")
    return AGGREGATIONS[name](ts, values, params or {})

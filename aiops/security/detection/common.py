"""Pieces every flow detector shares: conformal p-values and reading a flow's destination port.

Its own module so the sequence detector need not import the network detector (they were a cycle).
"""
from __future__ import annotations

import numpy as np

from aiops.security.events import SecurityEvent


def conformal_p(calib_sorted: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Split-conformal p-values: share of calibration scores ≥ each score (higher = more anomalous)."""
    n = calib_sorted.size
    k = n - np.searchsorted(calib_sorted, scores, side="left")
    return (k + 1.0) / (n + 1.0)


def flow_port(e: SecurityEvent) -> int:
    """The destination port under any of the field names the flow formats use; -1 when absent or junk."""
    f = e.fields
    p = f.get("dst_port", f.get("id.resp_p", f.get("DestinationPort")))
    try:
        return int(p) if p is not None else -1
    except (TypeError, ValueError, OverflowError):
        return -1

"""Failures, and the training labels, from stored platform events: what a real fleet records.

A ``host_failed`` event is a host failure; a ``vm_crashed`` event whose reason is not its host's
failure is a VM failure (a VM taken down by its host is collateral, already covered by the host's
event). The failure's kind comes from the event's reason. Recovery is the next ``host_recovered``
/ ``vm_recovered`` of the same target. The start of a precursor is not observable, so a failure's
``onset_ts`` is taken as ``failure_ts - horizon`` (the earliest row that may be labelled for it).
The result has the columns of the simulator's scenario table, so labelling, row exclusion and
episode scoring run unchanged on it -- and nothing here can read the simulator's ground truth.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["REASON_KIND", "FAILURE_COLUMNS", "failures_from_events"]

# The reason a failure event carries -> the failure kind it is scored as.
REASON_KIND = {"disk": "disk_failure", "memory_uncorrectable": "ecc_host_crash", "thermal": "thermal_runaway",
               "network": "network_partition", "oom_killed": "memory_leak_oom"}
FAILURE_COLUMNS = ["scenario_id", "kind", "target_id", "host_id", "onset_ts", "failure_ts", "recovery_ts", "level"]


def _recoveries(events: list[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Sorted recovery times per target."""
    out: dict[str, list[float]] = {}
    for e in events:
        if e["type"] == "host_recovered":
            out.setdefault(e["host"], []).append(float(e["ts"]))
        elif e["type"] == "vm_recovered" and e.get("vm_id"):
            out.setdefault(str(e["vm_id"]), []).append(float(e["ts"]))
    return {k: np.sort(np.asarray(v)) for k, v in out.items()}


def failures_from_events(events: Iterable[Mapping[str, Any]], horizon_s: float) -> pd.DataFrame:
    """One row per observed failure, in the scenario table's columns (``recovery_ts`` inf while still down)."""
    evs = [e for e in events if isinstance(e, Mapping) and "type" in e and "ts" in e and "host" in e]
    rec = _recoveries(evs)
    rows, seen = [], set()
    for e in evs:
        ts, host = float(e["ts"]), str(e["host"])
        if e["type"] == "host_failed":
            target, level, default = host, "host", "host_failure"
        elif e["type"] == "vm_crashed" and e.get("vm_id") and e.get("reason") != "host_failed":
            target, level, default = str(e["vm_id"]), "vm", "vm_crash"
        else:
            continue
        if (target, ts) in seen:  # a redelivered event
            continue
        seen.add((target, ts))
        r = rec.get(target, np.empty(0))
        i = np.searchsorted(r, ts, side="left")
        recovery = float(r[i]) if i < r.size else float("inf")
        kind = REASON_KIND.get(str(e.get("reason")), default)
        rows.append((f"{e['type']}:{target}:{ts:.0f}", kind, target, host, ts - horizon_s, ts, recovery, level))
    frame = pd.DataFrame(rows, columns=FAILURE_COLUMNS)
    return frame.sort_values("failure_ts", kind="stable").reset_index(drop=True)

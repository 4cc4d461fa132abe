"""The fleet as an operator looks at it: every host with its zone and rack, its VMs where they run now,
and its latest predicted risk (plain Python: the inventory, the placement and the predictions are passed in).

Why a view of its own: the inventory knows zones and racks, the simulator (or control plane) knows where
each VM runs after moves, and the failure monitor knows the risk; the console needs them joined, once,
on the server, instead of 50 prediction calls from a browser.
"""
from __future__ import annotations

import json
from typing import Any, Mapping

__all__ = ["fleet_hosts", "prediction_summary"]


def prediction_summary(body: bytes | str | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The few fields a tile needs from one stored prediction (JSON bytes or a dict); None without one."""
    if body is None:
        return None
    pred = json.loads(body) if isinstance(body, (bytes, bytearray, str)) else body
    factors = pred.get("contributing_factors") or []
    return {"failure_probability": float(pred.get("failure_probability", 0.0)),
            "severity": str(pred.get("severity", "low")),
            "time_to_failure": pred.get("time_to_failure"),
            "model_version": pred.get("model_version"),
            "top_factor": factors[0].get("feature") if factors else None}


def fleet_hosts(inventory: Mapping[str, Any], placement: Mapping[str, str],
                predictions: Mapping[str, bytes | Mapping[str, Any]] | None,
                cordoned: set[str] | frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """Hosts sorted by zone, rack and id; each with its VMs (from `placement`: vm -> host, after moves),
    capacity, and risk (None while the host has no prediction)."""
    predictions = predictions or {}
    vms_on: dict[str, list[str]] = {}
    for vm, host in placement.items():
        vms_on.setdefault(str(host), []).append(str(vm))
    specs = {str(v["vm_id"]): v for v in inventory.get("vms", ())}
    rows = []
    for h in inventory.get("hosts", ()):
        hid = str(h["host_id"])
        vms = sorted(vms_on.get(hid, []))
        rows.append({"host_id": hid, "zone": str(h.get("zone", "")), "rack": str(h.get("rack", "")),
                     "cores": h.get("cores"), "memory_gb": h.get("memory_gb"), "gpus": h.get("gpus", 0),
                     "vms": vms, "vcpus_allocated": sum(int(specs.get(v, {}).get("vcpus", 0)) for v in vms),
                     "cordoned": hid in cordoned, "prediction": prediction_summary(predictions.get(hid))})
    rows.sort(key=lambda r: (r["zone"], r["rack"], r["host_id"]))
    return rows

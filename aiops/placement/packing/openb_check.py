"""Independent check of an openb assignment log against the node and pod CSV files.

Shares no code with the replay or the policies: it reads the CSVs itself and replays the log
(one entry per arrival: pod row, node row or -1 for a failed pod, GPU slots), counting every
violation: a GPU model the pod's ``gpu_spec`` excludes, CPU, memory or a GPU over capacity, a
whole-GPU pod given a GPU that was not fully free or the wrong number of GPUs, a GPU slot the node
does not have, and a pod reported as failed although some node could have taken it.  It also
recomputes the placed and failed counts and the unallocated GPUs from the log alone.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

__all__ = ["check_openb_log"]

MILLI = 1000.0


def _models(spec: str) -> set[str] | None:
    return set(spec.split("|")) if spec else None


def check_openb_log(node_csv: Path, pod_csv: Path, log: Iterable[Sequence[Any]]) -> dict[str, Any]:
    """Replay ``log`` on the cluster of ``node_csv``; returns counts and the violations found."""
    nodes = pd.read_csv(node_csv)
    pods = pd.read_csv(pod_csv)
    spec = pods["gpu_spec"].fillna("").astype(str).to_numpy() if "gpu_spec" in pods else np.full(len(pods), "")
    model = nodes["model"].fillna("").astype(str).to_numpy()
    ngpu = nodes["gpu"].to_numpy(int)
    cpu_left = nodes["cpu_milli"].to_numpy(float).copy()
    mem_left = nodes["memory_mib"].to_numpy(float).copy()
    gpu_left = np.zeros((len(nodes), max(1, int(ngpu.max()))))
    for j, k in enumerate(ngpu):
        gpu_left[j, :k] = MILLI
    violations: dict[str, int] = {"gpu_spec": 0, "cpu": 0, "memory": 0, "gpu_capacity": 0, "gpu_slot": 0,
                                  "gpu_count": 0, "failed_but_fit": 0}
    placed = failed = 0
    placed_milli = 0.0
    for pod_row, node, slots in log:
        p = pods.iloc[int(pod_row)]
        need_gpu, milli = int(p["num_gpu"]), float(p["gpu_milli"])
        sharing = need_gpu == 1 and 0 < milli < MILLI
        if node < 0:
            failed += 1
            violations["failed_but_fit"] += int(_some_node_fits(p, spec[int(pod_row)], model, cpu_left, mem_left, gpu_left, sharing))
            continue
        placed += 1
        allowed = _models(spec[int(pod_row)])
        violations["gpu_spec"] += int(allowed is not None and model[node] not in allowed)
        cpu_left[node] -= float(p["cpu_milli"])
        mem_left[node] -= float(p["memory_mib"])
        violations["cpu"] += int(cpu_left[node] < 0)
        violations["memory"] += int(mem_left[node] < 0)
        violations["gpu_count"] += int(len(slots) != need_gpu or len(set(slots)) != len(slots))
        for s in slots:
            if not 0 <= s < ngpu[node]:
                violations["gpu_slot"] += 1
                continue
            take = milli if sharing else MILLI
            violations["gpu_capacity"] += int(gpu_left[node, s] < take - 1e-9)
            gpu_left[node, s] -= take
            placed_milli += take
    total = float(ngpu.sum()) * MILLI
    return {"arrivals": placed + failed, "placed": placed, "failed": failed,
            "gpu_unallocated": round((total - placed_milli) / MILLI, 2), "violations": violations,
            "violations_total": int(sum(violations.values()))}


def _some_node_fits(p: pd.Series, spec: str, model: np.ndarray, cpu_left: np.ndarray, mem_left: np.ndarray,
                    gpu_left: np.ndarray, sharing: bool) -> bool:
    """Whether any node could have hosted the pod at that moment (a failure must be a real one)."""
    ok = (cpu_left >= float(p["cpu_milli"])) & (mem_left >= float(p["memory_mib"]))
    need_gpu = int(p["num_gpu"])
    allowed = _models(spec)
    if allowed is not None:
        ok &= np.isin(model, list(allowed))
    if need_gpu > 0:
        if sharing:
            ok &= (gpu_left >= float(p["gpu_milli"])).any(axis=1)
        else:
            ok &= (gpu_left >= MILLI).sum(axis=1) >= need_gpu
    return bool(ok.any())

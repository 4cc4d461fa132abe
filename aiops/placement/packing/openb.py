"""Online replay of Alibaba openb pod lists on the fixed heterogeneous GPU cluster (FGD, ATC'23).

Each GPU is tracked separately (free milli-GPU per slot) so sharing pods and fragmentation are
measured.  Every arrival can be written to an assignment log (pod row, node row, GPU slots; node
-1 for a failed pod) that ``openb_check.check_openb_log`` re-checks against the CSV files
without this code.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from aiops.placement.packing.fgd import FragmentationGradient
from aiops.placement.packing.policies import POLICIES, ReplayResult, choose_node

__all__ = ["OPENB_POLICIES", "OURS", "replay_openb"]

OURS = "ScarcityFGD (ours)"
# baselines, then plain fragmentation gradient descent (ablation), then ours
OPENB_POLICIES = (*POLICIES, "GpuAware", "FGD", OURS)
LogEntry = tuple[int, int, list[int]]


@dataclass
class _Cluster:
    cap: np.ndarray  # (nodes, 3): cpu milli, memory MiB, milli-GPU
    gfree: np.ndarray  # (nodes, max GPUs): free milli-GPU per slot (0 for slots a node lacks)
    load: np.ndarray
    count: np.ndarray
    model: np.ndarray

    @classmethod
    def of(cls, nodes: pd.DataFrame) -> "_Cluster":
        m = len(nodes)
        ngpu = nodes.gpu.to_numpy(int)
        gfree = np.zeros((m, max(1, int(ngpu.max()))))
        gfree[np.arange(gfree.shape[1])[None, :] < ngpu[:, None]] = 1000.0
        cap = np.stack([nodes.cpu_milli.to_numpy(float), nodes.memory_mib.to_numpy(float), ngpu * 1000.0], 1)
        return cls(cap, gfree, np.zeros((m, 3)), np.zeros(m, dtype=np.int64), nodes.model.to_numpy())

    def fits(self, dem: np.ndarray, num_gpu: int, milli: float, share: bool, spec_ok: np.ndarray | None) -> np.ndarray:
        ok = (self.load + dem <= self.cap).all(axis=1)
        if spec_ok is not None:
            ok &= spec_ok
        if num_gpu > 0:
            ok &= (self.gfree >= milli).any(axis=1) if share else (self.gfree >= 1000).sum(axis=1) >= num_gpu
        return np.flatnonzero(ok)

    def place(self, b: int, dem: np.ndarray, num_gpu: int, milli: float, share: bool) -> list[int]:
        """Book the pod on node ``b``; returns the GPU slots it takes."""
        self.load[b] += dem
        self.count[b] += 1
        if num_gpu <= 0:
            return []
        if share:
            cand = np.flatnonzero(self.gfree[b] >= milli)
            slot = int(cand[np.argmin(self.gfree[b, cand])])  # tightest GPU keeps whole GPUs free
            self.gfree[b, slot] -= milli
            return [slot]
        slots = np.flatnonzero(self.gfree[b] >= 1000)[:num_gpu]
        self.gfree[b, slots] = 0
        return [int(s) for s in slots]


def replay_openb(nodes: pd.DataFrame, pods: pd.DataFrame, policy: str, fill_to: float = 1.0, seed: int = 0,
                 log: list[LogEntry] | None = None) -> ReplayResult:
    """Fill a fixed heterogeneous GPU cluster with pods until the GPU requested reaches ``fill_to`` x capacity.

    As in the FGD paper's simulator, pods arrive in trace (creation) order and stay; when the
    list is exhausted it is replayed in a seeded random order.  Whole-GPU pods take
    ``num_gpu`` fully free GPUs; sharing pods take ``gpu_milli`` of one GPU (tightest GPU on the
    chosen node).  ``gpu_spec`` restricts the GPU model.  Failed pods are counted and skipped.
    Pass a list as ``log`` to get one (pod row, node row or -1, GPU slots) entry per arrival.
    """
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    cl = _Cluster.of(nodes)
    pods = pods.sort_values("creation_time", kind="stable")
    row = pods.index.to_numpy()
    cpu, mem = pods.cpu_milli.to_numpy(float), pods.memory_mib.to_numpy(float)
    num_gpu, gmilli = pods.num_gpu.to_numpy(int), pods.gpu_milli.to_numpy(float)
    spec = pods.gpu_spec.to_numpy()
    share = (num_gpu == 1) & (gmilli > 0) & (gmilli < 1000)
    gdem_all = np.where(share, gmilli, num_gpu * 1000.0)
    fgd = FragmentationGradient(cl.model, cl.cap, scarcity=policy == OURS) if policy in ("FGD", OURS) else None
    target = fill_to * cl.cap[:, 2].sum()
    arrived_gpu = 0.0
    failed = failed_gpu = placed = passes = 0
    spec_ok: dict[str, np.ndarray] = {}
    order = np.arange(len(pods))
    gpu_per_pass = gdem_all.sum()
    while passes == 0 or (arrived_gpu < target and gpu_per_pass > 0 and passes < 100):
        passes += 1
        for i in order:
            if gpu_per_pass > 0 and arrived_gpu >= target:
                break
            arrived_gpu += gdem_all[i]
            dem = np.array([cpu[i], mem[i], gdem_all[i]])
            if spec[i] and spec[i] not in spec_ok:
                spec_ok[spec[i]] = np.isin(cl.model, spec[i].split("|"))
            if fgd is not None:
                fgd.observe(cpu[i], mem[i], int(num_gpu[i]), gmilli[i], spec[i])
            fits = cl.fits(dem, num_gpu[i], gmilli[i], share[i], spec_ok[spec[i]] if spec[i] else None)
            if fits.size == 0:
                failed += 1
                failed_gpu += int(num_gpu[i] > 0)
                if log is not None:
                    log.append((int(row[i]), -1, []))
                continue
            if fgd is not None:
                b = fgd.choose(fits, dem, int(num_gpu[i]), gmilli[i], cl.gfree, cl.load)
            elif policy == "GpuAware":
                b = _gpu_aware(fits, share[i], num_gpu[i], gmilli[i], cl.gfree, cl.load, cl.cap, dem)
            else:
                in_use = fits[cl.count[fits] > 0]
                pool = in_use if in_use.size and policy != "kube-LeastAllocated" else fits
                b = choose_node(policy, pool, cl.load, cl.cap, dem)
            slots = cl.place(b, dem, num_gpu[i], gmilli[i], share[i])
            placed += 1
            if log is not None:
                log.append((int(row[i]), int(b), slots))
        order = rng.permutation(len(pods))
    gp = num_gpu > 0
    smallest = (cpu[gp].min(), mem[gp].min()) if gp.any() else None
    return ReplayResult(policy, placed, failed, int((cl.count > 0).sum()), float((cl.count > 0).sum()),
                        _stranded(cl), time.perf_counter() - t0, {"failed_gpu_pods": failed_gpu, **_gpu_metrics(cl, smallest)})


def _stranded(cl: _Cluster) -> list[float]:
    used = np.flatnonzero(cl.count > 0)
    free = (cl.cap[used] - cl.load[used]).sum(axis=0)
    return (free / np.maximum(cl.cap[used].sum(axis=0), 1) * 100).round(2).tolist()


def _gpu_metrics(cl: _Cluster, smallest: tuple[float, float] | None) -> dict[str, float]:
    """Fragmented (partly used GPUs, plus whole free GPUs on nodes that cannot host the smallest GPU
    pod's CPU/memory), allocated and unallocated GPU capacity, % of the cluster's and in GPUs."""
    total = max(cl.cap[:, 2].sum(), 1)
    partial = (cl.gfree > 0) & (cl.gfree < 1000)
    free = cl.cap - cl.load
    if smallest is None:
        starved = np.zeros(len(cl.cap), bool)
    else:
        starved = (free[:, 0] < smallest[0]) | (free[:, 1] < smallest[1])
    frag = cl.gfree[partial].sum() + cl.gfree[starved][cl.gfree[starved] >= 1000].sum()
    allocated = cl.load[:, 2].sum()
    return {"gpu_fragmented_pct": round(float(frag / total * 100), 3),
            "gpu_allocated_pct": round(float(allocated / total * 100), 3),
            "gpu_unallocated_pct": round(float(100 - allocated / total * 100), 3),
            "gpu_unallocated": round(float((total - allocated) / 1000), 2)}


def _gpu_aware(fits: np.ndarray, share: bool, num_gpu: int, gmilli: float, gfree: np.ndarray, load: np.ndarray,
               cap: np.ndarray, dem: np.ndarray) -> int:
    """Our earlier fragmentation-aware rule for a fixed GPU cluster (kept as a baseline).

    CPU-only pods go to GPU-less nodes when any fits, so they do not eat the CPU and memory a
    GPU needs; GPU-sharing pods go to a node whose partly used GPU can take them (keeping whole
    GPUs whole for multi-GPU pods); otherwise spread (least allocated), which keeps CPU and
    memory next to every free GPU.
    """
    if num_gpu == 0:
        plain = fits[cap[fits, 2] == 0]
        return choose_node("kube-LeastAllocated", plain if plain.size else fits, load, cap, dem)
    if share:
        g = gfree[fits]
        left = np.where(g >= gmilli, g - gmilli, np.inf).min(axis=1)
        partly_used = fits[left < 1000 - gmilli - 1e-9]
        if partly_used.size:
            return choose_node("kube-LeastAllocated", partly_used, load, cap, dem)
    return choose_node("kube-LeastAllocated", fits, load, cap, dem)

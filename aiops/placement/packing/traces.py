"""Cluster traces for placement benchmarks: Azure packing trace 2020 and Alibaba GPU openb.

* Azure (Protean/CoSpot derivative): VM requests with integer cores/RAM and start/end times
  (days) on identical servers.  We pack a snapshot (VMs alive at t=0) offline and replay
  arrivals and departures online.
* Alibaba openb (FGD, ATC'23): 1,523 heterogeneous nodes (CPU, memory, GPUs of a model) and
  pods that ask for whole GPUs or a share of one GPU (``gpu_milli``), optionally restricted to
  GPU models.  The online replay tracks each GPU separately so GPU fragmentation is measured.

Online policies choose among nodes that are already in use and fit, opening (powering on) a new
node only when none fits; a node whose last VM departs is released.  Metrics: nodes used (peak
and time-averaged), stranded resources per dimension (free capacity on nodes in use), failed
placements, and for GPUs the fragmented share (free GPU capacity on partially used GPUs).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aiops.placement.packing.trace_data import (azure_server_capacity, load_azure_workload, load_openb_nodes,
                                                 load_openb_pods, placement_dir)
from aiops.placement.packing.openb import replay_openb
from aiops.placement.packing.policies import POLICIES, ReplayResult, choose_node
from aiops.settings import Settings

__all__ = ["POLICIES", "ReplayResult", "replay_identical", "replay_openb", "azure_snapshot_packing", "consolidate", "run_traces"]


def replay_identical(demand: np.ndarray, start: np.ndarray, end: np.ndarray, capacity: np.ndarray, policy: str,
                     max_nodes: int | None = None, samples: int = 200, window: tuple[float, float] | None = None,
                     repack_times: Sequence[float] = (), repack: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None) -> ReplayResult:
    """Arrivals/departures on identical nodes; a node is opened when nothing in use fits.

    With ``repack`` (sizes and current node of the VMs alive -> bin per VM) the fleet is re-packed at each of
    ``repack_times``: new bins are matched to the current nodes so that as many VMs as possible
    stay put (assignment problem), and every VM that still changes node counts as a migration.
    """
    t0 = time.perf_counter()
    n, d = demand.shape
    max_nodes = max_nodes or n
    events = np.concatenate([np.stack([start, np.ones(n), np.arange(n)], 1), np.stack([end, np.zeros(n), np.arange(n)], 1)])
    events = events[np.isfinite(events[:, 0])]
    events = events[np.lexsort((events[:, 1], events[:, 0]))]  # departures before arrivals at equal times
    load = np.zeros((max_nodes, d))
    count = np.zeros(max_nodes, dtype=np.int64)
    where = np.full(n, -1, dtype=np.int64)
    in_use = np.zeros(max_nodes, dtype=bool)
    free_slots = list(range(max_nodes - 1, -1, -1))
    failed = 0
    peak = 0
    lo, hi = window if window else ((events[0, 0], events[-1, 0]) if len(events) else (0.0, 0.0))
    sample_t = np.linspace(lo, hi, samples) if len(events) else np.array([])
    # a no-op event at the window's end so samples and re-packs after the last real event still happen
    events = np.vstack([events, [[max(hi, events[-1, 0] if len(events) else hi), 2, 0]]])
    si, node_samples, strand_samples = 0, [], []
    placed = migrations = 0
    rk = list(sorted(repack_times)) if repack is not None else []
    for t, kind, i in events:
        while rk and rk[0] <= t:
            rk.pop(0)
            migrations += _repack(where, demand, load, count, in_use, free_slots, repack)
        while si < len(sample_t) and sample_t[si] <= t:
            used = np.flatnonzero(in_use)
            node_samples.append(used.size)
            if used.size:
                strand_samples.append(((capacity - load[used]).sum(axis=0) / (capacity * used.size)) * 100)
            si += 1
        i = int(i)
        if kind == 2:
            continue
        if kind == 0:
            b = where[i]
            if b >= 0:
                where[i] = -1
                load[b] -= demand[i]
                count[b] -= 1
                if count[b] == 0:
                    in_use[b] = False
                    load[b] = 0
                    free_slots.append(int(b))
            continue
        used = np.flatnonzero(in_use)
        fits = used[(load[used] + demand[i] <= capacity).all(axis=1)] if used.size else used
        if fits.size:
            b = choose_node(policy, fits, load, np.broadcast_to(capacity, load.shape), demand[i])
        elif free_slots and (demand[i] <= capacity).all():
            b = free_slots.pop()
            in_use[b] = True
        else:
            failed += 1
            continue
        load[b] += demand[i]
        count[b] += 1
        where[i] = b
        placed += 1
        if window is None or window[0] <= t <= window[1]:
            peak = max(peak, int(in_use.sum()))
    stranded = np.mean(strand_samples, axis=0).round(2).tolist() if strand_samples else [0.0] * d
    extra = {"repacks": len(repack_times), "migrations": migrations} if repack is not None else {}
    return ReplayResult(policy, placed, failed, peak, float(np.mean(node_samples)) if node_samples else 0.0,
                        stranded, time.perf_counter() - t0, extra)


def _repack(where: np.ndarray, demand: np.ndarray, load: np.ndarray, count: np.ndarray, in_use: np.ndarray,
            free_slots: list[int], repack: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> int:
    """Re-pack the alive VMs in place; returns the number of VMs that change node."""
    from scipy.optimize import linear_sum_assignment

    alive = np.flatnonzero(where >= 0)
    if alive.size == 0:
        return 0
    new = np.asarray(repack(demand[alive], where[alive]), dtype=np.int64)
    old_nodes, old_idx = np.unique(where[alive], return_inverse=True)
    k = int(new.max()) + 1
    shared = np.zeros((k, old_nodes.size))
    np.add.at(shared, (new, old_idx), 1)
    rows, cols = linear_sum_assignment(-shared)  # keep as many VMs where they are as possible
    node_of_bin = np.full(k, -1, dtype=np.int64)
    node_of_bin[rows] = old_nodes[cols]
    spare = [j for j in range(load.shape[0]) if j not in set(node_of_bin[rows].tolist())]
    for b in np.flatnonzero(node_of_bin < 0):
        node_of_bin[b] = spare.pop(0)
    target = node_of_bin[new]
    moved = int((target != where[alive]).sum())
    where[alive] = target
    load[:] = 0
    count[:] = 0
    np.add.at(load, target, demand[alive])
    np.add.at(count, target, 1)
    in_use[:] = count > 0
    free_slots[:] = [j for j in range(load.shape[0] - 1, -1, -1) if not in_use[j]]
    return moved


# -- benchmark driver -------------------------------------------------------------------------
def azure_snapshot_packing(df: pd.DataFrame, capacity: np.ndarray, time_limit_s: float) -> dict[str, Any]:
    """Pack the VMs alive at t=0 onto identical servers: heuristics vs our search (nodes, stranded %)."""
    from aiops.placement.packing import heuristics as H
    from aiops.placement.packing.bins import check_packing, lower_bound
    from aiops.placement.packing.search import SearchConfig, solve

    alive = df[(df.starttime <= 0) & (df.endtime > 0)]
    sizes = np.rint(alive[["cores", "ram"]].to_numpy()).astype(np.int64)
    cap = np.rint(capacity).astype(np.int64)
    out: dict[str, Any] = {"vms": int(len(sizes)), "lower_bound": lower_bound(sizes, cap)}
    order = np.argsort(alive.starttime.to_numpy(), kind="stable")
    runs = {
        "FFD": lambda: H.ffd(sizes, cap),
        "BFD": lambda: H.bfd(sizes, cap),
        "DotProduct": lambda: H.dot_product_fit(sizes, cap),
        "kube-MostAllocated": lambda: H.kube_scorer(sizes, cap, "MostAllocated", order=order),
        "kube-LeastAllocated": lambda: H.kube_scorer(sizes, cap, "LeastAllocated", order=order),
        # offline with a generous box: keep the O(n^2) portfolio members (bin-centric, exact fill) at this size
        "ours": lambda: solve(sizes, cap, SearchConfig(time_limit_s=time_limit_s, random_orderings=4, quadratic_max_n=20_000)).assignment,
    }
    for name, fn in runs.items():
        t0 = time.perf_counter()
        a = fn()
        k = check_packing(sizes, cap, a)
        loads = np.zeros((k, 2))
        np.add.at(loads, a, sizes)
        out[name] = {"nodes": k, "stranded_pct": ((1 - loads.sum(0) / (cap * k)) * 100).round(2).tolist(), "seconds": round(time.perf_counter() - t0, 3)}
    return out


def consolidate(sizes: np.ndarray, capacity: np.ndarray, current: np.ndarray, seconds: float) -> np.ndarray:
    """Free servers starting from the current placement (bin-elimination search), so only the VMs
    of the emptied servers (and the residents an ejection chain moves) migrate."""
    from aiops.placement.packing.bins import compact, lower_bound
    from aiops.placement.packing.search import SearchConfig, eliminate_bins

    sz = np.rint(sizes).astype(np.int64)
    cap = np.rint(capacity).astype(np.int64)
    cfg = SearchConfig(time_limit_s=seconds)
    a, _ = eliminate_bins(sz, cap, compact(current), lower_bound(sz, cap), cfg, time.perf_counter() + seconds)
    return a


def run_traces(settings: Settings | None = None, budget_s: float = 60.0) -> tuple[dict[str, Any], str]:
    """Azure snapshot + online replay and Alibaba openb replay; returns (results, markdown)."""
    repack_seconds = max(0.5, budget_s / 60)
    root = placement_dir(settings)
    res: dict[str, Any] = {}
    md: list[str] = []
    az = root / "azure-packing-2020"
    wl = az / "workloads" / "batched" / "relevant-vm-1pcnt_0.csv"
    if wl.exists():
        df = load_azure_workload(wl)
        cap = azure_server_capacity(az / "server_vm_cores_ram.json", machine=1)
        snap = azure_snapshot_packing(df, cap, time_limit_s=min(20.0, budget_s / 3))
        demand = df[["cores", "ram"]].to_numpy(float)
        # VMs alive before the trace window arrive at t=0 in their original start order
        start = df.starttime.to_numpy(float)
        start = np.where(start < 0, start * 1e-9, start)
        end = df.endtime.to_numpy(float)
        window = (float(start.min()), 14.0)
        online = {p: replay_identical(demand, start, end, cap, p, window=window).as_dict() for p in POLICIES}
        online["FirstFit + daily consolidation (ours)"] = replay_identical(
            demand, start, end, cap, "FirstFit", window=window, repack_times=np.arange(1.0, 14.0),
            repack=lambda sz, cur: consolidate(sz, cap, cur, repack_seconds)).as_dict()
        res["azure"] = {"file": str(wl.relative_to(root)), "server_capacity": cap.tolist(), "snapshot": snap, "online": online}
        md += [f"### Azure packing trace 2020 ({wl.name}): snapshot of {snap['vms']} VMs alive at t=0, lower bound {snap['lower_bound']} servers", "",
               "| method | servers | stranded cores % | stranded RAM % | s |", "|---|---|---|---|---|"]
        for k, v in snap.items():
            if isinstance(v, dict):
                md.append(f"| {k} | {v['nodes']} | {v['stranded_pct'][0]} | {v['stranded_pct'][1]} | {v['seconds']} |")
        md += ["", f"Online replay, {len(df)} VMs over 14 days (arrivals and departures):", "",
               "| policy | peak servers | mean servers | stranded cores % | stranded RAM % | failed | migrations |", "|---|---|---|---|---|---|---|"]
        for p, r in online.items():
            md.append(f"| {p} | {r['peak_nodes']} | {r['mean_nodes']:.1f} | {r['stranded_pct'][0]} | {r['stranded_pct'][1]} | {r['failed']} | "
                      f"{r['extra'].get('migrations', 0)} |")
        md.append("")
    ob = root / "alibaba-openb"
    if (ob / "openb_node_list_gpu_node.csv").exists():
        nodes = load_openb_nodes(ob / "openb_node_list_all_node.csv")
        res["alibaba"] = {}
        for name in ("openb_pod_list_default.csv", "openb_pod_list_gpushare40.csv"):
            if not (ob / name).exists():
                continue
            pods = load_openb_pods(ob / name)
            rr = {p: replay_openb(nodes, pods, p).as_dict() for p in (*POLICIES, "GpuAware")}
            res["alibaba"][name] = rr
            md += [f"### Alibaba openb {name}: pods ({len(pods)} in the list, replayed) fill {len(nodes)} nodes until GPU requests reach 100% of GPU capacity", "",
                   "| policy | failed pods | failed GPU pods | nodes used | stranded CPU % | stranded mem % | stranded GPU % | GPU fragmented % | GPU allocated % |",
                   "|---|---|---|---|---|---|---|---|---|"]
            for p, r in rr.items():
                s = r["stranded_pct"]
                md.append(f"| {p} | {r['failed']} | {r['extra']['failed_gpu_pods']} | {r['peak_nodes']} | {s[0]} | {s[1]} | {s[2]} | "
                          f"{r['extra']['gpu_fragmented_pct']} | {r['extra']['gpu_allocated_pct']} |")
            md.append("")
    return res, "\n".join(md)

"""Shared vocabulary for vector packing: assignments, feasibility checks and lower bounds.

An *assignment* is an int array with one bin index per item (``-1`` = not placed).  Every
heuristic and search in this package returns one, and :func:`check_packing` is the single
place that decides whether it is valid, so benchmarks and tests verify packings the same way.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


class InfeasiblePacking(ValueError):
    """An assignment overfills a bin, leaves an item out, or uses an unknown bin."""


@dataclass(frozen=True)
class PackingResult:
    """A packing plus how it was found (method name, seconds, search statistics)."""

    assignment: np.ndarray  # (n,) bin index per item, compact 0..bins-1
    bins: int
    method: str
    seconds: float = 0.0
    stats: dict | None = None


def compact(assignment: np.ndarray) -> np.ndarray:
    """Renumber bins 0..k-1 in order of first use (drops empty bins)."""
    a = np.asarray(assignment, dtype=np.int64)
    _, first = np.unique(a, return_index=True)
    order = np.argsort(first)
    labels = np.unique(a)[order]
    remap = np.empty(int(a.max()) + 1 if a.size else 0, dtype=np.int64)
    remap[labels] = np.arange(labels.size)
    return remap[a] if a.size else a.copy()


def bin_loads(sizes: np.ndarray, assignment: np.ndarray, bins: int | None = None) -> np.ndarray:
    """Sum of item sizes per bin, shape (bins, d)."""
    a = np.asarray(assignment, dtype=np.int64)
    k = int(a.max()) + 1 if bins is None and a.size else int(bins or 0)
    loads = np.zeros((k, sizes.shape[1]), dtype=sizes.dtype)
    np.add.at(loads, a, sizes)
    return loads


def check_packing(sizes: np.ndarray, capacity: np.ndarray, assignment: np.ndarray) -> int:
    """Raise InfeasiblePacking unless every item is in exactly one bin within capacity; return bins used.

    Capacity may be one vector (identical bins) or one row per bin (heterogeneous nodes).
    """
    a = np.asarray(assignment)
    if a.shape != (sizes.shape[0],):
        raise InfeasiblePacking(f"assignment has shape {a.shape}, expected ({sizes.shape[0]},)")
    if a.size == 0:
        return 0
    if (a < 0).any():
        raise InfeasiblePacking(f"{int((a < 0).sum())} item(s) not placed")
    cap = np.asarray(capacity)
    if cap.ndim == 2 and int(a.max()) >= cap.shape[0]:
        raise InfeasiblePacking(f"bin {int(a.max())} does not exist ({cap.shape[0]} bins)")
    loads = bin_loads(sizes, a, int(a.max()) + 1 if cap.ndim == 1 else cap.shape[0])
    limit = cap if cap.ndim == 1 else cap[: loads.shape[0]]
    over = loads > limit
    if over.any():
        b, k = np.argwhere(over)[0]
        raise InfeasiblePacking(f"bin {b} over capacity in dimension {k}: {loads[b, k]} > {np.broadcast_to(limit, loads.shape)[b, k]}")
    return int(np.unique(a).size)


def lower_bound(sizes: np.ndarray, capacity: np.ndarray) -> int:
    """Max of the per-dimension volume bound and the 'pairwise incompatible big items' bound.

    Items that pairwise cannot share a bin (sum exceeds capacity in some dimension) each need
    their own bin; we count a greedy clique of them in decreasing order of normalised size.
    """
    n = sizes.shape[0]
    if n == 0:
        return 0
    if (sizes < 0).any():  # a negative item can make two 'incompatible' items fit together
        return max(0, max(math.ceil(int(sizes[:, k].sum()) / int(capacity[k])) for k in range(sizes.shape[1])))
    volume = max(math.ceil(int(sizes[:, k].sum()) / int(capacity[k])) for k in range(sizes.shape[1]))
    norm = sizes / capacity
    order = np.argsort(-norm.max(axis=1), kind="stable")
    clique: list[int] = []
    for i in order[: min(n, 2000)]:
        if not clique or (sizes[i] + sizes[clique] > capacity).any(axis=1).all():
            clique.append(int(i))
    return max(volume, len(clique))

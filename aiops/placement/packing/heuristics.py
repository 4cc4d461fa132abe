"""Constructive vector-packing heuristics: the baselines and the seeds for every search.

* Item-centric: first-fit / best-fit decreasing under several item orderings (sum, max, L2
  norm, scarcity-weighted sum of normalised sizes) — the FFD family of Panigrahy et al. 2011.
* Bin-centric: DotProduct and L2-norm greedy (open one bin, fill it with the item that best
  matches the remaining capacity, then open the next).
* kube-scheduler-like scorers (LeastAllocated / MostAllocated) in arrival order, opening a
  new node only when none fits — what a default Kubernetes cluster with an autoscaler does.

Feasibility is always decided on the integer sizes; the floating-point normalised sizes are
only used to rank candidates, so a packing can never exceed a capacity by rounding.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

ORDERINGS = ("sum", "max", "l2", "scarcity", "prod")
QUADRATIC = frozenset({"DotProduct", "L2Greedy", "ExactFill+FFD"})  # O(n^2) members of baseline_portfolio()


def normalised(sizes: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    return np.asarray(sizes, dtype=np.float64) / np.asarray(capacity, dtype=np.float64)


def item_key(sizes: np.ndarray, capacity: np.ndarray, ordering: str = "sum", weights: np.ndarray | None = None) -> np.ndarray:
    """Scalar 'size' of each item used to sort it (larger = placed earlier)."""
    s = normalised(sizes, capacity)
    if weights is not None:
        return s @ np.asarray(weights, dtype=np.float64)
    if ordering == "sum":
        return s.sum(axis=1)
    if ordering == "max":
        return s.max(axis=1) + 1e-6 * s.sum(axis=1)
    if ordering == "l2":
        return np.sqrt((s * s).sum(axis=1))
    if ordering == "scarcity":  # weight each dimension by how much total demand it carries
        return s @ s.sum(axis=0)
    if ordering == "prod":
        return np.exp(np.log(np.maximum(s, 1e-9)).sum(axis=1) / s.shape[1])
    raise ValueError(f"unknown ordering {ordering!r}; choose from {ORDERINGS}")


def decreasing_order(key: np.ndarray) -> np.ndarray:
    """Indices by decreasing key; ties keep file order (stable) so results are reproducible."""
    return np.argsort(-key, kind="stable")


def _pack_item_centric(sizes: np.ndarray, capacity: np.ndarray, order: np.ndarray, choose: Callable[[np.ndarray, np.ndarray, int], int]) -> np.ndarray:
    """Place items in ``order``; ``choose(fitting_bins, residual, item)`` picks among open bins that fit."""
    n, d = sizes.shape
    residual = np.empty((n, d), dtype=np.int64)
    assignment = np.full(n, -1, dtype=np.int64)
    open_bins = 0
    for i in order:
        s = sizes[i]
        fits = np.flatnonzero((residual[:open_bins] >= s).all(axis=1))
        if fits.size:
            b = fits[0] if fits.size == 1 else int(choose(fits, residual, int(i)))
        else:
            b = open_bins
            residual[b] = capacity
            open_bins += 1
        residual[b] -= s
        assignment[i] = b
    return assignment


def first_fit(sizes: np.ndarray, capacity: np.ndarray, order: np.ndarray | None = None) -> np.ndarray:
    """First fit in the given order (file order if None)."""
    order = np.arange(sizes.shape[0]) if order is None else order
    return _pack_item_centric(sizes, capacity, order, lambda fits, res, i: int(fits[0]))


def ffd(sizes: np.ndarray, capacity: np.ndarray, ordering: str = "sum", weights: np.ndarray | None = None) -> np.ndarray:
    """First-fit decreasing by the chosen item ordering (default: sum of normalised sizes)."""
    return first_fit(sizes, capacity, decreasing_order(item_key(sizes, capacity, ordering, weights)))


def best_fit(sizes: np.ndarray, capacity: np.ndarray, order: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Best fit: the open bin whose weighted normalised residual after placement is smallest."""
    w = np.ones(sizes.shape[1]) if weights is None else np.asarray(weights, dtype=np.float64)
    inv = w / capacity

    def choose(fits: np.ndarray, residual: np.ndarray, i: int) -> int:
        slack = (residual[fits] - sizes[i]) @ inv
        return int(fits[int(np.argmin(slack))])

    return _pack_item_centric(sizes, capacity, order, choose)


def bfd(sizes: np.ndarray, capacity: np.ndarray, ordering: str = "sum", weights: np.ndarray | None = None) -> np.ndarray:
    """Best-fit decreasing by the chosen item ordering (default: sum of normalised sizes)."""
    return best_fit(sizes, capacity, decreasing_order(item_key(sizes, capacity, ordering, weights)), weights)


def dot_product_fit(sizes: np.ndarray, capacity: np.ndarray, ordering: str = "sum") -> np.ndarray:
    """Item-centric dot-product: each item goes to the open bin whose residual it aligns with best."""
    s = normalised(sizes, capacity)
    inv = 1.0 / capacity

    def choose(fits: np.ndarray, residual: np.ndarray, i: int) -> int:
        return int(fits[int(np.argmax((residual[fits] * inv) @ s[i]))])

    return _pack_item_centric(sizes, capacity, decreasing_order(item_key(sizes, capacity, ordering)), choose)


def _pack_bin_centric(sizes: np.ndarray, capacity: np.ndarray, score: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """Open one bin at a time and keep adding the best-scoring fitting item until none fits."""
    n = sizes.shape[0]
    s = normalised(sizes, capacity)
    assignment = np.full(n, -1, dtype=np.int64)
    remaining = np.arange(n)
    b = 0
    while remaining.size:
        residual = capacity.astype(np.int64).copy()
        while remaining.size:
            fit = (sizes[remaining] <= residual).all(axis=1)
            if not fit.any():
                break
            cand = remaining[fit]
            pick = int(cand[int(np.argmax(score(s[cand], residual / capacity)))])
            assignment[pick] = b
            residual -= sizes[pick]
            remaining = remaining[remaining != pick]
        b += 1
    return assignment


def dot_product(sizes: np.ndarray, capacity: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Panigrahy's bin-centric DotProduct: add the item maximising <item, residual> (weighted)."""
    w = np.ones(sizes.shape[1]) if weights is None else np.asarray(weights, dtype=np.float64)
    return _pack_bin_centric(sizes, capacity, lambda items, res: items @ (w * res))


def l2_norm_greedy(sizes: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Panigrahy's bin-centric Norm-based Greedy: add the item minimising ||residual - item||²."""
    return _pack_bin_centric(sizes, capacity, lambda items, res: -((res - items) ** 2).sum(axis=1))


def kube_scorer(sizes: np.ndarray, capacity: np.ndarray, strategy: str = "MostAllocated", order: np.ndarray | None = None) -> np.ndarray:
    """kube-scheduler NodeResourcesFit scoring over open nodes, pods in arrival (file) order.

    LeastAllocated prefers the emptiest feasible node (spreads); MostAllocated the fullest
    (bin-packs).  Both score the mean per-resource allocation after placement, as the
    scheduler plugin does, and a new node is added only when no open node fits.
    """
    if strategy not in ("LeastAllocated", "MostAllocated"):
        raise ValueError("strategy must be LeastAllocated or MostAllocated")
    sign = 1.0 if strategy == "MostAllocated" else -1.0
    inv = 1.0 / capacity / sizes.shape[1]

    def choose(fits: np.ndarray, residual: np.ndarray, i: int) -> int:
        allocated = (capacity - residual[fits] + sizes[i]) @ inv
        return int(fits[int(np.argmax(sign * allocated))])

    order = np.arange(sizes.shape[0]) if order is None else order
    return _pack_item_centric(sizes, capacity, order, choose)


def exact_fill(sizes: np.ndarray, capacity: np.ndarray, finisher: str = "ffd") -> np.ndarray:
    """Minimum-bin-slack style pass: first close bins that two or three items fill *exactly*.

    Largest items first, look for a partner pair whose sum is the exact complement (hashed
    size vectors, verified exactly), then pack what is left with FFD/BFD.  Zero-slack bins are
    what an optimal packing of tight instances (e.g. the Triplet class) consists of; on loose
    instances the pass finds nothing and costs one vectorised look-up per item.
    """
    n, d = sizes.shape
    rng = np.random.default_rng(7)
    proj = rng.integers(1, 2**61, size=d, dtype=np.int64)
    codes = sizes.astype(np.int64) @ proj  # int64 arithmetic wraps: a hash, verified below
    cap_code = capacity.astype(np.int64) @ proj
    alive = np.ones(n, dtype=bool)
    assignment = np.full(n, -1, dtype=np.int64)
    b = 0
    with np.errstate(over="ignore"):
        b = _exact_groups(sizes, capacity, codes, cap_code, alive, assignment)
    left = np.flatnonzero(assignment < 0)
    if left.size:
        sub = ffd(sizes[left], capacity) if finisher == "ffd" else bfd(sizes[left], capacity)
        assignment[left] = sub + b
    return assignment


def _exact_groups(sizes: np.ndarray, capacity: np.ndarray, codes: np.ndarray, cap_code: np.int64, alive: np.ndarray, assignment: np.ndarray) -> int:
    """Greedy exact pairs/triples (largest item first); fills ``assignment`` and returns bins made."""
    b = 0
    for i in decreasing_order(item_key(sizes, capacity, "sum")):
        if not alive[i]:
            continue
        alive[i] = False
        rest = np.flatnonzero(alive)
        need = cap_code - codes[i]
        pair = rest[codes[rest] == need]
        pair = pair[(sizes[i] + sizes[pair] == capacity).all(axis=1)] if pair.size else pair
        if pair.size:
            group = [int(i), int(pair[0])]
        else:
            group = []
            hits = np.flatnonzero(np.isin(need - codes[rest], codes[rest]))
            for h in hits:
                j = int(rest[h])
                ks = rest[(codes[rest] == need - codes[j]) & (rest != j)]
                ks = ks[(sizes[i] + sizes[j] + sizes[ks] == capacity).all(axis=1)] if ks.size else ks
                if ks.size:
                    group = [int(i), j, int(ks[0])]
                    break
        if group:
            assignment[group] = b
            alive[group] = False
            b += 1
        else:
            alive[i] = True
    return b


def baseline_portfolio() -> dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]]:
    """Named constructive heuristics used as seeds and as benchmark baselines.

    Order matters when a time box cuts the portfolio short: FFD-sum first (the guarantee),
    then the members that most often win (exact fill, dot-product), then the other orderings.
    """
    heuristics: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
        "FFD-sum": lambda sz, cap: ffd(sz, cap, "sum"),
        "ExactFill+FFD": exact_fill,
        "DotProduct": dot_product,
    }
    for o in ORDERINGS:
        heuristics[f"FFD-{o}"] = lambda sz, cap, o=o: ffd(sz, cap, o)
        heuristics[f"BFD-{o}"] = lambda sz, cap, o=o: bfd(sz, cap, o)
    heuristics["DotProductFit"] = dot_product_fit
    heuristics["L2Greedy"] = l2_norm_greedy
    return heuristics

"""Stronger vector packing: a heuristic portfolio followed by bin-elimination tabu search.

1. *Portfolio*: every constructive heuristic in :mod:`heuristics` (FFD/BFD under five item
   orderings, dot-product, L2 greedy) plus FFD/BFD under random dimension weightings; the
   fewest-bins packing wins.  FFD-sum is always in it, so the result is never worse than FFD.
2. *Bin elimination* (in the spirit of Buljubašić & Vasquez's consistent neighbourhood search):
   with ``m`` bins found, empty the least-filled bin into a pool and try to reinsert its items
   into the other ``m-1`` bins.  Each step applies the best non-tabu move among
   direct insertion, a two-step ejection chain (pool item in, a resident moves to another bin),
   and 1-1 / 1-2 swaps with the pool, scored by the weight (sum of normalised sizes) that
   leaves the pool.  Items just inserted are tabu for ejection for a few steps.  An empty pool is
   a packing with one bin fewer; we repeat until the lower bound or the budget is reached.

The search is deterministic for a given seed and iteration budget; the wall-clock limit is a
safety cap so a benchmark stays inside its time box on a loaded machine.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from aiops.placement.packing import heuristics as H
from aiops.placement.packing.bins import PackingResult, check_packing, compact, lower_bound


@dataclass
class SearchConfig:
    """Budgets for :func:`solve`. ``time_limit_s`` is wall clock, ``max_iters`` the tabu steps in total."""

    time_limit_s: float = 1.0
    max_iters: int = 200_000
    random_orderings: int = 30
    portfolio_share: float = 0.15
    seed: int = 0
    tabu_min: int = 3
    tabu_extra: int = 7
    max_chain_candidates: int = 48
    exact_fill: bool = True  # try closing zero-slack bins first (see heuristics.exact_fill)
    quadratic_max_n: int = 3000  # skip the O(n^2) portfolio members (bin-centric, exact fill) above this size
    stats: dict = field(default_factory=dict)


def portfolio(sizes: np.ndarray, capacity: np.ndarray, cfg: SearchConfig, deadline: float, lb: int,
              hard_deadline: float | None = None) -> tuple[np.ndarray, str, dict[str, int]]:
    """Run every constructive heuristic (and random weightings of FFD/BFD until ``deadline``); return the best.

    The named heuristics run until ``hard_deadline`` (the whole time box); FFD-sum always runs.
    """
    hard_deadline = deadline if hard_deadline is None else hard_deadline
    results: dict[str, int] = {}
    best_a: np.ndarray | None = None
    best_name = ""
    for name, fn in H.baseline_portfolio().items():
        if name.startswith("ExactFill") and not cfg.exact_fill:
            continue
        if best_a is not None and (time.perf_counter() > hard_deadline or (name in H.QUADRATIC and sizes.shape[0] > cfg.quadratic_max_n)):
            continue  # FFD-sum always runs; the rest only while the time box lasts
        a = fn(sizes, capacity)
        k = int(a.max()) + 1
        results[name] = k
        if best_a is None or k < int(best_a.max()) + 1:
            best_a, best_name = a, name
        if k <= lb:
            return best_a, best_name, results
    rng = np.random.default_rng(cfg.seed)
    d = sizes.shape[1]
    for r in range(cfg.random_orderings):
        if time.perf_counter() > deadline:
            break
        w = rng.dirichlet(np.full(d, 0.7)) * d
        a = H.ffd(sizes, capacity, weights=w) if r % 2 == 0 else H.bfd(sizes, capacity, weights=w)
        k = int(a.max()) + 1
        if k < int(best_a.max()) + 1:
            best_a, best_name = a, f"{'FFD' if r % 2 == 0 else 'BFD'}-random{r}"
            if k <= lb:
                break
    results["portfolio"] = int(best_a.max()) + 1
    return best_a, best_name, results


class _Eliminator:
    """State of one attempt to pack all items into ``k`` bins (the rest wait in a pool)."""

    def __init__(self, sizes: np.ndarray, capacity: np.ndarray, weights: np.ndarray, assignment: np.ndarray, k: int, rng: np.random.Generator, cfg: SearchConfig):
        self.s, self.cap, self.w, self.k, self.rng, self.cfg = sizes, capacity, weights, k, rng, cfg
        self.a = assignment.copy()
        n, d = sizes.shape
        self.L = np.zeros((k, d), dtype=np.int64)
        np.add.at(self.L, self.a[self.a >= 0], sizes[self.a >= 0])
        self.members: list[list[int]] = [[] for _ in range(k)]
        for i in np.flatnonzero(self.a >= 0):
            self.members[self.a[i]].append(int(i))
        self.pool: list[int] = [int(i) for i in np.flatnonzero(self.a < 0)]
        self.no_eject_until = np.zeros(n, dtype=np.int64)
        self.inv = 1.0 / capacity
        self._pairs: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.it = 0

    # -- bookkeeping -------------------------------------------------------------------
    def _place(self, i: int, b: int) -> None:
        self.a[i] = b
        self.L[b] += self.s[i]
        self.members[b].append(i)
        self._pairs.pop(b, None)

    def _remove(self, i: int) -> int:
        b = int(self.a[i])
        self.a[i] = -1
        self.L[b] -= self.s[i]
        self.members[b].remove(i)
        self._pairs.pop(b, None)
        return b

    def _same_bin_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        pi, pj = [], []
        for b in range(self.k):
            cached = self._pairs.get(b)
            if cached is None:
                m = self.members[b]
                if len(m) >= 2:
                    iu, ju = np.triu_indices(len(m), 1)
                    arr = np.asarray(m, dtype=np.int64)
                    cached = (arr[iu], arr[ju])
                else:
                    cached = (np.empty(0, np.int64), np.empty(0, np.int64))
                self._pairs[b] = cached
            pi.append(cached[0])
            pj.append(cached[1])
        return np.concatenate(pi), np.concatenate(pj)

    # -- moves ---------------------------------------------------------------------------
    def insert_directly(self) -> None:
        """Put every pool item that fits somewhere into its best-fitting bin (heaviest first)."""
        for p in sorted(self.pool, key=lambda i: -self.w[i]):
            fits = np.flatnonzero((self.L + self.s[p] <= self.cap).all(axis=1))
            if fits.size:
                slack = (self.cap - self.L[fits] - self.s[p]) @ self.inv
                self._place(p, int(fits[int(np.argmin(slack))]))
                self.pool.remove(p)

    def step(self) -> bool:
        """One tabu step over all pool items at once; returns False when no move exists."""
        self.it += 1
        s, L, cap, w, a, rng = self.s, self.L, self.cap, self.w, self.a, self.rng
        pool = np.asarray(self.pool, dtype=np.int64)
        sp = s[pool]
        packed = np.flatnonzero(a >= 0)
        free = packed[self.no_eject_until[packed] <= self.it]
        best_gain, best_move = -np.inf, None
        if free.size:
            room = s[free] + cap - L[a[free]]  # room in a resident's bin once it leaves
            ok1 = (room[None, :, :] >= sp[:, None, :]).all(axis=2)  # (pool, free)
            if ok1.any():
                cols = np.flatnonzero(ok1.any(axis=0))
                if cols.size > self.cfg.max_chain_candidates:  # bound the (cand x bins x d) test
                    cols = np.sort(rng.choice(cols, self.cfg.max_chain_candidates, replace=False))
                cand = free[cols]
                fit_other = (L[None, :, :] + s[cand][:, None, :] <= cap).all(axis=2)
                fit_other[np.arange(cand.size), a[cand]] = False
                chain = fit_other.any(axis=1)
                okc = ok1[:, cols]
                gains = np.where(chain[None, :], w[pool][:, None] + 1.0, w[pool][:, None] - w[cand][None, :])
                gains = np.where(okc, gains + rng.random(okc.shape) * 1e-6, -np.inf)
                pi_, cj = np.unravel_index(int(np.argmax(gains)), gains.shape)
                best_gain = gains[pi_, cj]
                tgt = -1
                if chain[cj]:
                    targets = np.flatnonzero(fit_other[cj])
                    slack = (cap - L[targets] - s[cand[cj]]) @ self.inv
                    tgt = int(targets[int(np.argmin(slack))])
                best_move = (int(pool[pi_]), (int(cand[cj]),), tgt)
        if best_gain < 1.0:  # no full insertion found: also consider ejecting two residents
            pi, pj = self._same_bin_pairs()
            if pi.size:
                keep = (self.no_eject_until[pi] <= self.it) & (self.no_eject_until[pj] <= self.it)
                pi, pj = pi[keep], pj[keep]
            if pi.size:
                room2 = s[pi] + s[pj] + cap - L[a[pi]]
                ok2 = (room2[None, :, :] >= sp[:, None, :]).all(axis=2)
                if ok2.any():
                    gains = np.where(ok2, w[pool][:, None] - w[pi][None, :] - w[pj][None, :] + rng.random(ok2.shape) * 1e-6, -np.inf)
                    r, c = np.unravel_index(int(np.argmax(gains)), gains.shape)
                    if gains[r, c] > best_gain:
                        best_gain, best_move = gains[r, c], (int(pool[r]), (int(pi[c]), int(pj[c])), -1)
        if best_move is None:
            return False
        p, outs, tgt = best_move
        b = self._remove(outs[0])
        for o in outs[1:]:
            self._remove(o)
        self.pool.remove(p)
        self._place(p, b)
        if tgt >= 0:
            self._place(outs[0], tgt)
            self.no_eject_until[outs[0]] = self.it + self.cfg.tabu_min
        else:
            self.pool.extend(outs)
        self.no_eject_until[p] = self.it + self.cfg.tabu_min + int(rng.integers(0, self.cfg.tabu_extra + 1)) + len(self.pool)
        return True


def _weights(sizes: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Item weight for the pool objective: sum of normalised sizes (kept positive)."""
    return np.maximum(H.normalised(sizes, capacity).sum(axis=1), 1e-3)


def eliminate_bins(sizes: np.ndarray, capacity: np.ndarray, assignment: np.ndarray, lb: int, cfg: SearchConfig, deadline: float) -> tuple[np.ndarray, dict]:
    """Repeatedly try to pack into one bin fewer than the best packing so far."""
    rng = np.random.default_rng(cfg.seed + 1)
    w = _weights(sizes, capacity)
    best = compact(assignment)
    iters = attempts = 0
    while int(best.max()) + 1 > lb and time.perf_counter() < deadline and iters < cfg.max_iters:
        m = int(best.max()) + 1
        fill = np.bincount(best, weights=w, minlength=m)
        improved = False
        # try bins from least to most filled; an attempt runs until it succeeds or the budget ends
        for victim in np.argsort(fill, kind="stable")[: max(1, min(m, 3))]:
            attempts += 1
            a = best.copy()
            a[a == victim] = -1
            a[a > victim] -= 1
            st = _Eliminator(sizes, capacity, w, a, m - 1, rng, cfg)
            st.insert_directly()
            while st.pool and time.perf_counter() < deadline and iters < cfg.max_iters:
                if not st.step():
                    break
                iters += 1
                st.insert_directly()
            if not st.pool:
                best, improved = compact(st.a), True
                break
        if not improved:
            break
    return best, {"tabu_iters": iters, "attempts": attempts}


def solve(sizes: np.ndarray, capacity: np.ndarray, cfg: SearchConfig | None = None, lb: int | None = None) -> PackingResult:
    """Best packing we can find within the budget; never more bins than FFD by sum of sizes."""
    cfg = cfg or SearchConfig()
    t0 = time.perf_counter()
    deadline = t0 + cfg.time_limit_s
    sizes = np.asarray(sizes, dtype=np.int64)
    capacity = np.asarray(capacity, dtype=np.int64)
    if sizes.shape[0] == 0:
        return PackingResult(assignment=np.zeros(0, np.int64), bins=0, method="portfolio+tabu", stats={"tabu_iters": 0})
    bound = max(lower_bound(sizes, capacity), lb or 0)
    a, name, seeds = portfolio(sizes, capacity, cfg, t0 + cfg.time_limit_s * cfg.portfolio_share, bound, hard_deadline=deadline)
    start_bins = int(a.max()) + 1
    a, stats = eliminate_bins(sizes, capacity, a, bound, cfg, deadline)
    bins = check_packing(sizes, capacity, a)
    stats.update(seed_method=name, seed_bins=start_bins, heuristics=seeds, lower_bound=bound)
    return PackingResult(assignment=a, bins=bins, method="portfolio+tabu", seconds=time.perf_counter() - t0, stats=stats)

"""Normalise factor values, weight them, rank, and explain the ranking.

* Normalisation: per factor, min-max to [0, 1] with the catalog's fixed bounds when it
  has them (utilisation 0-100 %), else with the observed range; flipped for "higher is
  worse" factors so 1 is always good. Snapshot-only factors (specs, features, site
  data) are normalised once per inventory snapshot against the whole fleet, so a
  node's value does not depend on which sample it was scored in; request-dependent
  factors (headroom after placement, cost of this VM, distance to the tenant) are
  normalised against the candidates. Unknown values (NaN) take the median and full
  uncertainty.
* Score: weighted mean of normalised factors (weights sum to 1), so it lies in [0, 1].
* Confidence: the probability the node truly beats the next-ranked one given the
  factors' uncertainty (normal approximation on the score margin), blended with how
  much of the node's score rests on certain data. Uncertainty is only built for the
  few ranked candidates, not the whole matrix.
* Pros and cons: the factors contributing most above / below the average node.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
from scipy.special import ndtr

from aiops.placement.factors.catalog import FactorEngine, FactorMatrix, StaticBlock, normalise_rows, row_bounds

IMPUTED_UNCERTAINTY = 0.5


@dataclass(frozen=True)
class Scored:
    """Scores of one candidate set; normalised rows are materialised only on demand."""

    scores: np.ndarray        # (k,) in [0, 1]
    fm: FactorMatrix
    dyn_xn: np.ndarray        # (D, k) normalised request-dependent factors
    weights: np.ndarray       # (F,) summing to 1, engine order

    def normalised(self, cols: np.ndarray) -> np.ndarray:
        """(F, len(cols)) normalised factor scores for candidate columns ``cols``."""
        return np.vstack([self.fm.static.xn[:, self.fm.idx[cols]], self.dyn_xn[:, cols]])

    def reference(self) -> np.ndarray:
        """(F,) average normalised score: over the fleet for snapshot factors, over the
        candidates for request-dependent ones (the same sets they were normalised on)."""
        dyn = self.dyn_xn.mean(axis=1) if self.dyn_xn.shape[1] else np.full(self.dyn_xn.shape[0], 0.5)
        return np.concatenate([self.fm.static.xn_mean, dyn])


def effective_weights(engine: FactorEngine, learned: Mapping[str, float] | None = None,
                      category_multipliers: Mapping[str, float] | None = None) -> np.ndarray:
    """Catalog (or learned) weights × category multipliers, normalised to sum to 1."""
    w = engine.base_weights.copy()
    if learned:
        w = np.array([learned.get(fid, b) for fid, b in zip(engine.ids, w)], dtype=float)
    cats = {c: s.weight for c, s in engine.catalog.categories.items()}
    if category_multipliers:
        cats = {c: m * category_multipliers.get(c, 1.0) for c, m in cats.items()}
    w = w * np.array([cats.get(c, 1.0) for c in engine.categories])
    total = w.sum()
    if total <= 0:
        raise ValueError("all factor weights are zero")
    return w / total


def score(engine: FactorEngine, fm: FactorMatrix, weights: np.ndarray) -> Scored:
    """Weighted sum of normalised factors for every candidate.

    Snapshot factors contribute a per-node partial sum cached with the snapshot (one
    gather per request); request-dependent rows are normalised over the candidates and
    summed with einsum (not BLAS gemv: OpenBLAS threads cost ~20 ms on a busy 2-core host).
    """
    s = engine.n_static
    dyn = slice(s, engine.n_factors)
    lo, hi = row_bounds(fm.dynamic, engine.fixed[dyn], engine.lo[dyn], engine.hi[dyn])
    dyn_xn = normalise_rows(fm.dynamic, lo, hi, engine.higher_better[dyn])
    total = np.einsum("f,fk->k", weights[dyn], dyn_xn)
    if s:
        total += fm.static.partial(weights[:s])[fm.idx]
    return Scored(total, fm, dyn_xn, weights)


def score_matrix(engine: FactorEngine, block: StaticBlock, values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Scores from a full raw matrix (engine order × candidates) with the same
    normalisation as ``score``: fleet bounds for snapshot rows, candidate bounds for the
    rest. Used by the per-node baseline and by tests to check the fast path."""
    s = engine.n_static
    dyn = slice(s, engine.n_factors)
    xs = normalise_rows(values[:s], block.lo, block.hi, engine.higher_better[:s], block.fill)
    lo, hi = row_bounds(values[dyn], engine.fixed[dyn], engine.lo[dyn], engine.hi[dyn])
    xd = normalise_rows(values[dyn], lo, hi, engine.higher_better[dyn])
    return np.einsum("f,fk->k", weights[:s], xs) + np.einsum("f,fk->k", weights[dyn], xd)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` best scores, best first (ties broken by candidate order)."""
    k = min(k, scores.shape[0])
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k] if k < scores.shape[0] else np.arange(scores.shape[0])
    return part[np.lexsort((part, -scores[part]))]


def confidence(sc: Scored, ranked: np.ndarray, uncertainty: np.ndarray) -> np.ndarray:
    """Confidence of each ranked candidate in [0, 1]; see module docstring.

    ``uncertainty`` is (F, len(ranked)). ``ranked`` should hold the recommended
    candidates plus the next one when there is one, so the last recommended node also
    has a competitor; the final entry is compared with nothing (p = 1) and is
    normally dropped by the caller.
    """
    s = sc.scores[ranked]
    sig = np.sqrt(np.einsum("f,fk->k", sc.weights ** 2, uncertainty ** 2))
    margin = s[:-1] - s[1:]
    pair = np.sqrt(sig[:-1] ** 2 + sig[1:] ** 2 + 1e-6)
    p_better = np.append(ndtr(margin / pair), 1.0)
    # data certainty: weighted mean uncertainty of the node's factors, scaled to 0..1
    u = np.einsum("f,fk->k", sc.weights, uncertainty) / IMPUTED_UNCERTAINTY
    return np.clip(0.5 * (2 * p_better - 1) + 0.5 * (1 - u), 0.0, 1.0)


def _fmt(v: float) -> str:
    if not np.isfinite(v):
        return "unknown"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 0.01 or a == 0:
        return f"{v:.3g}"
    return f"{v:.2e}"


class Explainer:
    """Pros and cons for the ranked candidates: each factor's weighted contribution
    relative to the average (fleet for snapshot factors, candidates for the rest),
    phrased with raw values and units."""

    def __init__(self, engine: FactorEngine, sc: Scored, cols: np.ndarray):
        self.engine, self.sc, self.cols = engine, sc, cols
        self.avg = sc.reference()
        self.xn = sc.normalised(cols)          # F × len(cols)
        self.raw = sc.fm.raw(cols)              # F × len(cols)

    def explain(self, pos: int, n: int = 3) -> tuple[list[str], list[str]]:
        """Strongest positive and negative contributions of ranked candidate ``pos``."""
        contrib = self.sc.weights * (self.xn[:, pos] - self.avg)
        order = np.argsort(contrib)
        pros = [self._phrase(j, pos, contrib[j], True) for j in order[::-1][:n] if contrib[j] > 1e-9]
        cons = [self._phrase(j, pos, contrib[j], False) for j in order[:n] if contrib[j] < -1e-9]
        return pros, cons

    def _raw_mean(self, j: int) -> tuple[float, str]:
        s = self.engine.n_static
        if j < s:
            return float(self.sc.fm.static.raw_mean[j]), "fleet"
        col = self.sc.fm.dynamic[j - s]
        fin = col[np.isfinite(col)]
        return (float(fin.mean()) if fin.size else float("nan")), "candidate"

    def _phrase(self, j: int, pos: int, c: float, good: bool) -> str:
        mean, ref = self._raw_mean(j)
        return phrase(self.engine.specs[j], float(self.raw[j, pos]), mean, float(c), good, ref)


def phrase(spec, value: float, mean: float, c: float, good: bool, ref: str = "candidate") -> str:  # type: ignore[no-untyped-def]
    """One pro/con sentence: factor name, this node's value, the candidates' average."""
    unit = f" {spec.unit}" if spec.unit and spec.unit not in ("bool", "score", "fraction") else ""
    if spec.unit == "bool":
        return f"{spec.name}: {('yes' if value > 0.5 else 'no')} vs {100 * mean:.0f}% of {ref} nodes ({'better' if good else 'worse'}, {100 * c:+.2f} points)"
    if spec.unit == "fraction":
        val, avg = f"{100 * value:.0f}%", f"{100 * mean:.0f}%"
    else:
        val, avg = f"{_fmt(value)}{unit}", f"{_fmt(mean)}{unit}"
    word = "better" if good else "worse"
    return f"{spec.name}: {val} vs {avg} {ref} average ({word}, {100 * c:+.2f} points)"

"""Normalise the nodes × factors matrix, weight it, rank, and explain the ranking.

* Normalisation: per factor, min-max to [0, 1] with the catalog's fixed bounds when it
  has them (utilisation 0-100 %), else with the candidates' own range; flipped for
  "higher is worse" factors so 1 is always good. Unknown values (NaN) take the
  candidates' median and full uncertainty.
* Score: weighted mean of normalised factors (weights sum to 1), so it lies in [0, 1].
* Confidence: the probability the node truly beats the next-ranked one given the
  factors' uncertainty (normal approximation on the score margin), blended with how
  much of the node's score rests on certain data. Uncertainty is only built for the
  few ranked candidates, not the whole matrix.
* Pros and cons: the factors contributing most above / below the candidates' average.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
from scipy.special import ndtr

from aiops.placement.factors import FactorEngine

IMPUTED_UNCERTAINTY = 0.5


@dataclass(frozen=True)
class Scored:
    scores: np.ndarray        # (k,) in [0, 1]
    normalised: np.ndarray    # (F, k) in [0, 1], 1 = good
    weights: np.ndarray       # (F,) summing to 1


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


def normalise(engine: FactorEngine, values: np.ndarray) -> np.ndarray:
    """Per-factor [0, 1] scaling with direction, as one fused affine pass over the
    factor-major matrix; unknown values (NaN) take the factor's median."""
    x = values
    lo = x.min(axis=1)
    hi = x.max(axis=1)
    nan_rows = np.flatnonzero(np.isnan(lo))
    for j in nan_rows:
        finite = x[j][~np.isnan(x[j])]
        lo[j], hi[j] = (finite.min(), finite.max()) if finite.size else (0.0, 0.0)
    lo = np.where(engine.fixed, engine.lo, lo)
    hi = np.where(engine.fixed, engine.hi, hi)
    span = hi - lo
    flat = span <= 1e-12
    inv = np.where(flat, 0.0, 1.0 / np.where(flat, 1.0, span))
    a = np.where(engine.higher_better, inv, -inv)
    b = np.where(engine.higher_better, -lo * inv, 1.0 + lo * inv)
    b = np.where(flat, 0.5, b)
    xn = x * a[:, None]
    xn += b[:, None]
    np.clip(xn, 0.0, 1.0, out=xn)
    for j in nan_rows:
        row = xn[j]
        miss = np.isnan(row)
        row[miss] = np.median(row[~miss]) if (~miss).any() else 0.5
    return xn


def score(engine: FactorEngine, values: np.ndarray, weights: np.ndarray) -> Scored:
    """Weighted sum over normalised factors for every candidate (one vector-matrix product)."""
    xn = normalise(engine, values)
    # einsum, not BLAS gemv: OpenBLAS threads cost ~20 ms here on a busy 2-core host
    return Scored(np.einsum("f,fk->k", weights, xn), xn, weights)


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
    sig = np.sqrt(sc.weights ** 2 @ uncertainty ** 2)
    margin = s[:-1] - s[1:]
    pair = np.sqrt(sig[:-1] ** 2 + sig[1:] ** 2 + 1e-6)
    p_better = np.append(ndtr(margin / pair), 1.0)
    # data certainty: weighted mean uncertainty of the node's factors, scaled to 0..1
    u = (sc.weights @ uncertainty) / IMPUTED_UNCERTAINTY
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
    """Pros and cons for candidates of one scoring: each factor's weighted contribution
    relative to the average candidate, phrased with raw values and units."""

    def __init__(self, engine: FactorEngine, values: np.ndarray, sc: Scored):
        self.engine, self.values, self.sc = engine, values, sc
        self.avg = sc.normalised.mean(axis=1)
        self._raw_mean: dict[int, float] = {}

    def explain(self, row: int, n: int = 3) -> tuple[list[str], list[str]]:
        """Strongest positive and negative weighted contributions of one candidate, in words."""
        contrib = self.sc.weights * (self.sc.normalised[:, row] - self.avg)
        order = np.argsort(contrib)
        pros = [self._phrase(j, row, contrib[j], True) for j in order[::-1][:n] if contrib[j] > 1e-9]
        cons = [self._phrase(j, row, contrib[j], False) for j in order[:n] if contrib[j] < -1e-9]
        return pros, cons

    def _mean(self, j: int) -> float:
        if j not in self._raw_mean:
            col = self.values[j]
            fin = col[np.isfinite(col)]
            self._raw_mean[j] = float(fin.mean()) if fin.size else float("nan")
        return self._raw_mean[j]

    def _phrase(self, j: int, row: int, c: float, good: bool) -> str:
        return phrase(self.engine.specs[j], float(self.values[j, row]), self._mean(j), float(c), good)


def phrase(spec, value: float, mean: float, c: float, good: bool) -> str:  # type: ignore[no-untyped-def]
    """One pro/con sentence: factor name, this node's value, the candidates' average."""
    unit = f" {spec.unit}" if spec.unit and spec.unit not in ("bool", "score", "fraction") else ""
    if spec.unit == "bool":
        return f"{spec.name}: {('yes' if value > 0.5 else 'no')} vs {100 * mean:.0f}% of candidates ({'better' if good else 'worse'}, {100 * c:+.2f} points)"
    if spec.unit == "fraction":
        val, ref = f"{100 * value:.0f}%", f"{100 * mean:.0f}%"
    else:
        val, ref = f"{_fmt(value)}{unit}", f"{_fmt(mean)}{unit}"
    word = "better" if good else "worse"
    return f"{spec.name}: {val} vs {ref} candidate average ({word}, {100 * c:+.2f} points)"

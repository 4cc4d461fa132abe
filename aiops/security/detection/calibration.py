"""Combining detector parts into one calibrated p-value, and the nearest-neighbour part.

Each part (isolation forest, nearest-neighbour distance, per-host bytes, per-host port rarity) gives a
statistic, higher = more unusual. Each is turned into a conformal p-value against the same part's
statistics on benign calibration flows: the whole warm-up, each flow scored out of fold (the forest's
out-of-bag trees, the neighbours and the port counts without the flow itself). The parts' p-values are
combined (weighted Fisher −Σ w log p by default), and that statistic is itself ranked against the
calibration flows' statistics computed the same way, so the combined p-value is calibrated too: a score
of 0.99 means about 1 in 100 benign flows, however dependent the parts are.

The weights come from a label-free proxy task (:func:`proxy_weights`): how well each part tells warm-up
flows from synthetic ones that mix the fields of two warm-up flows (each value usual, the combination
not). A part that trails the best one there mostly adds noise to the sum, so its weight decays with the
gap. No attack is looked at.

A flow whose source has no history has only the flow-shape parts: its statistic is ranked against the
calibration statistics of the same parts, so a missing part neither raises nor lowers its score. Beyond
the largest calibration statistic, p-values keep falling along an exponential tail fitted to the top
calibration statistics, so flows more unusual than every benign one stay ranked instead of tying.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from aiops.security.detection.common import conformal_p


def tail_scale(calib_sorted: np.ndarray) -> float:
    """β of :func:`tail_p`: the mean excess of the top 5 % (at least 10) calibration scores over their floor."""
    n = calib_sorted.size
    if n < 2:
        return 0.0
    top = calib_sorted[n - min(n, max(10, n // 20)):]
    return float(np.mean(top - top[0]))


def tail_p(calib_sorted: np.ndarray, scores: np.ndarray, beta: float | None = None) -> np.ndarray:
    """Conformal p-values (:func:`conformal_p`) that keep ranking beyond the largest calibration score:
    there ``exp(−excess / β) / (n + 1)`` (β from :func:`tail_scale` unless given). Below the largest
    calibration score they are the plain conformal ones, so every level ≥ 1/(n + 1) keeps its guarantee."""
    p = conformal_p(calib_sorted, scores)
    n = calib_sorted.size
    beta = tail_scale(calib_sorted) if beta is None else beta
    if n < 2 or not beta > 0:
        return p
    excess = np.maximum(np.asarray(scores, np.float64) - calib_sorted[-1], 0.0)
    return np.where(excess > 0, np.exp(-excess / beta) / (n + 1.0), p)


def loo_p(stats: np.ndarray) -> np.ndarray:
    """Leave-one-out conformal p-values of calibration statistics among themselves (higher = more unusual)."""
    s = np.sort(stats)
    k = s.size - np.searchsorted(s, stats, side="left")  # includes the point itself
    return k / max(s.size, 1)


class PartCalibration:
    """Calibration statistics per part, and the combined calibration statistics per set of parts."""

    def __init__(self, method: str = "fisher") -> None:
        self.method = method
        self.parts: dict[str, np.ndarray] = {}
        self.minima: dict[str, np.ndarray] = {}
        self.weights: dict[str, np.ndarray] = {}
        self._beta: dict[str, float] = {}  # tail scales, derived from the arrays above (not saved)

    def statistic(self, ps: list[np.ndarray], weights: np.ndarray | None = None) -> np.ndarray:
        """Higher = more unusual: Fisher's −Σ log p, the Cauchy combination's mean tan((½ − p)π) (Liu & Xie
        2020: its tail holds under any dependence, and one small p-value dominates it, so a weak part drags
        it down less than Fisher's sum), or −min p. A part a flow lacks (NaN: its source has no history)
        adds what it adds on benign traffic on average (Fisher: w·E[−log U] = w; Cauchy: its median, 0;
        min: nothing), so one calibration serves flows with and without every part, on one scale."""
        m = np.clip(np.vstack(ps), 1e-300, 1.0)
        missing = np.isnan(m)
        w = np.ones((len(ps), 1)) if weights is None else np.asarray(weights, np.float64).reshape(-1, 1)
        if self.method == "fisher":
            return (w * np.where(missing, 1.0, -np.log(np.where(missing, 1.0, m)))).sum(axis=0)
        if self.method == "cauchy":
            t = np.tan((0.5 - np.maximum(np.where(missing, 0.5, m), 1e-12)) * np.pi)
            return (w * t).sum(axis=0) / w.sum()
        return -np.where(missing, 1.0, m).min(axis=0)

    def add_part(self, name: str, stats: np.ndarray, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Keep a part's calibration statistics; returns the leave-one-out p-values of ``rows`` of them
        (for :meth:`add_set`: a part calibrated on more flows than the set gives those the set has)."""
        a = np.asarray(stats, np.float64)
        self.parts[name] = np.sort(a)
        self._beta.pop("part:" + name, None)
        return loo_p(a)[rows]

    def add_set(self, key: str, loo_ps: list[np.ndarray], weights: list[float] | None = None) -> None:
        """Calibration statistics for flows that have exactly this set of parts (and the parts' weights)."""
        self.weights[key] = np.ones(len(loo_ps)) if weights is None else np.asarray(weights, np.float64)
        self.minima[key] = np.sort(self.statistic(loo_ps, self.weights[key]))
        self._beta.pop("set:" + key, None)

    def _tail(self, key: str, calib_sorted: np.ndarray) -> float:
        if key not in self._beta:
            self._beta[key] = tail_scale(calib_sorted)
        return self._beta[key]

    def p(self, name: str, stats: np.ndarray) -> np.ndarray:
        cal = self.parts[name]
        return tail_p(cal, np.asarray(stats, np.float64), self._tail("part:" + name, cal))

    def combine(self, key: str, ps: list[np.ndarray], min_calib: int = 30) -> np.ndarray:
        """Calibrated p-value of the parts' combined statistic (Bonferroni over the parts a flow has when
        too few calibration flows had this set)."""
        cal = self.minima.get(key)
        if cal is None or cal.size < min_calib:
            m = np.vstack(ps)
            have = np.maximum((~np.isnan(m)).sum(axis=0), 1)
            return np.minimum(1.0, have * np.where(np.isnan(m), 1.0, m).min(axis=0))
        return tail_p(cal, self.statistic(ps, self.weights.get(key)), self._tail("set:" + key, cal))

    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {f"cal_part_{k}": v for k, v in self.parts.items()}
        out["cal_method"] = np.asarray(self.method)
        out.update({f"cal_min_{k}": v for k, v in self.minima.items()})
        out.update({f"cal_w_{k}": v for k, v in self.weights.items()})
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> "PartCalibration":
        if "cal_method" in arrays:
            c = cls(str(arrays["cal_method"]))
        else:  # snapshots from before the Cauchy combination
            c = cls("fisher" if bool(arrays.get("cal_fisher", True)) else "min")
        for k, v in arrays.items():
            if k.startswith("cal_part_"):
                c.parts[k[len("cal_part_"):]] = np.asarray(v, np.float64)
            elif k.startswith("cal_min_"):
                c.minima[k[len("cal_min_"):]] = np.asarray(v, np.float64)
            elif k.startswith("cal_w_"):
                c.weights[k[len("cal_w_"):]] = np.asarray(v, np.float64)
        return c


def mixed_flows(x: np.ndarray, rng: np.random.Generator,
                share: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Synthetic flows: each column from one of two random warm-up flows (every value usual, the
    combination of them not). The proxy task for weighting parts without labels. Returns the flows,
    both source rows and the mask of columns taken from the second."""
    a, b = rng.integers(len(x), size=len(x)), rng.integers(len(x), size=len(x))
    mask = rng.random(x.shape) < share
    return np.where(mask, x[b], x[a]), a, b, mask


def proxy_weights(calib: list[np.ndarray], synthetic: list[np.ndarray], temperature: float = 0.05) -> np.ndarray:
    """Weight per part: exp(−(best AUC − its AUC) / temperature), each AUC separating the part's
    out-of-fold calibration statistics from its statistics on :func:`mixed_flows` (higher = more unusual)."""
    from scipy.stats import rankdata

    aucs = []
    for cal, syn in zip(calib, synthetic):
        r = rankdata(np.r_[cal, syn])
        n0, n1 = len(cal), len(syn)
        aucs.append((r[n0:].sum() - n1 * (n1 + 1) / 2.0) / max(n0 * n1, 1))
    a = np.asarray(aucs)
    return np.exp(-(a.max() - a) / temperature)


class NearestNeighbours:
    """Mean distance to the k nearest warm-up flows in standardised feature space, through a k-d tree
    (scipy ``cKDTree``, exact): a batch of 1,000 flows against a 2,000-flow warm-up costs a few ms, where
    the dense distance matrix and its per-row partition cost 20–40× more and held the correlator back."""

    def __init__(self, train: np.ndarray, k: int = 5) -> None:
        self.mu = train.mean(axis=0)
        sd = train.std(axis=0)
        self.sd = np.where(sd > 0, sd, 1.0)
        self.ref = (train - self.mu) / self.sd
        self.k = int(min(k, max(len(train) - 1, 1)))
        self._build()

    def _build(self) -> None:
        from scipy.spatial import cKDTree

        self._tree = cKDTree(self.ref)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if len(x) == 0:
            return np.empty(0)
        dist, _ = self._tree.query((x - self.mu) / self.sd, k=self.k)
        return np.asarray(dist, np.float64).reshape(len(x), -1).mean(axis=1)

    def leave_one_out(self) -> np.ndarray:
        """Each reference flow's statistic against the others (itself left out): calibration statistics
        on the whole warm-up, so the reference and the calibration set need not split it (jackknife)."""
        k1 = min(self.k + 1, len(self.ref))
        dist, _ = self._tree.query(self.ref, k=k1)
        near = np.asarray(dist, np.float64).reshape(len(self.ref), -1)  # sorted; column 0 is the flow itself
        return near[:, 1:].mean(axis=1) if k1 > 1 else near[:, 0]

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"knn_mu": self.mu, "knn_sd": self.sd, "knn_ref": self.ref, "knn_k": np.asarray(self.k)}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> "NearestNeighbours":
        obj = cls.__new__(cls)
        obj.mu, obj.sd = np.asarray(arrays["knn_mu"]), np.asarray(arrays["knn_sd"])
        obj.ref, obj.k = np.asarray(arrays["knn_ref"]), int(arrays["knn_k"])
        obj._build()
        return obj

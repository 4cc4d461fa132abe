"""Combining detector parts into one calibrated p-value, and the nearest-neighbour part.

Each part (isolation forest, nearest-neighbour distance, per-host bytes, per-host port rarity) gives a
statistic, higher = more unusual. Each is turned into a split-conformal p-value against the same part's
statistics on held-back benign calibration flows. The parts are then combined by their smallest p-value,
and that minimum is itself ranked against the calibration flows' minima (computed the same way,
leave-one-out), so the combined p-value is calibrated too: a score of 0.99 means about 1 in 100 benign
flows, however dependent the parts are. Bonferroni (k × min p) would be valid but loses power with every
part added; the rank of the minimum loses none when a part adds nothing.

A flow whose source has no history has only the flow-shape parts: its minimum is ranked against the
calibration minima of the same parts, so a missing part neither raises nor lowers its score.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from aiops.security.detection.common import conformal_p


def loo_p(stats: np.ndarray) -> np.ndarray:
    """Leave-one-out conformal p-values of calibration statistics among themselves (higher = more unusual)."""
    s = np.sort(stats)
    k = s.size - np.searchsorted(s, stats, side="left")  # includes the point itself
    return k / max(s.size, 1)


class PartCalibration:
    """Calibration statistics per part, and the calibration minima per set of available parts."""

    def __init__(self, method: str = "fisher") -> None:
        self.method = method
        self.parts: dict[str, np.ndarray] = {}
        self.minima: dict[str, np.ndarray] = {}

    def statistic(self, ps: list[np.ndarray]) -> np.ndarray:
        """Higher = more unusual: Fisher's −Σ log p, the Cauchy combination's mean tan((½ − p)π) (Liu & Xie
        2020: its tail holds under any dependence, and one small p-value dominates it, so a weak part drags
        it down less than Fisher's sum), or −min p."""
        m = np.clip(np.vstack(ps), 1e-12, 1.0)
        if self.method == "fisher":
            return -np.log(m).sum(axis=0)
        if self.method == "cauchy":
            return np.tan((0.5 - m) * np.pi).mean(axis=0)
        return -m.min(axis=0)

    def add_part(self, name: str, stats: np.ndarray, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Keep a part's calibration statistics; returns the leave-one-out p-values of ``rows`` of them
        (for :meth:`add_set`: a part calibrated on more flows than the set gives those the set has)."""
        a = np.asarray(stats, np.float64)
        self.parts[name] = np.sort(a)
        return loo_p(a)[rows]

    def add_set(self, key: str, loo_ps: list[np.ndarray]) -> None:
        """Calibration minima for flows that have exactly this set of parts."""
        self.minima[key] = np.sort(self.statistic(loo_ps))

    def p(self, name: str, stats: np.ndarray) -> np.ndarray:
        return conformal_p(self.parts[name], np.asarray(stats, np.float64))

    def combine(self, key: str, ps: list[np.ndarray], min_calib: int = 30) -> np.ndarray:
        """Calibrated p-value of the smallest part p-value (Bonferroni when too few calibration flows had this set)."""
        cal = self.minima.get(key)
        if cal is None or cal.size < min_calib:
            return np.minimum(1.0, len(ps) * np.min(np.vstack(ps), axis=0))
        return conformal_p(cal, self.statistic(ps))

    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {f"cal_part_{k}": v for k, v in self.parts.items()}
        out["cal_method"] = np.asarray(self.method)
        out.update({f"cal_min_{k}": v for k, v in self.minima.items()})
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
        return c


class NearestNeighbours:
    """Mean distance to the k nearest training flows in standardised feature space (numpy, no index:
    a warm-up of a few thousand flows scores a batch of 1,000 in milliseconds)."""

    def __init__(self, train: np.ndarray, k: int = 5) -> None:
        self.mu = train.mean(axis=0)
        sd = train.std(axis=0)
        self.sd = np.where(sd > 0, sd, 1.0)
        self.ref = (train - self.mu) / self.sd
        self.k = int(min(k, max(len(train) - 1, 1)))
        self._norms = (self.ref ** 2).sum(axis=1)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if len(x) == 0:
            return np.empty(0)
        z = (x - self.mu) / self.sd
        d2 = (z ** 2).sum(axis=1)[:, None] + self._norms[None, :] - 2.0 * z @ self.ref.T
        near = np.partition(np.maximum(d2, 0.0), self.k - 1, axis=1)[:, :self.k]
        return np.sqrt(near).mean(axis=1)

    def leave_one_out(self) -> np.ndarray:
        """Each reference flow's statistic against the others (itself left out): calibration statistics
        on the whole warm-up, so the reference and the calibration set need not split it (jackknife)."""
        d2 = self._norms[:, None] + self._norms[None, :] - 2.0 * self.ref @ self.ref.T
        k1 = min(self.k + 1, len(self.ref))
        near = np.sort(np.sqrt(np.partition(np.maximum(d2, 0.0), k1 - 1, axis=1)[:, :k1]), axis=1)
        return near[:, 1:].mean(axis=1) if k1 > 1 else near[:, 0]

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"knn_mu": self.mu, "knn_sd": self.sd, "knn_ref": self.ref, "knn_k": np.asarray(self.k)}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> "NearestNeighbours":
        obj = cls.__new__(cls)
        obj.mu, obj.sd = np.asarray(arrays["knn_mu"]), np.asarray(arrays["knn_sd"])
        obj.ref, obj.k = np.asarray(arrays["knn_ref"]), int(arrays["knn_k"])
        obj._norms = (obj.ref ** 2).sum(axis=1)
        return obj

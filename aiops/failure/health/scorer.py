"""Label-free health score for fleets: pyod detectors over per-target feature vectors.

Used where no failure labels exist: each target's feature vector (e.g. one row per
host per window) is scored by detectors fitted on *past* windows only, and each
raw score is turned into a 0–1 health risk by the empirical CDF of the training
scores — so 0.99 means "more unusual than 99% of what the detector was fitted on",
whatever the detector's raw scale.

Why the care:
* pyod's ECOD and COPOD rebuild their per-column ECDFs from training rows *plus the
  scored batch* (``decision_function`` concatenates them), so a batch of anomalies
  would partly define its own normal. We score them one row at a time against the
  training rows, which gives every row the same reference.
* Constant (or all-NaN) training columns carry no information and break some
  detectors (PCA divides by their zero variance), so they are dropped at fit time.
* The alert threshold comes from a contamination quantile of training scores
  (no labels): with ``contamination=0.01`` about 1% of normal rows alert.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Method = Literal["ecod", "copod", "iforest"]
METHODS: tuple[Method, ...] = ("ecod", "copod", "iforest")


def _make(method: Method, random_state: int):
    if method == "ecod":
        from pyod.models.ecod import ECOD

        return ECOD()
    if method == "copod":
        from pyod.models.copod import COPOD

        return COPOD()
    if method == "iforest":
        from pyod.models.iforest import IForest

        return IForest(n_estimators=200, random_state=random_state)
    raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")


@dataclass
class HealthScorer:
    """One pyod detector fitted on training rows; scores calibrated to 0–1 by training ECDF."""

    method: Method = "ecod"
    contamination: float = 0.01
    random_state: int = 0
    keep_: np.ndarray | None = field(default=None, init=False, repr=False)
    center_: np.ndarray | None = field(default=None, init=False, repr=False)
    scale_: np.ndarray | None = field(default=None, init=False, repr=False)
    train_scores_: np.ndarray | None = field(default=None, init=False, repr=False)
    threshold_: float | None = field(default=None, init=False)

    def fit(self, X_train: np.ndarray) -> "HealthScorer":
        """Fit on training rows only (past windows); NaNs are imputed with training medians."""
        if not 0.0 < self.contamination < 0.5:
            raise ValueError("contamination must be in (0, 0.5)")
        X = np.asarray(X_train, dtype=float)
        if X.ndim != 2 or X.shape[0] < 10:
            raise ValueError("need a 2-D training matrix with at least 10 rows")
        with np.errstate(all="ignore"):
            center = np.nanmedian(X, axis=0)
            spread = np.nanstd(X, axis=0)
        keep = np.isfinite(center) & np.isfinite(spread) & (spread > 0)
        if not keep.any():
            raise ValueError("every training column is constant; nothing to learn")
        self.keep_ = keep
        self.center_ = center[keep]
        q75, q25 = np.nanpercentile(X[:, keep], [75, 25], axis=0)
        iqr = q75 - q25
        self.scale_ = np.where(iqr > 0, iqr, spread[keep])
        Z = self._transform(X)
        self.model_ = _make(self.method, self.random_state).fit(Z)
        self.train_scores_ = np.sort(self._raw(Z))
        self.threshold_ = float(np.quantile(self._calibrate(self.train_scores_), 1.0 - self.contamination))
        return self

    def _transform(self, X: np.ndarray) -> np.ndarray:
        Z = (np.asarray(X, dtype=float)[:, self.keep_] - self.center_) / self.scale_
        return np.where(np.isfinite(Z), Z, 0.0)  # missing values sit at the training median

    def _raw(self, Z: np.ndarray) -> np.ndarray:
        if self.method in ("ecod", "copod"):
            # one row at a time: the ECDFs are then the training rows' plus this row only
            return np.array([self.model_.decision_function(Z[i : i + 1])[0] for i in range(len(Z))])
        return np.asarray(self.model_.decision_function(Z), dtype=float)

    def _calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Training ECDF; beyond the training maximum an exponential tail keeps outliers ranked.

        Without the tail every row above the worst training row would tie at n/(n+1).
        """
        ref = self.train_scores_
        n = len(ref)
        cdf = np.searchsorted(ref, raw, side="right") / (n + 1.0)
        q75, q25 = np.quantile(ref, [0.75, 0.25])
        scale = (q75 - q25) or (np.std(ref) or 1.0)
        beyond = np.maximum(np.asarray(raw, dtype=float) - ref[-1], 0.0)
        return cdf + (beyond > 0) * (1.0 - np.exp(-beyond / scale)) / (n + 1.0)

    def score(self, X: np.ndarray) -> np.ndarray:
        """Risk in [0, 1): share of training rows that looked more normal than each row."""
        if self.train_scores_ is None:
            raise RuntimeError("fit() first")
        return self._calibrate(self._raw(self._transform(X)))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Boolean alert per row: calibrated risk above the label-free contamination threshold."""
        return self.score(X) > float(self.threshold_)


@dataclass
class HealthEnsemble:
    """Mean of calibrated risks from several detectors; threshold again from training rows."""

    methods: tuple[Method, ...] = METHODS
    contamination: float = 0.01
    random_state: int = 0

    def fit(self, X_train: np.ndarray) -> "HealthEnsemble":
        self.members_ = [HealthScorer(m, self.contamination, self.random_state).fit(X_train) for m in self.methods]
        # calibrate the mean on the training rows' own member risks
        train = np.mean([m._calibrate(m._raw(m._transform(X_train))) for m in self.members_], axis=0)
        self.train_scores_ = np.sort(train)
        self.threshold_ = float(np.quantile(self.train_scores_, 1.0 - self.contamination))
        return self

    def member_scores(self, X: np.ndarray) -> dict[str, np.ndarray]:
        return {m.method: m.score(X) for m in self.members_}

    def score(self, X: np.ndarray) -> np.ndarray:
        return np.mean(list(self.member_scores(X).values()), axis=0)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.score(X) > self.threshold_


def rolling_health(
    frames: list[np.ndarray], train_windows: int = 5, method: Method = "ecod", contamination: float = 0.01
) -> list[np.ndarray | None]:
    """Score each window's fleet matrix with a detector fitted on the previous windows only.

    ``frames[i]`` is the (targets x features) matrix of window ``i``; the first
    ``train_windows`` windows have no score (None) because nothing precedes them.
    """
    out: list[np.ndarray | None] = []
    for i, X in enumerate(frames):
        if i < train_windows:
            out.append(None)
            continue
        train = np.vstack(frames[i - train_windows : i])
        out.append(HealthScorer(method, contamination).fit(train).score(X))
    return out

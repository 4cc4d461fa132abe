"""Leak-free splits: every entity sits in exactly one fold, and time-ordered holdouts.

Failures are rare and concentrated in few drives, so folds are stratified by whether the
drive ever fails (StratifiedGroupKFold) — otherwise a fold can end up with two failed drives
and its recall becomes noise.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold


def grouped_folds(groups: np.ndarray, labels: np.ndarray, n_splits: int = 5,
                  seed: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(train_idx, test_idx) pairs with no group on both sides, stratified by "group has a positive"."""
    codes, _ = pd.factorize(np.asarray(groups))
    has_pos = pd.Series(np.asarray(labels) > 0).groupby(codes).transform("max").to_numpy().astype(int)
    skf = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    yield from skf.split(np.zeros(len(codes)), has_pos, codes)


def fold_ids(groups: np.ndarray, labels: np.ndarray, n_splits: int = 5, seed: int = 0) -> np.ndarray:
    """Fold number of every row (the out-of-fold CSV records it)."""
    out = np.full(len(groups), -1, dtype=np.int16)
    for k, (_, test) in enumerate(grouped_folds(groups, labels, n_splits, seed)):
        out[test] = k
    return out


def time_ordered_holdout(groups: np.ndarray, times: pd.Series, cutoff: pd.Timestamp | float,
                         horizon: float, test_fraction: float = 0.2,
                         seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Train on some entities before ``cutoff - horizon``; test on the other entities from ``cutoff`` on.

    The horizon-wide gap keeps training labels from peeking into the test period (a training
    row's label looks H ahead), and disjoint entities keep a drive's own history out of test.
    """
    codes, uniq = pd.factorize(np.asarray(groups))
    rng = np.random.default_rng(seed)
    test_groups = rng.random(len(uniq)) < test_fraction
    is_test_group = test_groups[codes]
    t = pd.Series(times).reset_index(drop=True)
    gap = pd.Timedelta(days=horizon) if isinstance(cutoff, pd.Timestamp) else horizon
    train = np.flatnonzero(~is_test_group & (t < cutoff - gap).to_numpy())
    test = np.flatnonzero(is_test_group & (t >= cutoff).to_numpy())
    return train, test

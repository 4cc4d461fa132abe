"""Per-entity feature windows for sequence models: [N, T, F] arrays built only from the past.

A long frame (one row per entity and time step, e.g. a Backblaze drive-day or a fleet host
sample) becomes one window per row: the row's own feature vector and the T-1 vectors before
it *of the same entity*, oldest first. Nothing after the row is ever read, so a window can be
scored at that row's time in production. Entities with fewer than T past rows are padded on
the left by repeating their earliest vector: "no change before we first saw it" is the most
neutral history to assume, and it adds no artificial jump that an order-aware model would read
as a trend.

Windows are built on demand for a chosen subset of rows (``rows``), because materialising every
window of a large fleet costs N*T*F floats; training typically needs all positives and a sample
of negatives, while the history used for each window is still the full frame.

Splits are grouped by entity (no entity on both sides) and stratified by "entity ever fails",
reusing ``aiops.failure.training.splits`` so sequence and tree models can share folds.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from aiops.failure.training.splits import grouped_folds


@dataclass(frozen=True)
class WindowIndex:
    """Row layout of a frame sorted by (entity, time): what windows need to find their history."""

    order: np.ndarray        # positions into the caller's frame, in (entity, time) order
    start: np.ndarray        # per sorted row: sorted position of its entity's first row
    values: np.ndarray       # [n, F] float32 feature matrix in sorted order

    @property
    def n(self) -> int:
        return len(self.order)


def index_frame(frame: pd.DataFrame, features: Sequence[str], entity: str, time: str) -> WindowIndex:
    """Sort a long frame by (entity, time) once and remember where each entity's history starts.

    Duplicate (entity, time) rows are an input error: a window would otherwise silently hold the
    same step twice.
    """
    missing = [c for c in (entity, time, *features) if c not in frame.columns]
    if missing:
        raise KeyError(f"frame lacks columns {missing}")
    ent_codes = pd.factorize(frame[entity].to_numpy())[0]
    t = frame[time]
    tkey = (t.astype("datetime64[ns]").astype("int64").to_numpy() if pd.api.types.is_datetime64_any_dtype(t)
            else pd.to_numeric(t).to_numpy(dtype=np.float64))
    order = np.lexsort((tkey, ent_codes))
    e = ent_codes[order]
    ts = tkey[order]
    if len(e) > 1 and np.any((np.diff(e) == 0) & (np.diff(ts) == 0)):
        raise ValueError(f"duplicate ({entity}, {time}) rows: one row per entity and time step is required")
    new_entity = np.ones(len(e), dtype=bool)
    new_entity[1:] = e[1:] != e[:-1]
    first_pos = np.maximum.accumulate(np.where(new_entity, np.arange(len(e)), 0))
    vals = frame[list(features)].to_numpy(dtype=np.float32, na_value=np.nan)[order]
    return WindowIndex(order=order, start=first_pos, values=vals)


def windows_from_index(idx: WindowIndex, window: int, sorted_rows: np.ndarray | None = None) -> np.ndarray:
    """[len(rows), window, F] windows ending at the given *sorted* positions (all rows if None)."""
    if window < 1:
        raise ValueError("window must be >= 1")
    rows = np.arange(idx.n) if sorted_rows is None else np.asarray(sorted_rows, dtype=np.int64)
    lag = np.arange(window - 1, -1, -1)                       # oldest first: lag T-1 ... 0
    src = rows[:, None] - lag[None, :]
    src = np.maximum(src, idx.start[rows][:, None])            # left-pad with the entity's first row
    return idx.values[src]


def make_windows(frame: pd.DataFrame, features: Sequence[str], window: int, entity: str, time: str,
                 rows: np.ndarray | None = None) -> np.ndarray:
    """Windows for ``rows`` (positions in ``frame``; all rows when None), in the caller's row order."""
    idx = index_frame(frame, features, entity, time)
    inv = np.empty(idx.n, dtype=np.int64)
    inv[idx.order] = np.arange(idx.n)
    want = np.arange(len(frame)) if rows is None else np.asarray(rows, dtype=np.int64)
    return windows_from_index(idx, window, inv[want])


@dataclass(frozen=True)
class WindowSplit:
    """Train/test row positions with disjoint entities."""

    train: np.ndarray
    test: np.ndarray


def grouped_split(groups: np.ndarray, labels: np.ndarray, test_fraction: float = 0.2,
                  seed: int = 0) -> WindowSplit:
    """One entity-grouped, failure-stratified holdout: test = one fold of round(1/test_fraction)."""
    n_splits = max(2, int(round(1.0 / test_fraction)))
    train, test = next(iter(grouped_folds(np.asarray(groups), np.asarray(labels), n_splits, seed)))
    return WindowSplit(train=np.sort(train), test=np.sort(test))


def sample_rows(labels: np.ndarray, neg_rate: float, seed: int = 0,
                candidates: np.ndarray | None = None) -> np.ndarray:
    """All positive rows plus a ``neg_rate`` fraction of negatives among ``candidates``."""
    cand = np.arange(len(labels)) if candidates is None else np.asarray(candidates)
    y = np.asarray(labels)[cand] > 0
    if neg_rate >= 1.0:
        return cand
    rng = np.random.default_rng(seed)
    return cand[y | (rng.random(len(cand)) < neg_rate)]


def frame_from_history(history: dict, features: Sequence[str] | None = None) -> pd.DataFrame:
    """Long frame from ``ShardState.get_historical_features`` output (point-in-time fleet windows).

    Missing feature values (None) become NaN, which the sequence models treat as "at the mean".
    """
    rows = history.get("rows", [])
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(columns=["target", "ts", *(features or [])])
    df.insert(0, "target", history.get("target_id"))
    if features is not None:
        for f in features:
            if f not in df.columns:
                df[f] = np.nan
        df = df[["target", "ts", *features]]
    num = [c for c in df.columns if c not in ("target", "ts")]
    df[num] = df[num].apply(pd.to_numeric, errors="coerce").astype(np.float32)
    return df

"""Per-drive SMART history features that use only the past.

Each drive's records are laid out on a dense daily calendar (first to last day seen, missing
days forward-filled from the last record), so "k-day difference" means k calendar days even
when a drive skips days, and every window looks strictly backwards. Nothing here looks at
other drives or at future days: the frame can be scored one day at a time in production.

Error counters (reallocated, pending, ...) get growth/jump/update-count features because a
drive's *change* predicts failure better than its level; gauges (temperature, error rate)
get rolling mean/std and deviation from the drive's own baseline; power-on hours give age,
used to normalise counts (ten reallocations on a new drive are worse than on a five-year-old one).
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

HOURS_PER_YEAR = 8766.0


@dataclass(frozen=True)
class FeatureSpec:
    """Which SMART columns to use and how; defaults fit the 2013 Backblaze schema."""

    counters: tuple[int, ...] = (5, 197)
    gauges: tuple[int, ...] = (1, 194)
    age_id: int | None = 9
    diff_days: tuple[int, ...] = (1, 3, 7)
    window_days: int = 7
    categorical: tuple[str, ...] = ("model", "vendor")
    extra_numeric: tuple[str, ...] = ("capacity_tb",)
    entity: str = "serial_number"
    time: str = "date"

    @property
    def smart_ids(self) -> tuple[int, ...]:
        ids = list(self.counters) + list(self.gauges) + ([self.age_id] if self.age_id else [])
        return tuple(sorted(set(ids)))


class _Calendar:
    """Dense per-drive daily layout of a (serial, date)-sorted frame."""

    def __init__(self, entity: np.ndarray, day: np.ndarray):
        codes, _ = pd.factorize(entity)
        first = pd.Series(day).groupby(codes).transform("min").to_numpy()
        last = pd.Series(day).groupby(codes).transform("max").to_numpy()
        span = (pd.Series(last - first + 1).groupby(codes).first()).to_numpy()
        offset = np.concatenate([[0], np.cumsum(span)[:-1]])
        self.n = int(span.sum())
        self.row_pos = offset[codes] + (day - first)          # dense slot of each input row
        self.pos_in_drive = np.concatenate([np.arange(s) for s in span]) if len(span) else np.zeros(0, int)
        present = np.zeros(self.n, dtype=bool)
        present[self.row_pos] = True
        self.present = present
        # Index of the last present slot at or before each slot; drives start with a present slot,
        # so the running maximum never carries a value across drives.
        self.ffill_idx = np.maximum.accumulate(np.where(present, np.arange(self.n), 0))

    def dense(self, values: np.ndarray) -> np.ndarray:
        out = np.full(self.n, np.nan)
        out[self.row_pos] = values
        return out[self.ffill_idx]

    def shift(self, dense: np.ndarray, k: int) -> np.ndarray:
        """Value k calendar days earlier (NaN before the drive's first record)."""
        if k == 0:
            return dense
        out = np.full(self.n, np.nan)
        out[k:] = dense[:-k]
        out[self.pos_in_drive < k] = np.nan
        return out

    def window(self, dense: np.ndarray, w: int) -> np.ndarray:
        """(n, w) matrix of the last w days including today, NaN where history is missing."""
        return np.stack([self.shift(dense, k) for k in range(w)], axis=1)

    def drive_first(self, dense: np.ndarray) -> np.ndarray:
        start = np.arange(self.n) - self.pos_in_drive
        return dense[start]

    def expanding_mean(self, dense: np.ndarray) -> np.ndarray:
        v = np.nan_to_num(dense)
        c = np.cumsum(v)
        start = np.arange(self.n) - self.pos_in_drive
        before = np.where(start > 0, c[np.maximum(start - 1, 0)], 0.0)
        return (c - before) / (self.pos_in_drive + 1)

    def take(self, dense: np.ndarray) -> np.ndarray:
        return dense[self.row_pos]


def vendor_of(model: pd.Series) -> pd.Series:
    """Manufacturer from the model string (Backblaze omits 'Seagate' before ST models)."""
    m = model.astype(str).str.upper()
    first = m.str.split().str[0]
    return first.where(~m.str.startswith("ST"), "SEAGATE").where(~m.str.startswith("HGST"), "HGST")


def _col(i: int) -> str:
    return f"smart_{i}_raw"


def _nanstat(fn, mat: np.ndarray) -> np.ndarray:
    """Row-wise nan-aware statistic; all-NaN rows give NaN without a warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(mat, axis=1)


def raw_diff_features(df: pd.DataFrame, ids: Sequence[int], diff_days: Sequence[int] = (1, 3, 7),
                      entity: str = "serial_number", time: str = "date") -> pd.DataFrame:
    """Raw SMART values plus their k-day differences: the issue's "plain XGBoost" feature set."""
    cal, day = _calendar(df, entity, time)
    out = {}
    for i in ids:
        d = cal.dense(df[_col(i)].to_numpy(dtype=np.float64))
        out[_col(i)] = df[_col(i)].to_numpy(dtype=np.float64)
        for k in diff_days:
            out[f"{_col(i)}_diff_{k}d"] = cal.take(d - cal.shift(d, k))
    return pd.DataFrame(out, index=df.index)


def _calendar(df: pd.DataFrame, entity: str, time: str) -> tuple[_Calendar, np.ndarray]:
    t = df[time]
    day = ((t.astype("datetime64[ns]").astype("int64") // 86_400_000_000_000).to_numpy()
           if pd.api.types.is_datetime64_any_dtype(t) else t.to_numpy(dtype=np.int64))
    ent = df[entity].to_numpy()
    # The calendar assumes rows grouped by entity and ordered by day.
    codes = pd.factorize(ent)[0]
    if len(codes) > 1 and not (np.all(np.diff(codes) >= 0) and np.all((np.diff(day) > 0) | (np.diff(codes) != 0))):
        raise ValueError("frame must be sorted by (entity, time) with one row per entity and day")
    return _Calendar(ent, day), day


def smart_history_features(df: pd.DataFrame, spec: FeatureSpec = FeatureSpec()) -> pd.DataFrame:
    """Feature frame aligned with ``df`` (sorted by entity, time; one row per drive-day)."""
    cal, _ = _calendar(df, spec.entity, spec.time)
    w = spec.window_days
    out: dict[str, np.ndarray] = {}
    age_years = None
    if spec.age_id is not None and _col(spec.age_id) in df:
        hours = cal.dense(df[_col(spec.age_id)].to_numpy(dtype=np.float64))
        age_years = hours / HOURS_PER_YEAR
        out["age_years"] = cal.take(age_years)
        daily = hours - cal.shift(hours, 1)
        out["power_on_hours_1d"] = cal.take(daily)          # < 24: drive was off or restarted
        out["power_on_hours_min_7d"] = cal.take(_nanstat(np.nanmin, cal.window(daily, w)))
    for i in spec.counters:
        c = _col(i)
        x = cal.dense(df[c].to_numpy(dtype=np.float64))
        out[c] = cal.take(x)
        for k in spec.diff_days:
            out[f"{c}_diff_{k}d"] = cal.take(x - cal.shift(x, k))
        jumps = x - cal.shift(x, 1)
        jw = cal.window(jumps, w)
        out[f"{c}_max_jump_{w}d"] = cal.take(_nanstat(np.nanmax, jw))
        out[f"{c}_days_up_{w}d"] = cal.take(np.nansum(jw > 0, axis=1).astype(np.float64))
        out[f"{c}_growth"] = cal.take(x - cal.drive_first(x))
        if age_years is not None:
            out[f"{c}_per_year"] = cal.take(x / np.maximum(age_years, 0.05))
    if len(spec.counters) > 1:
        tot = sum(cal.dense(df[_col(i)].to_numpy(dtype=np.float64)) for i in spec.counters)
        name = "smart_" + "_".join(str(i) for i in spec.counters) + "_sum"
        out[name] = cal.take(tot)
        out[f"{name}_diff_{w}d"] = cal.take(tot - cal.shift(tot, w))
    for i in spec.gauges:
        c = _col(i)
        x = cal.dense(df[c].to_numpy(dtype=np.float64))
        out[c] = cal.take(x)
        for k in spec.diff_days:
            out[f"{c}_diff_{k}d"] = cal.take(x - cal.shift(x, k))
        xw = cal.window(x, w)
        out[f"{c}_mean_{w}d"] = cal.take(_nanstat(np.nanmean, xw))
        out[f"{c}_std_{w}d"] = cal.take(_nanstat(np.nanstd, xw))
        out[f"{c}_vs_own_mean"] = cal.take(x - cal.expanding_mean(x))
    # Presence: drives that skip days are being serviced or flapping.
    # Count only days since the drive's first record, so the feature never encodes the calendar date.
    absent = (~cal.present).astype(np.float64)
    out[f"days_missing_{w}d"] = cal.take(np.nansum(cal.window(absent, w), axis=1))
    out["days_since_previous"] = cal.take(_gap_days(cal))
    feats = pd.DataFrame(out, index=df.index).astype(np.float32)
    if "capacity_tb" in spec.extra_numeric and "capacity_bytes" in df:
        feats["capacity_tb"] = (df["capacity_bytes"].to_numpy(dtype=np.float64) / 1e12).astype(np.float32)
    if "model" in spec.categorical and "model" in df:
        feats["model"] = df["model"].astype(str).to_numpy()
    if "vendor" in spec.categorical and "model" in df:
        feats["vendor"] = vendor_of(df["model"]).to_numpy()
    return feats


def _gap_days(cal: _Calendar) -> np.ndarray:
    """Days since the previous real record (NaN on a drive's first record)."""
    idx = np.arange(cal.n)
    prev_present = np.full(cal.n, -1)
    prev_present[1:] = cal.ffill_idx[:-1]
    gap = (idx - prev_present).astype(np.float64)
    gap[cal.pos_in_drive == 0] = np.nan
    return gap


def categorical_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]

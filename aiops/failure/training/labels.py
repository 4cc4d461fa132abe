"""Horizon labels ("fails within H") and survival targets from an event history.

Works on any long table with an entity column, a time column and a 0/1 event column: a
Backblaze drive-day (``serial_number``, ``date``, ``failure``) or a simulator host sample
(``target``, ``ts``, ``failed``). The failure record itself counts as inside the horizon,
so with H = 7 days a failed drive contributes its failure day and the 6 days before it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class LabelSpec:
    """Column names and horizon; ``horizon`` is in the time column's units (days for dates)."""

    entity: str = "serial_number"
    time: str = "date"
    event: str = "failure"
    horizon: float = 7.0


def _as_float_time(s: pd.Series) -> np.ndarray:
    """Dates become fractional days since epoch so horizons read in days; numbers pass through."""
    if pd.api.types.is_datetime64_any_dtype(s):
        return (s.astype("datetime64[ns]").astype("int64").to_numpy() / 86_400e9).astype(np.float64)
    return s.to_numpy(dtype=np.float64)


def time_to_event(df: pd.DataFrame, spec: LabelSpec) -> pd.DataFrame:
    """Per row: time until the entity's next event (NaN if none observed) and until its last record.

    Returns columns ``tte`` (event time minus row time, 0 on the event row) and ``follow_up``
    (last observed time of the entity minus row time): the censoring time when no event follows.
    """
    t = _as_float_time(df[spec.time])
    codes = pd.factorize(df[spec.entity])[0]
    ev = df[spec.event].to_numpy() > 0
    order = np.lexsort((t, codes))
    frame = pd.DataFrame({"e": codes[order], "t": t[order], "ev_t": np.where(ev[order], t[order], np.nan)})
    g = frame.groupby("e", sort=False)
    next_ev = g["ev_t"].bfill().to_numpy()          # next event at or after each row
    last_seen = g["t"].transform("max").to_numpy()  # entity's last record
    t_o = frame["t"].to_numpy()
    out = pd.DataFrame(index=df.index)
    tte = np.empty(len(t)); tte[order] = next_ev - t_o
    fu = np.empty(len(t)); fu[order] = last_seen - t_o
    out["tte"] = tte
    out["follow_up"] = fu
    return out


def horizon_labels(df: pd.DataFrame, spec: LabelSpec) -> pd.DataFrame:
    """Add ``label`` (event within [t, t + H)), ``tte``, ``follow_up`` and ``censored``.

    ``censored`` marks negatives whose follow-up is shorter than the horizon: nothing says the
    entity survived the whole window (it left the data or the data ended), so callers may
    leave them out of *training*; evaluation keeps every row.
    """
    te = time_to_event(df, spec)
    label = (te["tte"].to_numpy() >= 0) & (te["tte"].to_numpy() < spec.horizon)
    out = df.copy()
    out["tte"] = te["tte"].to_numpy()
    out["follow_up"] = te["follow_up"].to_numpy()
    out["label"] = label.astype(np.int8)
    out["censored"] = (~label) & np.isnan(out["tte"].to_numpy()) & (out["follow_up"].to_numpy() < spec.horizon - 1)
    return out


def survival_bounds(tte: np.ndarray, follow_up: np.ndarray, unit_offset: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Interval-censored targets for AFT models: [tte, tte] for observed events, [follow_up, inf) otherwise.

    ``unit_offset`` shifts times to be strictly positive (an event today is 1 day away, counting
    the rest of the day), which the log-time AFT likelihood requires.
    """
    tte = np.asarray(tte, dtype=np.float64)
    fu = np.asarray(follow_up, dtype=np.float64)
    observed = ~np.isnan(tte)
    lower = np.where(observed, tte, fu) + unit_offset
    upper = np.where(observed, tte + unit_offset, np.inf)
    return lower, upper

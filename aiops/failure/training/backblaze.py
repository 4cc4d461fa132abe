"""Loader for Backblaze Drive Stats folders (any year, any schema).

Backblaze publishes one CSV per day (``YYYY-MM-DD.csv``), either loose, gzipped or inside
quarterly zip archives, and the set of SMART columns grows over the years. This loader
walks a folder recursively, accepts all three forms, reads only the columns it needs and
returns one tidy frame sorted by drive and date, so the same code runs on the 40-day 2013
sample and on the full public history (use ``start``/``end``/``models`` to bound memory).
"""
from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ID_COLUMNS: tuple[str, ...] = ("date", "serial_number", "model", "capacity_bytes", "failure")
DEFAULT_SMART: tuple[int, ...] = (1, 5, 9, 194, 197)
_DAY_FILE = re.compile(r"(\d{4}-\d{2}-\d{2})\.csv(\.gz)?$")


class BackblazeFormatError(ValueError):
    """The folder holds no Backblaze daily files, or a file lacks the mandatory columns."""


@dataclass(frozen=True)
class DayFile:
    """One daily CSV, either a path on disk or a member of a zip archive."""

    day: pd.Timestamp
    path: Path
    member: str | None = None

    def open_bytes(self) -> io.BytesIO | Path:
        if self.member is None:
            return self.path
        with zipfile.ZipFile(self.path) as zf:
            return io.BytesIO(zf.read(self.member))


def discover_day_files(root: Path) -> list[DayFile]:
    """All daily files under ``root`` (loose ``.csv``/``.csv.gz`` or inside ``.zip``), sorted by day.

    When the same day appears twice (an unpacked archive next to its zip) the loose file wins.
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"{root}: Backblaze folder not found")
    found: dict[pd.Timestamp, DayFile] = {}
    for p in sorted(root.rglob("*.zip")):
        with zipfile.ZipFile(p) as zf:
            for name in zf.namelist():
                m = _DAY_FILE.search(name)
                if m and "__MACOSX" not in name:
                    day = pd.Timestamp(m.group(1))
                    found.setdefault(day, DayFile(day, p, name))
    for p in sorted(root.rglob("*.csv*")):
        m = _DAY_FILE.search(p.name)
        if m:
            day = pd.Timestamp(m.group(1))
            found[day] = DayFile(day, p, None)
    if not found:
        raise BackblazeFormatError(f"{root}: no YYYY-MM-DD.csv[.gz] files (loose or zipped) found")
    return [found[d] for d in sorted(found)]


def smart_columns(ids: Iterable[int], kinds: Sequence[str] = ("raw",)) -> list[str]:
    """Column names for SMART attribute ids, e.g. ``smart_5_raw``."""
    return [f"smart_{i}_{k}" for i in ids for k in kinds]


def _read_day(f: DayFile, wanted: set[str], models: set[str] | None) -> pd.DataFrame:
    src = f.open_bytes()
    df = pd.read_csv(src, usecols=lambda c: c in wanted, compression="infer" if f.member is None else None,
                     dtype={"serial_number": str, "model": str}, low_memory=False)
    missing = [c for c in ID_COLUMNS if c not in df.columns]
    if missing:
        raise BackblazeFormatError(f"{f.path}{'!' + f.member if f.member else ''}: missing columns {missing}")
    if models is not None:
        df = df[df["model"].str.strip().isin(models)]
    return df


def iter_days(root: Path, start: str | None = None, end: str | None = None) -> Iterator[DayFile]:
    """Daily files within [start, end] (inclusive, ISO dates)."""
    lo = pd.Timestamp(start) if start else None
    hi = pd.Timestamp(end) if end else None
    for f in discover_day_files(root):
        if (lo is None or f.day >= lo) and (hi is None or f.day <= hi):
            yield f


def load_drive_stats(
    root: Path,
    smart_ids: Iterable[int] = DEFAULT_SMART,
    kinds: Sequence[str] = ("raw",),
    start: str | None = None,
    end: str | None = None,
    models: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Read a Backblaze folder into one frame sorted by (serial_number, date).

    SMART columns absent from a given year's schema come back as NaN, so feature code can
    rely on the requested columns existing. SMART values are float32 to halve memory.
    """
    smart = smart_columns(smart_ids, kinds)
    wanted = set(ID_COLUMNS) | set(smart)
    model_set = {m.strip() for m in models} if models is not None else None
    frames = [_read_day(f, wanted, model_set) for f in iter_days(root, start, end)]
    if not frames:
        raise BackblazeFormatError(f"{root}: no daily files between {start} and {end}")
    df = pd.concat(frames, ignore_index=True)
    for c in smart:
        df[c] = df[c].astype(np.float32) if c in df.columns else np.float32(np.nan)
    df["date"] = pd.to_datetime(df["date"])
    df["serial_number"] = df["serial_number"].astype(str).str.strip()
    df["model"] = df["model"].astype(str).str.strip()
    df["failure"] = df["failure"].fillna(0).astype(np.int8)
    df["capacity_bytes"] = pd.to_numeric(df["capacity_bytes"], errors="coerce").astype(np.float64)
    # A drive occasionally appears twice on one day in the raw files; keep the failure row if any.
    df = (df.sort_values(["serial_number", "date", "failure"])
            .drop_duplicates(["serial_number", "date"], keep="last")
            .reset_index(drop=True))
    return df[list(ID_COLUMNS) + smart]


def default_root(data_dir: Path) -> Path:
    """Where the project's shared data keeps the Backblaze sample."""
    return Path(data_dir) / "backblaze-2013"

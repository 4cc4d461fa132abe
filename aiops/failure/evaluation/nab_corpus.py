"""The Numenta Anomaly Benchmark corpus: data files, label windows, profiles, scoreboard.

NAB (https://github.com/numenta/NAB) ships 58 univariate series, anomaly *windows*
(`labels/combined_windows.json`), three cost profiles (`config/profiles.json`) and
the published per-file raw scores of its detectors (`results/<det>/*_scores.csv`).
This module only reads that layout (from ``Settings().data_dir / "nab"``) and
writes detector outputs back in NAB's results layout so anyone can rescore them
with NAB's own tools. Nothing here scores; see :mod:`aiops.failure.evaluation.nab_scoring`.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
PROBATION_PERCENT = 0.15


@dataclass(frozen=True)
class CostMatrix:
    """One NAB application profile's weights (tnWeight is unused by NAB's scorer)."""

    tp: float
    fp: float
    fn: float


@dataclass
class NabFile:
    """One series with its windows resolved to row indices (inclusive bounds)."""

    key: str  # "<category>/<name>.csv", NAB's relative path
    timestamps: pd.DatetimeIndex
    values: np.ndarray
    windows: list[tuple[int, int]] = field(default_factory=list)

    @property
    def category(self) -> str:
        return self.key.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split("/", 1)[1]

    def __len__(self) -> int:
        return len(self.values)

    @property
    def probation(self) -> int:
        return probation_length(len(self))

    def labels(self) -> np.ndarray:
        """1 for rows inside a window, else 0 (NAB's ``label`` results column)."""
        lab = np.zeros(len(self), dtype=np.int8)
        for a, b in self.windows:
            lab[a : b + 1] = 1
        return lab


def probation_length(n_rows: int, percent: float = PROBATION_PERCENT) -> int:
    """NAB's probationary period: floor(15% of the file), capped at 15% of 5000 rows.

    Rows before it are neither rewarded nor penalised; detectors use them to learn.
    """
    return int(min(math.floor(percent * n_rows), percent * 5000))


def nab_root(data_dir: Path | None = None) -> Path:
    """The NAB folder inside the shared data folder (``<data_dir>/nab``)."""
    if data_dir is None:
        from aiops.settings import Settings

        data_dir = Settings().data_dir
    return Path(data_dir) / "nab"


def load_profiles(root: Path) -> dict[str, CostMatrix]:
    """Read ``config/profiles.json`` into cost matrices keyed by profile name."""
    raw = json.loads((root / "config" / "profiles.json").read_text())
    out = {}
    for name, body in raw.items():
        cm = body["CostMatrix"]
        out[name] = CostMatrix(tp=float(cm["tpWeight"]), fp=float(cm["fpWeight"]), fn=float(cm["fnWeight"]))
    return out


def _resolve_windows(key: str, ts: pd.DatetimeIndex, limits: list[list[str]]) -> list[tuple[int, int]]:
    """Map window timestamps to row indices; NAB requires both limits to be exact rows."""
    pos = pd.Series(np.arange(len(ts)), index=ts)
    out = []
    for start, end in limits:
        t1, t2 = pd.Timestamp(start), pd.Timestamp(end)
        if t1 not in pos.index or t2 not in pos.index:
            raise ValueError(f"{key}: window {start}..{end} does not start/end on a data row")
        a, b = int(pos[t1]), int(pos[t2])
        if b < a:
            raise ValueError(f"{key}: window {start}..{end} ends before it starts")
        out.append((a, b))
    out.sort()
    for (a0, b0), (a1, _) in zip(out, out[1:]):
        if a1 <= b0:
            raise ValueError(f"{key}: overlapping windows")
    return out


def load_corpus(root: Path, windows_file: str = "combined_windows.json") -> list[NabFile]:
    """All data files listed in the label file, sorted by key, with resolved windows."""
    windows = json.loads((root / "labels" / windows_file).read_text())
    files = []
    for key in sorted(windows):
        df = pd.read_csv(root / "data" / key)
        ts = pd.DatetimeIndex(pd.to_datetime(df["timestamp"]))
        f = NabFile(key=key, timestamps=ts, values=df["value"].to_numpy(dtype=float))
        f.windows = _resolve_windows(key, ts, windows[key])
        files.append(f)
    return files


def load_published_scoreboard(root: Path) -> dict[str, dict[str, float]]:
    """``results/final_results.json``: normalised score per detector and profile."""
    return json.loads((root / "results" / "final_results.json").read_text())


def load_published_file_scores(root: Path, detector: str, profile: str) -> pd.DataFrame | None:
    """A published detector's per-file raw scores (without the Totals row), or None."""
    path = root / "results" / detector / f"{detector}_{profile}_scores.csv"
    if not path.exists():
        return None
    df = pd.read_csv(path)
    return df[df["Detector"] != "Totals"].reset_index(drop=True)


def write_results_layout(out_dir: Path, detector: str, files: list[NabFile], scores: dict[str, np.ndarray]) -> int:
    """Write ``<out_dir>/<detector>/<category>/<detector>_<file>.csv`` like NAB's runner.

    Columns: timestamp, value, anomaly_score, label — exactly what NAB's scorer reads,
    so the numbers reported here can be recomputed with NAB itself. Returns files written.
    """
    n = 0
    for f in files:
        if f.key not in scores:
            continue
        path = out_dir / detector / f.category / f"{detector}_{f.name}"
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(
            {
                "timestamp": f.timestamps.strftime("%Y-%m-%d %H:%M:%S"),
                "value": f.values,
                "anomaly_score": np.asarray(scores[f.key], dtype=float),
                "label": f.labels(),
            }
        ).to_csv(path, index=False)
        n += 1
    return n


def read_results_layout(out_dir: Path, detector: str, files: list[NabFile]) -> dict[str, np.ndarray]:
    """Read per-row scores back from NAB's results layout (for rescoring published runs)."""
    out = {}
    for f in files:
        path = out_dir / detector / f.category / f"{detector}_{f.name}"
        if path.exists():
            out[f.key] = pd.read_csv(path)["anomaly_score"].to_numpy(dtype=float)
    return out

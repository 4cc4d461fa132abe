"""Small synthetic Backblaze-like fleets for unit tests (no shared data needed)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def synthetic_fleet(n_drives: int = 120, n_days: int = 40, fail_frac: float = 0.25, seed: int = 0) -> pd.DataFrame:
    """Drive-days where failing drives grow SMART 5/197 in their last ~10 days.

    The signal is deliberately learnable so that model tests can assert real ranking skill.
    """
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2013-04-10")
    rows = []
    for d in range(n_drives):
        serial = f"S{d:04d}"
        model = ["ST3000DM001", "Hitachi HDS5C3030ALA630", "WDC WD10EADS"][d % 3]
        first = int(rng.integers(0, 5))
        fails = rng.random() < fail_frac
        last = int(rng.integers(min(15, n_days - 1), n_days)) if fails else n_days - 1
        hours0 = float(rng.integers(100, 30000))
        s5 = 0.0
        s197 = 0.0
        for day in range(first, last + 1):
            to_fail = last - day
            if fails and to_fail < 10:
                s5 += rng.poisson(8)
                s197 += rng.poisson(3)
            elif rng.random() < 0.01:
                s5 += 1
            rows.append({"date": start + pd.Timedelta(days=day), "serial_number": serial, "model": model,
                         "capacity_bytes": 3e12, "failure": int(fails and day == last),
                         "smart_1_raw": float(rng.integers(0, 10**6)), "smart_5_raw": s5,
                         "smart_9_raw": hours0 + 24 * day, "smart_194_raw": float(25 + rng.integers(-2, 3)),
                         "smart_197_raw": s197})
    return pd.DataFrame(rows).sort_values(["serial_number", "date"]).reset_index(drop=True)


def write_backblaze_folder(df: pd.DataFrame, root: Path, gz: bool = True) -> Path:
    """Write one CSV per day in Backblaze's layout (a couple of unused columns included)."""
    root.mkdir(parents=True, exist_ok=True)
    for day, part in df.groupby("date"):
        out = part.copy()
        out["date"] = out["date"].dt.strftime("%Y-%m-%d")
        out["smart_5_normalized"] = 100
        name = f"{day:%Y-%m-%d}.csv" + (".gz" if gz else "")
        out.to_csv(root / name, index=False)
    return root

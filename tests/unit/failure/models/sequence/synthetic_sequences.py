"""Synthetic sequences whose label lives only in the *order* of the steps."""
from __future__ import annotations

import numpy as np
import pandas as pd


def trend_windows(n: int, window: int = 8, n_features: int = 2, pos_rate: float = 0.3,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Positives ramp up over the window on feature 0, negatives are the same ramps played backwards.

    Each negative is the exact time-reversal of a ramp, so every per-window statistic that ignores
    order (mean, min, max, sorted values) has the same distribution in both classes: only an
    order-aware model can separate them. Feature 1+ are noise.
    """
    rng = np.random.default_rng(seed)
    base = rng.normal(0.0, 1.0, (n, 1, n_features))
    slope = np.zeros((n, 1, n_features))
    slope[:, 0, 0] = np.abs(rng.normal(0.4, 0.1, n))
    W = base + slope * np.arange(window)[None, :, None] + rng.normal(0.0, 0.15, (n, window, n_features))
    y = (rng.random(n) < pos_rate).astype(int)
    W[y == 0] = W[y == 0][:, ::-1]
    return W.astype(np.float32), y


def trend_frame(n_entities: int, steps: int = 12, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Long frame (entity, t, f0, f1), rows shuffled; failing entities' f0 climbs over their last 5 steps.

    Labels are 1 on a failing entity's last 4 steps (a "fails within 4 steps" horizon).
    """
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for e in range(n_entities):
        fails = rng.random() < 0.3
        f0 = rng.normal(0.0, 1.0) + rng.normal(0.0, 0.1, steps)
        if fails:
            f0[-5:] += np.abs(rng.normal(0.8, 0.1)) * np.arange(1, 6)
        f1 = rng.normal(0.0, 1.0, steps)
        for t in range(steps):
            rows.append({"entity": f"e{e:03d}", "t": t, "f0": f0[t], "f1": f1[t]})
            labels.append(int(fails and t >= steps - 4))
    df = pd.DataFrame(rows)
    perm = rng.permutation(len(df))
    return df.iloc[perm].reset_index(drop=True), np.asarray(labels)[perm]

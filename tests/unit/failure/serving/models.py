"""A small XGBoost failure model on three real feature names, shared by the serving tests."""
from __future__ import annotations

import numpy as np
import pandas as pd

from aiops.failure.models import XGBoostFailureModel

FEATURES = ["disk_io_latency_trend_1h", "temperature_max_5m", "cpu_utilization_mean_5m"]


def small_model(seed: int = 0, n_bags: int = 3) -> tuple[XGBoostFailureModel, pd.DataFrame, np.ndarray]:
    """A bagged model where only disk latency trend predicts failure, with its training data."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(600, 3)), columns=FEATURES)
    y = (X["disk_io_latency_trend_1h"] + 0.3 * rng.normal(size=600) > 1.2).astype(int).to_numpy()
    return XGBoostFailureModel(n_rounds=40, eta=0.3, neg_sample_rate=1.0, n_bags=n_bags, nthread=1).fit(X, y), X, y

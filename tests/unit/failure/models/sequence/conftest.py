"""Models trained once per session on tiny synthetic sequences (keeps the area well under 60 s)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from aiops.failure.models.sequence import LSTMFailureModel, TransformerFailureModel
from tests.unit.failure.models.sequence.synthetic_sequences import trend_windows

WINDOW = 8
SMALL = dict(window=WINDOW, hidden=16, epochs=8, batch_size=64, lr=5e-3, log_transform=False, patience=4, seed=0)


@pytest.fixture(scope="session", autouse=True)
def _two_threads():
    torch.set_num_threads(1)  # at most 2 by project rule; 1 is faster for these tiny nets on a loaded box


@pytest.fixture(scope="session")
def order_data() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {"train": trend_windows(600, WINDOW, seed=1), "test": trend_windows(400, WINDOW, seed=2)}


@pytest.fixture(scope="session")
def trained(order_data) -> dict[str, object]:
    W, y = order_data["train"]
    return {
        "lstm": LSTMFailureModel(**SMALL).fit_windows(W, y, features=["ramp", "noise"]),
        "transformer": TransformerFailureModel(**SMALL, layers=1, heads=2).fit_windows(W, y, features=["ramp", "noise"]),
    }

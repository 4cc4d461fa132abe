"""The variants `jobs.train_failure_seeds` compares side by side see the same rows, relabelled or with other inputs."""
from __future__ import annotations

import numpy as np
import pandas as pd

from aiops.failure.training.fleet_dataset import FleetDataset, FleetDatasetConfig, label_from_events
from aiops.failure.training.pipeline import TrainingData
from jobs.train_failure_seeds import VARIANTS, variant_data, seed_range

H = 4 * 3600.0


def _data() -> TrainingData:
    ts = np.arange(0.0, 20_000.0, 600.0)
    raw = pd.DataFrame({"ts": ts, "target_id": "h1", "target_type": "host", "host_id": "h1",
                        "cpu_utilization_mean_5m": 0.3, "cpu_utilization_mean_5m_vs_baseline": 0.0,
                        "temperature_max_5m_vs_baseline": 1.0})
    events = [{"ts": 15000.0, "type": "host_failed", "host": "h1", "reason": "thermal"}]
    cfg = FleetDatasetConfig(hosts=1, horizon_s=H, label_horizons=(("thermal_runaway", 3600.0),))
    frame, failures, _ = label_from_events(raw, events, H, 1e9, dict(cfg.label_horizons))
    feats = ["cpu_utilization_mean_5m_vs_baseline", "temperature_max_5m_vs_baseline"]
    ds = FleetDataset(frame, failures, cfg, feats, 0.0, 40_000.0, {}, raw, events)  # every outcome known
    return TrainingData(ds, None, None, frame["label"].to_numpy(), np.zeros(len(frame)), feats)


def test_flat_labels_relabel_a_copy_and_leave_the_default_alone():
    base = _data()
    flat = variant_data(base, VARIANTS["flat-labels"], None)
    assert int(base.ds.frame["label"].sum()) == 6 and int(flat.ds.frame["label"].sum()) == 24
    assert base.ds.config.label_horizons and not flat.ds.config.label_horizons


def test_raw_cpu_swaps_the_input_and_seed_ranges_parse():
    base = _data()
    raw = variant_data(base, VARIANTS["raw-cpu"], None)
    assert raw.features == ["temperature_max_5m_vs_baseline", "cpu_utilization_mean_5m"]
    assert base.features == ["cpu_utilization_mean_5m_vs_baseline", "temperature_max_5m_vs_baseline"]
    assert seed_range("1-3") == [1, 2, 3] and seed_range("4,7") == [4, 7]

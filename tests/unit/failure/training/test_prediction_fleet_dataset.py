"""Labels, exclusions and point-in-time features of the simulator dataset."""
from __future__ import annotations

import numpy as np
import pandas as pd

from aiops.features.definitions import load_definitions
from aiops.failure.training.fleet_dataset import (FleetDatasetConfig, build_fleet_dataset,
                                            excluded_rows, horizon_label, next_failure)
from aiops.settings import PROJECT_ROOT


def _scenarios() -> pd.DataFrame:
    return pd.DataFrame([
        {"scenario_id": "a", "kind": "disk_failure", "target_id": "h1", "host_id": "h1", "onset_ts": 1000.0,
         "failure_ts": 2000.0, "recovery_ts": 3000.0, "level": "host"},
        {"scenario_id": "b", "kind": "memory_leak_oom", "target_id": "vm2", "host_id": "h2", "onset_ts": 500.0,
         "failure_ts": 1500.0, "recovery_ts": 1600.0, "level": "vm"},
    ])


def test_next_failure_and_horizon_label():
    sc = _scenarios()
    ts = np.array([100.0, 1999.0, 2000.0, 100.0, 1400.0])
    tg = np.array(["h1", "h1", "h1", "vm2", "vm2"])
    nf, idx = next_failure(ts, tg, sc)
    assert nf[0] == 2000.0 and nf[1] == 2000.0 and np.isnan(nf[2])  # strictly after: the failure row has none
    assert idx.tolist() == [0, 0, -1, 1, 1]
    assert horizon_label(ts, nf, 1000.0).tolist() == [0, 1, 0, 0, 1]


def test_exclusions_down_targets_and_collateral_vms():
    sc = _scenarios()
    ts = np.array([1500.0, 2500.0, 2500.0, 900.0, 1550.0, 1700.0])
    tg = np.array(["h1", "h1", "vm1", "vm1", "vm2", "vm2"])
    hosts = np.array(["h1", "h1", "h1", "h1", "h2", "h2"])
    types = np.array(["host", "host", "vm", "vm", "vm", "vm"])
    drop = excluded_rows(ts, tg, hosts, types, sc)
    # host up during its precursor; down after failure; its VM dropped inside the window only;
    # the OOM-killed VM dropped until it restarts
    assert drop.tolist() == [False, True, True, False, True, False]


def test_model_features_are_all_served_by_the_feature_store():
    from aiops.failure.training import fleet_dataset as fd

    defs = {d.name for d in load_definitions(PROJECT_ROOT / "configs" / "features.yaml")}
    assert set(fd.MODEL_FEATURES) <= defs  # training and serving compute the same thing


def test_simulated_disk_failure_gives_positive_rows_with_its_precursor(monkeypatch):
    cfg = FleetDatasetConfig(hosts=3, vms_per_host=1, days=0.5, scenario_rate_per_day=0.0, attack_rate_per_day=0.0,
                             lookalike_rate=0.0, horizon_s=3 * 3600.0, step_s=900.0)
    from aiops.failure.training import fleet_dataset as fd
    from aiops.telemetry.simulator import FleetSimulator

    injected = {}
    orig_init = FleetSimulator.__init__

    def init(self, settings):  # inject one disk failure on the first host, 8 h into the run
        orig_init(self, settings)
        injected["sc"] = self.inject("disk_failure", self.fleet.hosts[0].host_id, settings.start_ts + 8 * 3600)

    monkeypatch.setattr(FleetSimulator, "__init__", init)
    ds = build_fleet_dataset(cfg)
    sc = injected["sc"]
    f = ds.frame
    host = f[f["target_id"] == sc.target_id]
    assert not ((host["ts"] >= sc.failure_ts) & (host["ts"] < sc.recovery_ts)).any()  # down: no rows
    pos = host[host["label"] == 1]
    assert len(pos) and (pos["ts"] < sc.failure_ts).all() and (pos["ts"] >= sc.failure_ts - cfg.horizon_s).all()
    assert len(set(pos["scenario_id"])) == 1 and set(pos["kind"]) == {"disk_failure"}  # one failure, from its event
    pre = host[(host["ts"] > sc.onset_ts + 3600) & (host["ts"] < sc.failure_ts)]
    healthy = f[(f["target_type"] == "host") & (f["target_id"] != sc.target_id)]
    errors = pre["disk_read_errors_rate_1h"].to_numpy()
    assert (errors > 0).mean() > 0.5 and (errors[-3:] > 0).all()  # sparse at first, then steady
    assert (healthy["disk_read_errors_rate_1h"] == 0).all()
    vm = f[(f["host_id"] == sc.host_id) & (f["target_type"] == "vm")]
    # the precursor's start is not observable: collateral VMs are dropped from one horizon before the failure
    assert not ((vm["ts"] >= sc.failure_ts - cfg.horizon_s) & (vm["ts"] < sc.recovery_ts)).any()
    assert (f.loc[f["target_id"] != sc.target_id, "label"] == 0).all()
    assert fd.MODEL_FEATURES  # the model inputs are declared next to the store features

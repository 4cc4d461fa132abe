"""Splits never mix hosts or periods; thresholds come from training rows; the pipeline learns a clear signal."""
from __future__ import annotations

import numpy as np
import pandas as pd

from aiops.failure.training.fleet_dataset import FleetDataset, FleetDatasetConfig
from aiops.failure.training.fleet_training import (FleetSplit, evaluate_method, host_folds, inner_time_split,
                                                  make_split, monotone_constraints)

STEP = 600.0
H = 4 * 3600.0


def _synthetic(n_hosts: int = 12, days: float = 6.0, seed: int = 0) -> FleetDataset:
    """Hosts with a noisy 'err' feature that ramps up for 2 h before each failure (which takes the host down 1 h)."""
    rng = np.random.default_rng(seed)
    n = int(days * 86400 / STEP)
    rows, scen = [], []
    for h in range(n_hosts):
        hid = f"host-{h:02d}"
        fails = np.sort(rng.uniform(0.5, days - 0.3, 2)) * 86400
        if fails[1] - fails[0] < 6 * 3600:
            fails = fails[:1]
        for j, ft in enumerate(fails):
            scen.append({"scenario_id": f"{hid}-{j}", "kind": "disk_failure", "target_id": hid, "host_id": hid,
                         "onset_ts": ft - 7200, "failure_ts": ft, "recovery_ts": ft + 3600, "level": "host"})
        ts = np.arange(1, n + 1) * STEP
        err = rng.normal(0, 1, n)
        down = np.zeros(n, bool)
        for ft in fails:
            ramp = (ts > ft - 7200) & (ts < ft)
            err[ramp] += 6 * (ts[ramp] - (ft - 7200)) / 7200 + 2
            down |= (ts >= ft) & (ts < ft + 3600)
        nf = np.array([next((f for f in fails if f > t), np.nan) for t in ts])
        for t, e, d, f in zip(ts, err, down, nf):
            if not d:
                rows.append((t, hid, "host", hid, e, f))
    frame = pd.DataFrame(rows, columns=["ts", "target_id", "target_type", "host_id", "err", "next_failure_ts"])
    dt = frame["next_failure_ts"] - frame["ts"]
    frame["label"] = ((dt > 0) & (dt <= H)).astype(np.int8)
    frame["kind"] = np.where(frame["next_failure_ts"].notna(), "disk_failure", None)
    sc = pd.DataFrame(scen).sort_values("failure_ts").reset_index(drop=True)
    cfg = FleetDatasetConfig(hosts=n_hosts, vms_per_host=0, days=days, step_s=STEP, horizon_s=H, warmup_s=0.0,
                             features=("err",))
    return FleetDataset(frame, sc, cfg, ["err"], 0.0, n * STEP)


def test_host_folds_partition_hosts():
    hosts = [f"h{i}" for i in range(10)] * 3
    folds = host_folds(hosts, 4, seed=1)
    assert set(folds) == set(hosts) and set(folds.values()) == {0, 1, 2, 3}
    sizes = np.bincount(list(folds.values()))
    assert sizes.max() - sizes.min() <= 1


def test_split_separates_hosts_and_periods_with_a_horizon_gap():
    ds = _synthetic()
    split = make_split(ds, 3, 0.5, seed=0)
    f = ds.frame
    for k in range(3):
        tr, te = split.train_mask(f, k, H), split.test_mask(f, k)
        assert not set(f.loc[tr, "host_id"]) & set(f.loc[te, "host_id"])
        assert f.loc[tr, "ts"].max() < split.cutoff_ts - H  # no training label looks past the cutoff
        assert f.loc[te, "ts"].min() >= split.cutoff_ts
        # the latest training label only sees failures before the cutoff
        last = f.loc[tr & (f["label"] == 1).to_numpy(), "next_failure_ts"]
        assert (last <= split.cutoff_ts).all()


def test_clear_precursor_is_detected_on_held_out_hosts():
    ds = _synthetic()
    split = make_split(ds, 3, 0.5, seed=0)
    res = evaluate_method(ds, split, "xgboost", min_precision=0.8, n_inner=2, seed=0)
    s = res.summary()["overall"]
    assert s["scenarios"] >= 4
    assert s["recall"] >= 0.75 and s["precision"] >= 0.75
    assert s["median_lead_min"] >= 30


def test_threshold_is_chosen_without_test_rows():
    ds = _synthetic(n_hosts=9, days=4.0)
    split = make_split(ds, 3, 0.5, seed=0)
    base = evaluate_method(ds, split, "logistic", n_inner=2, seed=0)
    # scramble every test-period feature: thresholds (chosen on training rows only) must not move
    scrambled = FleetDataset(ds.frame.copy(), ds.scenarios, ds.config, ds.feature_names, ds.start_ts, ds.end_ts)
    late = scrambled.frame["ts"] >= split.cutoff_ts - H
    scrambled.frame.loc[late, "err"] = np.random.default_rng(5).normal(0, 1, int(late.sum()))
    other = evaluate_method(scrambled, split, "logistic", n_inner=2, seed=0)
    assert [f.threshold.threshold for f in base.folds] == [f.threshold.threshold for f in other.folds]


def test_monotone_constraints_follow_columns():
    assert monotone_constraints(["disk_read_errors_rate_1h", "cpu_utilization_mean_5m"]) == "(1,0,0)"
    assert isinstance(FleetSplit(0.0, 0.0, 1.0, {}), FleetSplit)


class _Recorder:
    """A scorer that remembers what it was fitted on and scores every row 0.5."""
    fits: list[pd.DataFrame] = []

    def __init__(self, seed: int = 0, features=None) -> None:
        pass

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> "_Recorder":
        _Recorder.fits.append(X)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return np.full(len(X), 0.5)


def test_time_split_scores_a_later_period_with_models_that_never_saw_it():
    ds = _synthetic(n_hosts=9, days=4.0)
    f = ds.frame
    f["idx"] = np.arange(len(f), dtype=np.float64)  # lets the recorder's inputs be traced back to rows
    split_ts = 2 * 86400.0
    _Recorder.fits = []
    scores = inner_time_split(f, ["err", "idx"], _Recorder, 3, 0, split_ts, H)
    scored = ~np.isnan(scores)
    assert (f.loc[scored, "ts"] >= split_ts).all() and scored[(f["ts"] >= split_ts).to_numpy()].all()
    assert len(_Recorder.fits) == 3
    for X in _Recorder.fits:
        rows = f.iloc[X["idx"].to_numpy(dtype=int)]
        assert rows["ts"].max() < split_ts - H  # no training label looks into the validation period
    # a host is never scored by a model that trained on it
    groups = host_folds(f["host_id"].tolist(), 3, 0 + 101)
    for k, X in enumerate(_Recorder.fits):
        assert not {h for h in f.iloc[X["idx"].to_numpy(dtype=int)]["host_id"] if groups[h] == k}


def test_both_threshold_splits_find_a_clear_precursor():
    ds = _synthetic()
    split = make_split(ds, 3, 0.5, seed=0)
    for how in ("time", "oof"):
        s = evaluate_method(ds, split, "xgboost", min_precision=0.8, n_inner=2, seed=0, threshold_split=how).summary()
        assert s["overall"]["recall"] >= 0.75 and s["overall"]["precision"] >= 0.75, how

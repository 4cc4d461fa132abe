"""Which failures can a model see coming? ``python -m jobs.diagnose_fleet_failure --seeds 1-3``.

For every failure of a simulated fleet (the simulator's ground truth: kind, precursor length,
strength -- used here only to *score* visibility, never to train), looks at the point-in-time rows
the model sees for its target and asks whether the kind's signature features rise above the
99.5th percentile of the fleet's negative rows (rows that fail within no horizon) while the
alert would still be useful: at a lead of at least ``--min-lead-min`` minutes. "all" = every
signature feature of the kind is up at the same time (the multi-metric pattern a look-alike does
not show); "any" = at least one. Also counts negative rows that show a kind's full signature (the
look-alikes and faded precursors that precision pays for). Prints one table per seed and a summary.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np
import pandas as pd

from aiops.failure.config import load_train_config
from aiops.failure.training.fleet_dataset import FleetDatasetConfig, load_or_build
from aiops.settings import PROJECT_ROOT
from aiops.telemetry.simulator import FleetSimulator
from jobs.train_failure_seeds import seed_range

# kind -> the features its precursor moves (what a look-alike moves only one of)
SIGNATURE: dict[str, tuple[str, ...]] = {
    "disk_failure": ("disk_io_latency_p95_5m_vs_baseline", "disk_read_errors_rate_1h"),
    "ecc_host_crash": ("ecc_errors_count_1h", "response_time_p99_5m_vs_baseline"),
    "thermal_runaway": ("temperature_max_5m_vs_baseline",),
    "network_partition": ("network_error_rate_mean_5m_vs_baseline", "response_time_p99_5m_vs_baseline"),
    "memory_leak_oom": ("memory_pressure_max_5m_vs_baseline", "memory_pressure_trend_1h"),
}


def visibility(ds: Any, gt: pd.DataFrame, min_lead_s: float, q: float = 0.995) -> pd.DataFrame:
    """One row per ground-truth failure inside the dataset's labelled period: how early its signature shows."""
    f = ds.frame
    neg = f[f["label"] == 0]
    out = []
    for sc in gt.itertuples(index=False):
        rows = f[(f["target_id"] == sc.target_id) & (f["ts"] < sc.failure_ts) & (f["ts"] >= sc.failure_ts - ds.config.horizon_s)]
        if rows.empty:
            continue
        tt = rows["target_type"].iloc[0]
        feats = SIGNATURE[sc.kind]
        thr = {c: float(np.nanquantile(neg.loc[neg["target_type"] == tt, c], q)) for c in feats}
        up = np.stack([rows[c].to_numpy(np.float64) > thr[c] for c in feats])
        lead = sc.failure_ts - rows["ts"].to_numpy()
        useful = lead >= min_lead_s
        all_up, any_up = up.all(0), up.any(0)
        out.append({"kind": sc.kind, "target_id": sc.target_id, "strength": round(sc.strength, 2),
                    "precursor_min": round((sc.failure_ts - sc.onset_ts) / 60), "all": bool((all_up & useful).any()),
                    "any": bool((any_up & useful).any()),
                    "first_all_lead_min": round(float(lead[all_up].max()) / 60) if all_up.any() else None})
    return pd.DataFrame(out)


def lookalike_rows(ds: Any, q: float = 0.995) -> dict[str, int]:
    """Negative host/VM rows showing a kind's full signature (look-alikes, faded precursors, coincidences)."""
    f = ds.frame
    neg = f[f["label"] == 0]
    res = {}
    for kind, feats in SIGNATURE.items():
        tt = "vm" if kind == "memory_leak_oom" else "host"
        n = neg[neg["target_type"] == tt]
        m = np.ones(len(n), bool)
        for c in feats:
            m &= n[c].to_numpy(np.float64) > np.nanquantile(n[c], q)
        res[kind] = int(m.sum())
    return res


def one_seed(seed: int, hosts: int | None, days: float | None, min_lead_s: float, cache: str) -> pd.DataFrame:
    cfg = load_train_config(PROJECT_ROOT / "configs" / "train_failure.yaml").dataset
    dc = FleetDatasetConfig(hosts=hosts or cfg.hosts, vms_per_host=cfg.vms_per_host, days=days or cfg.days,
                            step_s=cfg.step_s, interval_s=cfg.interval_s, scenario_rate_per_day=cfg.scenario_rate_per_day,
                            seed=seed, horizon_s=cfg.horizon_s)
    from pathlib import Path
    ds = load_or_build(dc, Path(cache))
    sim = FleetSimulator(dc.simulator_settings())
    sim.schedule_until(ds.end_ts)
    gt = pd.DataFrame(sim.ground_truth()["scenarios"])
    faded = [e for e in sim.ground_truth()["episodes"] if e["kind"].startswith("faded_") and e["start_ts"] < ds.end_ts]
    vis = visibility(ds, gt, min_lead_s)
    vis.insert(0, "seed", seed)
    print(f"seed {seed}: {len(vis)} failures in the labelled period, {len(faded)} faded precursors; "
          f"negative rows with a full signature: {lookalike_rows(ds)}", flush=True)
    return vis


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="1-3")
    ap.add_argument("--hosts", type=int)
    ap.add_argument("--days", type=float)
    ap.add_argument("--min-lead-min", type=float, default=30.0)
    ap.add_argument("--cache", default=str(PROJECT_ROOT / "results" / "cache"))
    args = ap.parse_args(argv)
    vis = pd.concat([one_seed(s, args.hosts, args.days, args.min_lead_min * 60, args.cache) for s in seed_range(args.seeds)])
    vis["silent_or_weak"] = vis["strength"] < 0.65
    print("| kind | failures | no precursor | weak | multi-metric visible at lead >= "
          f"{args.min_lead_min:g} min | any signal visible | median first-visible lead (min) |")
    print("|---|---|---|---|---|---|---|")
    for kind, g in [*vis.groupby("kind"), ("all", vis)]:
        hw = g if kind != "all" else g[g["kind"] != "memory_leak_oom"]
        name = kind if kind != "all" else "hardware (all kinds but OOM)"
        print(f"| {name} | {len(hw)} | {int((hw['strength'] == 0).sum())} | {int(((hw['strength'] > 0) & hw['silent_or_weak']).sum())} "
              f"| {int(hw['all'].sum())} ({hw['all'].mean():.0%}) | {int(hw['any'].sum())} ({hw['any'].mean():.0%}) "
              f"| {hw['first_all_lead_min'].median():.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

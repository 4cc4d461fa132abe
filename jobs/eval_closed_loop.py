"""Does acting on the engine's predictions save downtime? ``python -m jobs.eval_closed_loop``.

Replays one simulated week (same seed) three ways, side by side in one run (no Ray):

- ``no_action``: nothing is moved; hosts fail with their VMs on them.
- ``engine``: the fleet failure model (XGBoost, trained as ``jobs.eval_fleet_failure`` trains it, on
  another fleet: ``--train-seed``) scores every reporting host every step from the feature-store
  code; a host at or above the model's own alert threshold is evacuated through ``PlanService``
  (the API's plan / evacuation service) and the simulated control plane, and the simulator runs
  the moved VMs on their new hosts from the next tick (``placement.auto_evacuate``'s policy).
- ``ceiling``: the same loop, but risk comes from the simulator's ground truth: every host-level
  failure's host is evacuated ``--oracle-lead-min`` before it fails.

Reports VM-minutes of downtime (from the ``vm_crashed`` / ``vm_recovered`` platform events),
migrations, and unnecessary evacuations (hosts that did not fail within the horizon) with their
migrations. Prints a table; writes results/eval_closed_loop.json.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from aiops.failure.config import load_train_config
from aiops.failure.training.fleet_dataset import FleetDatasetConfig, load_or_build, select_definitions
from aiops.failure.training.fleet_training import (EvalContext, choose_threshold, inner_oof, model_matrix,
                                                    xgboost_scorer)
from aiops.placement.replay import ReplayConfig, RiskPolicy, oracle_risk, replay
from aiops.settings import PROJECT_ROOT, SimulatorSettings
from aiops.telemetry.simulator import FleetSimulator
from jobs.results import write_json

TARGET = {"downtime_removed": 0.70, "unnecessary_evacuations_per_failure": 1.0}


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The evaluation's command line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=40)
    ap.add_argument("--vms-per-host", type=int, default=4)
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--seed", type=int, default=11, help="the replayed fleet (the model never saw it)")
    ap.add_argument("--scenario-rate", type=float, default=0.15, help="failure scenarios per host per day in the "
                    "replayed week (the training fleet's rate is the training config's)")
    ap.add_argument("--interval-s", type=float, default=30.0)
    ap.add_argument("--step-min", type=float, default=10.0, help="minutes between scoring rounds")
    ap.add_argument("--horizon-h", type=float, default=8.0, help="an evacuation is necessary if its host fails within H")
    ap.add_argument("--hold-h", type=float, default=8.0, help="an evacuated host stays cordoned this long")
    ap.add_argument("--oracle-lead-min", type=float, default=60.0)
    ap.add_argument("--threshold", type=float, default=None, help="evacuation risk threshold (default: the model's)")
    ap.add_argument("--min-precision", type=float, help="episode precision the model's threshold is chosen for on "
                    "its training fleet (default: acceptance.threshold_precision of configs/train_failure.yaml)")
    ap.add_argument("--train-seed", type=int, default=7)
    ap.add_argument("--train-hosts", type=int, default=40)
    ap.add_argument("--train-days", type=float, default=16.0)
    ap.add_argument("--cache", type=Path, default=PROJECT_ROOT / "results" / "cache")
    ap.add_argument("--out", type=Path, default=PROJECT_ROOT / "results" / "eval_closed_loop.json")
    args = ap.parse_args(argv)
    if args.min_precision is not None and not 0 < args.min_precision <= 1:
        ap.error(f"--min-precision must be in (0, 1], got {args.min_precision}")
    return args


def train_model(args: argparse.Namespace) -> tuple[Any, float, list[str], dict[str, Any]]:
    """XGBoost on the training fleet, threshold from inner host-grouped out-of-fold episodes
    (``jobs.eval_fleet_failure``'s protocol and dataset; cached under ``--cache``)."""
    H = args.horizon_h * 3600
    train = load_train_config()  # the training job's fleet, labels and operating point
    min_precision = args.min_precision if args.min_precision is not None else train.acceptance.threshold_precision
    cfg = FleetDatasetConfig(hosts=args.train_hosts, vms_per_host=2, days=args.train_days, step_s=600.0,
                             interval_s=30.0, scenario_rate_per_day=train.dataset.scenario_rate_per_day,
                             seed=args.train_seed, horizon_s=H, label_horizons=tuple(train.dataset.label_horizon_s.items()))
    ds = load_or_build(cfg, args.cache, _log)
    frame, feats = ds.frame, ds.feature_names
    oof = inner_oof(frame, feats, xgboost_scorer, train.acceptance.threshold_inner_folds, args.train_seed)
    ok = ~np.isnan(oof)
    ctx = EvalContext(ds.scenarios, H, cfg.step_s, 1800.0, dict(zip(frame["target_id"], frame["target_type"])), 1800.0,
                      train.acceptance.min_alert_lead_min * 60)
    choice = choose_threshold(frame[ok].reset_index(drop=True), oof[ok], ctx, set(frame["host_id"]),
                              (ds.start_ts + cfg.warmup_s, ds.end_ts - H), min_precision)
    model = xgboost_scorer(args.train_seed, feats).fit(model_matrix(frame, feats), frame["label"].to_numpy())
    info = {"dataset": {"hosts": cfg.hosts, "days": cfg.days, "seed": cfg.seed, "rows": int(len(frame)),
                        "scenario_rate_per_day": cfg.scenario_rate_per_day, "label_horizons": dict(cfg.label_horizons),
                        "cached": bool(ds.stats.get("cached"))},
            "threshold": choice.threshold, "threshold_precision": min_precision, "train_oof_recall": choice.recall,
            "train_oof_precision": choice.precision}
    _log(f"model: threshold {choice.threshold:.4g} (training OOF episodes recall {choice.recall:.2f}, "
         f"precision {choice.precision:.2f})")
    return model, choice.threshold, feats, info


def model_risk(model: Any, features: Sequence[str]) -> RiskPolicy:
    """The engine's risk: the model's probability for each reporting host from its current features."""
    def risk(now: float, hosts: Sequence[str], feats: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
        if not hosts:
            return {}
        rows = [{f: np.nan if feats[h].get(f) is None else float(feats[h][f]) for f in features} for h in hosts]
        frame = pd.DataFrame(rows, columns=list(features))
        frame["target_type"] = "host"
        return dict(zip(hosts, model.predict_proba(model_matrix(frame, features)).tolist()))
    return risk


def table(rows: list[dict[str, Any]], base: float) -> str:
    """Markdown table: one row per policy."""
    head = ("| policy | VM downtime (min) | removed | host failures | crashed VMs | evacuations | migrations "
            "| unnecessary evacuations (VM moves) | per host failure: evacuations (VM moves) |")
    out = [head, "|" + "---|" * 9]
    for r in rows:
        removed = 1 - r["downtime_vm_min"] / base if base else float("nan")
        out.append(f"| {r['policy']} | {r['downtime_vm_min']:.0f} | {removed:.0%} | {r['host_failures']} | "
                   f"{r['crashed_vms']} | {r['evacuations']} | {r['migrations']} | {r['unnecessary_evacuations']} "
                   f"({r['unnecessary_migrations']}) | {r['unnecessary_evacuations_per_failure']:.2f} "
                   f"({r['unnecessary_vm_moves_per_failure']:.2f}) |")
    return "\n".join(out)


def verdict(engine: dict[str, Any], base: float) -> dict[str, Any]:
    removed = 1 - engine["downtime_vm_min"] / base if base else 0.0
    per = engine["unnecessary_evacuations_per_failure"]
    return {"target": TARGET, "downtime_removed": round(removed, 3), "unnecessary_evacuations_per_failure": per,
            "unnecessary_vm_moves_per_failure": engine["unnecessary_vm_moves_per_failure"],
            "met": bool(removed >= TARGET["downtime_removed"] and per < TARGET["unnecessary_evacuations_per_failure"])}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t0 = time.perf_counter()
    model, thr, feats, model_info = train_model(args)
    threshold = args.threshold if args.threshold is not None else thr
    sim = SimulatorSettings(hosts=args.hosts, vms_per_host=args.vms_per_host, seed=args.seed, interval_s=args.interval_s,
                            scenario_rate_per_day=args.scenario_rate, attack_rate_per_day=0.0)
    cfg = ReplayConfig(sim, days=args.days, step_s=args.step_min * 60, hold_s=args.hold_h * 3600,
                       horizon_s=args.horizon_h * 3600)
    ahead = FleetSimulator(sim)  # the ground truth of the week, for the ceiling only (the schedule ignores moves)
    ahead.advance(args.days * 86_400 + 3600)
    defs = select_definitions(feats)
    runs = [replay("no_action", cfg, defs, None, log=_log),
            replay("engine", cfg, defs, model_risk(model, feats), threshold, log=_log),
            replay("ceiling", cfg, defs, oracle_risk(ahead.ground_truth()["scenarios"], args.oracle_lead_min * 60),
                   0.5, log=_log)]
    rows = [r.summary() for r in runs]
    base = rows[0]["downtime_vm_min"]
    md = table(rows, base)
    report = {"command": "python -m jobs.eval_closed_loop " + " ".join(argv if argv is not None else sys.argv[1:]),
              "replay": {**vars(args), "cache": str(args.cache), "out": str(args.out)}, "model": model_info,
              "threshold": threshold, "runs": rows, "evacuations": {r.name: r.evacuations for r in runs},
              "verdict": verdict(rows[1], base), "table": md, "wall_s": round(time.perf_counter() - t0, 1),
              "cpu_s": round(time.process_time(), 1)}
    print(md)
    v = report["verdict"]
    print(f"engine removes {v['downtime_removed']:.0%} of the no-action downtime with "
          f"{v['unnecessary_evacuations_per_failure']:.2f} unnecessary evacuations ({v['unnecessary_vm_moves_per_failure']:.2f} "
          f"VM moves) per host failure -> target "
          f"{'MET' if v['met'] else 'not met'} (>= 70 %, < 1); ceiling removes "
          f"{1 - rows[2]['downtime_vm_min'] / base if base else 0:.0%}; {report['wall_s']:.0f}s wall, {report['cpu_s']:.0f}s CPU")
    write_json(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

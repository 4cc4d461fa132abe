"""Does the default failure-model configuration meet its own acceptance gate on other fleets? Ten seeds.

    python -m jobs.train_failure_seeds [--seeds 1-10] [--hosts 40 --days 16] [--workers 2]

Per seed: a simulated fleet replayed through the feature store and labelled from its stored failure
events (`--source simulator-replay` of `jobs.train_failure`), the same split, validation and
acceptance check as the training job, with the default model configuration instead of the Tune
search (the search only raises CV PR-AUC; the gate must hold without it). Nothing is registered.
Prints one row per seed and the count that pass; writes results/train_failure_seeds.json.
"""
from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from aiops.failure.config import load_train_config
from aiops.settings import PROJECT_ROOT
from jobs.results import write_json

# The default model: what `xgboost_scorer` ships (shallow monotone trees, half the negatives).
DEFAULT_MODEL = {"model": "xgboost", "eta": 0.1, "max_depth": 3, "min_child_weight": 1.0, "neg_sample_rate": 0.5,
                 "monotone": True, "rounds": 300}


def seed_range(text: str) -> list[int]:
    """'1-10' or '1,4,7'."""
    if "-" in text:
        lo, hi = text.split("-", 1)
        return list(range(int(lo), int(hi) + 1))
    return [int(s) for s in text.split(",") if s]


def one_seed(seed: int, config: Path | None, hosts: int | None, days: float | None, cache: str,
             threshold_split: str = "oof", error_history: bool = False, bags: int = 1) -> dict[str, Any]:
    """Build (or reuse) one seed's dataset, validate the default model on it and check acceptance.

    ``threshold_split``, ``error_history`` (the 15 min / 6 h error counts as extra inputs) and ``bags``
    are the variants measured side by side in docs/benchmarks/fleet-failure.md."""
    from aiops.failure.training.fleet_dataset import ERROR_HISTORY
    from aiops.failure.training.pipeline import acceptance_failures, make_model, prepare_data, validate
    from aiops.failure.training.verdict import acceptance_shortfalls

    cfg = load_train_config(config)
    d = cfg.dataset.model_copy(update={"seed": seed, **({"hosts": hosts} if hosts else {}), **({"days": days} if days else {})})
    cfg = cfg.model_copy(update={"dataset": d})
    t0 = time.time()
    quiet = lambda msg: None  # noqa: E731
    data = prepare_data(cfg, Path(cache), [], quiet)
    if error_history:
        data.ds.feature_names = [*data.ds.feature_names, *ERROR_HISTORY]
    model = {**DEFAULT_MODEL, "bags": bags}
    val = validate(data, lambda s, f: make_model(model, s, list(f)), seed, quiet, threshold_split=threshold_split)
    m = val.metrics
    fails = [s.line() for s in acceptance_shortfalls(m, cfg.acceptance)] if acceptance_failures(m, cfg.acceptance) else []
    hw = val.summary.get("hardware", {})
    return {"seed": seed, "recall": m["recall"], "precision": m["precision"], "median_lead_min": m["median_lead_min"],
            "pr_auc": m["pr_auc"], "hardware_failures": hw.get("scenarios"), "passed": not fails, "failures": fails,
            "threshold": val.threshold, "seconds": round(time.time() - t0, 1)}


def _fmt(v: Any) -> str:
    return "-" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path)
    ap.add_argument("--seeds", default="1-10")
    ap.add_argument("--hosts", type=int, help="override the config's fleet size (say so when reporting)")
    ap.add_argument("--days", type=float, help="override the config's simulated days")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threshold-split", choices=("oof", "time"), default="oof",
                    help="where each fold's decision threshold is chosen (evaluate_method)")
    ap.add_argument("--error-history", action="store_true", help="add the 15 min / 6 h error counts as model inputs")
    ap.add_argument("--bags", type=int, default=1, help="models averaged over different negative samples")
    ap.add_argument("--cache", default=str(PROJECT_ROOT / "results" / "cache"))
    ap.add_argument("--out", default=str(PROJECT_ROOT / "results" / "train_failure_seeds.json"))
    args = ap.parse_args(argv)
    seeds = seed_range(args.seeds)
    print("| seed | hw failures (test) | recall | precision | median lead (min) | row PR-AUC | passed | s |")
    print("|---|---|---|---|---|---|---|---|", flush=True)
    rows = []
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futs = [pool.submit(one_seed, s, args.config, args.hosts, args.days, args.cache, args.threshold_split,
                            args.error_history, args.bags) for s in seeds]
        for f in futs:
            try:
                r = f.result()
            except Exception as exc:  # too few failures in a fold on a small fleet: a failed seed, not a crash
                r = {"seed": seeds[len(rows)], "recall": None, "precision": None, "median_lead_min": None,
                     "pr_auc": float("nan"), "hardware_failures": None, "passed": False,
                     "failures": [f"{type(exc).__name__}: {exc}"], "seconds": 0.0}
            rows.append(r)
            print(f"| {r['seed']} | {_fmt(r['hardware_failures'])} | {_fmt(r['recall'])} | {_fmt(r['precision'])} | "
                  f"{_fmt(r['median_lead_min'])} | {r['pr_auc']:.3f} | {'yes' if r['passed'] else 'no'} | {r['seconds']:.0f} |",
                  flush=True)
            for why in r["failures"]:
                print(f"    seed {r['seed']}: {why}", flush=True)
    passed = sum(r["passed"] for r in rows)
    print(f"acceptance met on {passed}/{len(rows)} seeds")
    write_json(args.out, {"seeds": rows, "passed": passed, "hosts": args.hosts, "days": args.days,
                          "threshold_split": args.threshold_split, "error_history": args.error_history, "bags": args.bags})
    return 0


if __name__ == "__main__":
    sys.exit(main())

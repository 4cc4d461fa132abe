"""Does the default failure-model configuration meet its own acceptance gate on other fleets? Ten seeds.

    python -m jobs.train_failure_seeds [--seeds 1-10] [--hosts 40 --days 16] [--workers 2] [--variants default,...]

Per seed: a simulated fleet replayed through the feature store and labelled from its stored failure
events (`--source simulator-replay` of `jobs.train_failure`), the same split, validation and
acceptance check as the training job, with the default model configuration instead of the Tune
search (the search only raises CV PR-AUC; the gate must hold without it). Nothing is registered.
Several ``--variants`` (labels, inputs, model; `VARIANTS`) run on the same dataset of each seed, side by
side. Prints one row per seed and variant and the count that pass; writes results/train_failure_seeds.json.
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
# name -> what differs from the default configuration (configs/train_failure.yaml and MODEL_FEATURES):
#   labels: "config" (the configured per-kind label horizons) or "flat" (horizon_s for every kind);
#   extra: feature groups added to the model inputs; drop: inputs removed; model: overrides of DEFAULT_MODEL;
#   threshold_precision: the validation episode precision each fold's threshold must reach, inner_folds: the host
#   groups its out-of-fold scores come from (defaults: the config's acceptance.threshold_precision and
#   threshold_inner_folds).
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "flat-labels": {"labels": "flat"},
    "raw-cpu": {"extra": ["raw_cpu"], "drop": ["cpu_utilization_mean_5m_vs_baseline"]},
    "raw-cpu-flat-labels": {"labels": "flat", "extra": ["raw_cpu"], "drop": ["cpu_utilization_mean_5m_vs_baseline"]},
    "raw-cpu-plus-longer-view": {"extra": ["raw_cpu", "longer_view"], "drop": ["cpu_utilization_mean_5m_vs_baseline"]},
    "plus-error-history": {"extra": ["error_history"]},
    "plus-longer-view": {"extra": ["longer_view"]},
    "deeper": {"model": {"max_depth": 4, "rounds": 400}},
    "shallower": {"model": {"max_depth": 2, "rounds": 400}},
    "min-child-weight-5": {"model": {"min_child_weight": 5.0}},
    "threshold-p0.6-inner3": {"threshold_precision": 0.6, "inner_folds": 3},
    "threshold-p0.65": {"threshold_precision": 0.65},
    "threshold-p0.75": {"threshold_precision": 0.75},
}


def seed_range(text: str) -> list[int]:
    """'1-10' or '1,4,7'."""
    if "-" in text:
        lo, hi = text.split("-", 1)
        return list(range(int(lo), int(hi) + 1))
    return [int(s) for s in text.split(",") if s]


def variant_data(data: Any, variant: dict[str, Any], cfg: Any) -> Any:
    """The seed's data as ``variant`` sees it (labels relabelled, inputs extended); the rows are shared."""
    import copy
    import dataclasses

    from aiops.failure.training import fleet_dataset as fd
    from aiops.failure.training.pipeline import TrainingData

    ds = copy.copy(data.ds)
    if variant.get("labels") == "flat":
        ds.config = dataclasses.replace(ds.config, label_horizons=())
        ds = fd.relabel(ds)
    groups = {"error_history": fd.ERROR_HISTORY, "longer_view": fd.LONGER_VIEW,
              "raw_cpu": ("cpu_utilization_mean_5m",)}
    extra = [f for g in variant.get("extra", ()) for f in groups[g] if f not in ds.feature_names]
    ds.feature_names = [f for f in [*ds.feature_names, *extra] if f not in variant.get("drop", ())]
    return TrainingData(ds, data.split, None, data.y, data.folds, ds.feature_names)


def one_seed(seed: int, config: Path | None, hosts: int | None, days: float | None, cache: str,
             variants: list[str], threshold_split: str = "oof", bags: int = 1) -> list[dict[str, Any]]:
    """Build (or reuse) one seed's dataset, validate each variant on it and check acceptance."""
    from aiops.failure.training.pipeline import acceptance_failures, make_model, prepare_data, validate
    from aiops.failure.training.verdict import acceptance_shortfalls

    cfg = load_train_config(config)
    d = cfg.dataset.model_copy(update={"seed": seed, **({"hosts": hosts} if hosts else {}), **({"days": days} if days else {})})
    cfg = cfg.model_copy(update={"dataset": d})
    quiet = lambda msg: None  # noqa: E731
    t0 = time.time()
    base = prepare_data(cfg, Path(cache), [], quiet)
    build_s = time.time() - t0
    rows = []
    for name in variants:
        t1 = time.time()
        v = VARIANTS[name]
        data = variant_data(base, v, cfg)
        model = {**DEFAULT_MODEL, **v.get("model", {}), "bags": bags}
        val = validate(data, lambda s, f: make_model(model, s, list(f)), seed, quiet, threshold_split=threshold_split,
                       min_lead_s=cfg.acceptance.min_alert_lead_min * 60, min_precision=v.get("threshold_precision", cfg.acceptance.threshold_precision),
                       n_inner=v.get("inner_folds", cfg.acceptance.threshold_inner_folds))
        m = val.metrics
        fails = [s.line() for s in acceptance_shortfalls(m, cfg.acceptance)] if acceptance_failures(m, cfg.acceptance) else []
        hw = val.summary.get("hardware", {})
        rows.append({"seed": seed, "variant": name, "recall": m["recall"], "precision": m["precision"],
                     "median_lead_min": m["median_lead_min"], "pr_auc": m["pr_auc"],
                     "hardware_failures": hw.get("scenarios"), "false_alarms": hw.get("false_alarms"),
                     "passed": not fails, "failures": fails, "threshold": val.threshold,
                     "seconds": round(time.time() - t1 + (build_s if not rows else 0), 1)})
    return rows


def _fmt(v: Any) -> str:
    return "-" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))


def _cell(r: dict[str, Any]) -> str:
    ok = " ✓" if r["passed"] else ""
    return f"{_fmt(r['recall'])} / {_fmt(r['precision'])} / {_fmt(r['median_lead_min'])} / {r['pr_auc']:.3f}{ok}"


def _failed(seed: int, variants: list[str], exc: Exception) -> list[dict[str, Any]]:
    """Too few failures in a fold on a small fleet: failed rows, not a crash."""
    return [{"seed": seed, "variant": v, "recall": None, "precision": None, "median_lead_min": None,
             "pr_auc": float("nan"), "hardware_failures": None, "false_alarms": None, "passed": False,
             "failures": [f"{type(exc).__name__}: {exc}"], "seconds": 0.0} for v in variants]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path)
    ap.add_argument("--seeds", default="1-10")
    ap.add_argument("--hosts", type=int, help="override the config's fleet size (say so when reporting)")
    ap.add_argument("--days", type=float, help="override the config's simulated days")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--variants", default="default", help=f"comma-separated, side by side: {', '.join(VARIANTS)}")
    ap.add_argument("--threshold-split", choices=("oof", "time"), default="oof",
                    help="where each fold's decision threshold is chosen (evaluate_method)")
    ap.add_argument("--bags", type=int, default=1, help="models averaged over different negative samples")
    ap.add_argument("--cache", default=str(PROJECT_ROOT / "results" / "cache"))
    ap.add_argument("--out", default=str(PROJECT_ROOT / "results" / "train_failure_seeds.json"))
    args = ap.parse_args(argv)
    seeds, variants = seed_range(args.seeds), [v for v in args.variants.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        ap.error(f"unknown variants {unknown}; known: {list(VARIANTS)}")
    print("cells: hardware recall / precision / median lead (min) / row PR-AUC, ✓ = acceptance met")
    print("| seed | hw failures (test) | " + " | ".join(variants) + " |")
    print("|---|---|" + "---|" * len(variants), flush=True)
    rows: list[dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futs = [pool.submit(one_seed, s, args.config, args.hosts, args.days, args.cache, variants, args.threshold_split,
                            args.bags) for s in seeds]
        for s, f in zip(seeds, futs):
            try:
                got = f.result()
            except Exception as exc:  # noqa: BLE001 - one seed's failure is a row of the table
                got = _failed(s, variants, exc)
            rows.extend(got)
            print(f"| {s} | {_fmt(got[0]['hardware_failures'])} | " + " | ".join(_cell(r) for r in got) + " |", flush=True)
            for r in got:
                for why in r["failures"]:
                    print(f"    seed {s} {r['variant']}: {why[:160]}", flush=True)
    passed = {v: sum(r["passed"] for r in rows if r["variant"] == v) for v in variants}
    print("| **seeds passing** | | " + " | ".join(f"**{passed[v]}/{len(seeds)}**" for v in variants) + " |")
    write_json(args.out, {"seeds": rows, "passed": passed, "hosts": args.hosts, "days": args.days,
                          "variants": {v: VARIANTS[v] for v in variants}, "threshold_split": args.threshold_split,
                          "bags": args.bags})
    return 0


if __name__ == "__main__":
    sys.exit(main())

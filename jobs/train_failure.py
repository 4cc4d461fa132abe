"""Train, validate, register and (if it earns it) promote the fleet failure model.

    python -m jobs.train_failure [--config configs/train_failure.yaml] [--samples 8] [--dry-run]
    RAY_AUTH_MODE=token ray job submit --working-dir . -- python -m jobs.train_failure

The engine's retraining schedule (actors/retrain_scheduler.py) submits this same job through the Jobs API.
The last line printed is the verdict as one JSON object (`train_failure result: {...}`): promoted or not,
and when not, each threshold missed, by how much and what to change.

load (`--source simulator-replay`: a simulated fleet ingested through the feature store and labelled
from the failure events it emitted; `--source store`: a running engine's shard history and stored
failure events) -> point-in-time features (the feature store's own code) -> Ray Tune (ASHA) over model
types and hyperparameters, scored by host-grouped k-fold CV on the training period -> episode
validation on held-out hosts in a later period -> registry -> promotion only when the candidate
passes the acceptance thresholds and beats the production model on the same test rows. The
Serve deployment picks a promotion up without restart. The steps live in
`aiops.failure.training.pipeline`; this job wires the CLI, the settings and the Tune search into it.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from aiops.failure.config import TuneConfig, load_train_config
from aiops.failure.training.verdict import explain_decision, result_line
from aiops.logs import configure_logging
from aiops.settings import PROJECT_ROOT, ConfigError, Settings, load_settings
from jobs.results import write_json
from jobs.progress import PhaseProgress

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def tune_search(X: Any, y: np.ndarray, folds: np.ndarray, feats: list[str], tc: TuneConfig, samples: int | None,
                settings: Settings, t0: float, callbacks: list[Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Best configuration (and its metrics) of the Ray Tune search: ASHA over host-grouped CV PR-AUC; the trials
    are tracked in MLflow through `callbacks` (jobs/tune_tracking.py)."""
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    from aiops.failure.training.pipeline import cv_trial

    if not ray.is_initialized():
        ray.init(address=settings.ray.address, namespace=settings.ray.namespace, log_to_driver=True)
    space = {
        "model": tune.choice(["xgboost", "xgboost", "random_forest"]),
        "eta": tune.loguniform(0.03, 0.3), "max_depth": tune.randint(2, 7), "min_child_weight": tune.choice([1.0, 2.0, 5.0]),
        "neg_sample_rate": tune.choice([0.25, 0.5, 1.0]), "monotone": tune.choice([True, False]),
    }

    def trainable(config: dict[str, Any], X: Any = None, y: Any = None, folds: Any = None) -> None:
        cv_trial(config, X, y, folds, feats, tc.max_rounds, tc.rounds_per_report, tune.report)

    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(trainable, X=X, y=y, folds=folds), {"cpu": tc.cpus_per_trial}),
        param_space=space,
        tune_config=tune.TuneConfig(metric="pr_auc", mode="max", num_samples=samples or tc.num_samples,
                                    scheduler=ASHAScheduler(max_t=tc.max_rounds // tc.rounds_per_report,
                                                            grace_period=tc.grace_reports, reduction_factor=2)),
        run_config=tune.RunConfig(name=job_name(t0), storage_path=str(PROJECT_ROOT / "results" / "tune"),
                                  verbose=1, callbacks=callbacks),
    )
    best = tuner.fit().get_best_result()
    return dict(best.config), dict(best.metrics)


def job_name(t0: float) -> str:
    """The Tune experiment's name, also the `aiops.job` tag of its MLflow runs and of the registered version's run."""
    return f"train-failure-{int(t0)}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The job's command line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, help="training YAML; default: the settings' failure.training (configs/train_failure.yaml)")
    ap.add_argument("--settings", help="engine settings YAML (registry, Redis); default configs/aiops.yaml")
    ap.add_argument("--samples", type=int, help="Tune trials (overrides the config)")
    ap.add_argument("--registry", help="MLflow tracking URI or folder (overrides settings.failure.registry_uri)")
    ap.add_argument("--cache", default=str(PROJECT_ROOT / "results" / "cache"))
    ap.add_argument("--out", default=str(PROJECT_ROOT / "results" / "train_failure.json"))
    ap.add_argument("--source", choices=("simulator-replay", "store"), default="simulator-replay",
                    help="simulator-replay: simulate the configured fleet, ingest it through the feature store and "
                         "label it from its stored failure events; store: a running engine's Redis (shard history "
                         "and stored failure events). Backblaze disk stats: python -m jobs.eval_failure")
    ap.add_argument("--store-days", type=float, help="with --source store: only the last N days")
    ap.add_argument("--force-promote", action="store_true", help="promote even if it does not beat production")
    ap.add_argument("--redis", default=os.environ.get("AIOPS_REDIS_URL"),
                    help="Redis URL (overrides settings.redis.url; default $AIOPS_REDIS_URL, which the scheduler sets)")
    ap.add_argument("--dry-run", action="store_true",
                    help="validate the configuration and reach the registry and Redis, then exit (no training)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load_settings(args.settings)
        cfg = load_train_config(args.config) if args.config else settings.failure.training
        settings = settings.with_overrides(**{"redis.url": args.redis})
        configure_logging(settings.logging.level)
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 2
    if args.dry_run:
        return dry_run(settings, cfg, args)

    from aiops.failure.registry import ModelRegistry
    from aiops.failure.training.pipeline import load_mitigations, run_pipeline
    from jobs.tune_tracking import mlflow_callback

    t0 = time.time()
    progress = PhaseProgress(disable=args.no_progress)
    log = progress.wrap(lambda msg: print(f"[train_failure {time.time() - t0:6.0f}s] {msg}", flush=True))
    dataset = None
    if args.source == "store":
        from aiops.failure.training.fleet_dataset import FleetDatasetConfig, with_model_features
        from aiops.failure.training.store_dataset import dataset_from_store

        d = cfg.dataset
        dataset = with_model_features(dataset_from_store(
            settings, FleetDatasetConfig(step_s=d.step_s, interval_s=d.interval_s, horizon_s=d.horizon_s,
                                         label_horizons=tuple(d.label_horizon_s.items())), args.store_days))
        log(f"store: {dataset.stats}")
    registry = ModelRegistry(args.registry or settings.failure.registry_uri, experiment=settings.failure.mlflow_experiment,
                             run_tags={"aiops.job": job_name(t0)})
    callbacks = [mlflow_callback(registry, job_name(t0))]
    search = lambda X, y, folds, feats: tune_search(X, y, folds, feats, cfg.tune, args.samples, settings, t0, callbacks)  # noqa: E731
    report = run_pipeline(cfg, registry, search,
                          cache=Path(args.cache), mitigations=load_mitigations(settings.redis.url, settings.redis.key_prefix),
                          force_promote=args.force_promote, log=log, dataset=dataset)
    progress.close()
    verdict = explain_decision(report, cfg.acceptance)
    for line in verdict["what_to_change"]:
        print(f"  what to change: {line}", flush=True)
    write_json(args.out, {**report, "verdict": verdict, "seconds": round(time.time() - t0, 1)})
    print(result_line(verdict), flush=True)
    return 0


def dry_run(settings: Settings, cfg: Any, args: argparse.Namespace) -> int:
    """Check what a training run needs (configuration, registry, Redis) without training; for the scheduler's
    and the Jobs API's smoke tests."""
    from aiops.failure.registry import ModelRegistry

    checks: dict[str, str] = {"configuration": f"ok ({cfg.model_name}, {cfg.tune.num_samples} trials)"}
    ok = True
    try:
        versions = ModelRegistry(args.registry or settings.failure.registry_uri).versions(cfg.model_name)
        checks["registry"] = f"ok ({len(versions)} versions)"
    except Exception as exc:  # noqa: BLE001 - reported, the exit code says it failed
        ok, checks["registry"] = False, f"unreachable: {exc}"[:300]
    if settings.redis.url:
        try:
            import redis

            redis.Redis.from_url(settings.redis.url, socket_connect_timeout=5).ping()
            checks["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001
            ok, checks["redis"] = False, f"unreachable: {type(exc).__name__}"
    for name, line in checks.items():
        print(f"  {name:<14}{line}")
    result = {"dry_run": True, "ok": ok, "checks": checks}
    write_json(args.out, result)
    print(result_line(result), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

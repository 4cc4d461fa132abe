"""Train, validate, register and (if it earns it) promote the fleet failure model.

    python -m jobs.train_failure [--config configs/train_failure.yaml] [--samples 8]
    RAY_AUTH_MODE=token ray job submit --working-dir . -- python -m jobs.train_failure

load -> point-in-time features (the feature store's own code) -> Ray Tune (ASHA) over model
types and hyperparameters, scored by host-grouped k-fold CV on the training period -> episode
validation on held-out hosts in a later period -> registry -> promotion only when the candidate
passes the acceptance thresholds and beats the production model on the same test rows. The
Serve deployment picks a promotion up without restart. Targets whose predicted failure was
mitigated (recorded through the API) are dropped around the mitigation so the model does not
learn from outcomes the mitigation hid.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from aiops.settings import PROJECT_ROOT, ConfigError, load_config_file, load_settings
from jobs.results import write_json

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
DEFAULT_CONFIG = PROJECT_ROOT / "configs" / "train_failure.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetConfig(_Strict):
    hosts: int = Field(40, ge=4)
    vms_per_host: int = Field(2, ge=0)
    days: float = Field(16.0, gt=1)
    step_s: float = Field(600.0, gt=0)
    interval_s: float = Field(30.0, gt=0)
    scenario_rate_per_day: float = Field(0.15, ge=0)
    seed: int = 7
    horizon_s: float = Field(8 * 3600.0, gt=0)


class TuneConfig(_Strict):
    num_samples: int = Field(8, ge=1)
    max_rounds: int = Field(300, ge=25)
    rounds_per_report: int = Field(50, ge=5)
    grace_reports: int = Field(2, ge=1)
    cv_folds: int = Field(3, ge=2)
    cpus_per_trial: float = Field(1.0, gt=0)


class AcceptanceConfig(_Strict):
    min_recall: float = Field(0.9, ge=0, le=1)
    min_precision: float = Field(0.8, ge=0, le=1)
    min_median_lead_min: float = Field(30.0, ge=0)
    promote_metric: str = "pr_auc"


class TrainConfig(_Strict):
    model_name: str = "fleet-failure"
    dataset: DatasetConfig = DatasetConfig()
    tune: TuneConfig = TuneConfig()
    acceptance: AcceptanceConfig = AcceptanceConfig()
    outer_folds: int = Field(4, ge=2)
    cutoff_frac: float = Field(0.5, gt=0.1, lt=0.9)


def load_config(path: Path | None) -> TrainConfig:
    if path is None and not DEFAULT_CONFIG.exists():
        return TrainConfig()
    return load_config_file(TrainConfig, path or DEFAULT_CONFIG, "training configuration")


# ---- per-step functions (no CLI, no Ray in their signatures) -------------------------------------------------------
def make_model(config: dict[str, Any], seed: int, features: list[str]) -> Any:
    """A FailureModel for one point of the search space."""
    from aiops.failure.models import RandomForestFailureModel, XGBoostFailureModel
    from aiops.failure.training.fleet_training import monotone_constraints

    if config["model"] == "random_forest":
        return RandomForestFailureModel(n_estimators=int(config["rounds"]), max_depth=int(config["max_depth"]) * 3,
                                        min_samples_leaf=int(config["min_child_weight"] * 4 + 1),
                                        neg_sample_rate=config["neg_sample_rate"], n_jobs=1, seed=seed)
    extra = {"monotone_constraints": monotone_constraints(features)} if config.get("monotone", True) else {}
    return XGBoostFailureModel(n_rounds=int(config["rounds"]), eta=config["eta"], max_depth=int(config["max_depth"]),
                               min_child_weight=config["min_child_weight"], neg_sample_rate=config["neg_sample_rate"],
                               n_bags=int(config.get("bags", 1)), nthread=1, seed=seed, extra=extra)


def cv_trial(config: dict[str, Any], X: Any, y: np.ndarray, folds: np.ndarray, features: list[str],
             max_rounds: int, step: int, report: Any) -> None:
    """Host-grouped CV, reported every `step` rounds so ASHA can stop weak trials early."""
    from sklearn.metrics import average_precision_score

    for rounds in range(step, max_rounds + 1, step):
        scores = []
        for k in np.unique(folds):
            tr, te = folds != k, folds == k
            if y[te].sum() == 0 or y[tr].sum() == 0:
                continue
            m = make_model({**config, "rounds": rounds}, int(k), features).fit(X[tr], y[tr])
            scores.append(average_precision_score(y[te], m.predict_proba(X[te])))
        report({"pr_auc": float(np.mean(scores)) if scores else 0.0, "rounds": rounds})


def drop_mitigated(frame: Any, mitigations: list[dict[str, Any]], horizon_s: float) -> Any:
    """Rows of a target within one horizon around a recorded mitigation: their outcome was changed by us."""
    if not mitigations:
        return frame
    keep = np.ones(len(frame), bool)
    ts, tid = frame["ts"].to_numpy(), frame["target_id"].to_numpy()
    for m in mitigations:
        keep &= ~((tid == m["target_id"]) & (np.abs(ts - float(m["ts"])) <= horizon_s))
    return frame[keep].reset_index(drop=True)


def row_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, average_precision_score, f1_score, precision_score, recall_score, roc_curve

    pred = p >= threshold
    fpr, tpr, _ = roc_curve(y, p)
    return {"pr_auc": float(average_precision_score(y, p)), "accuracy": float(accuracy_score(y, pred)),
            "row_precision": float(precision_score(y, pred, zero_division=0)),
            "row_recall": float(recall_score(y, pred, zero_division=0)), "row_f1": float(f1_score(y, pred, zero_division=0)),
            "recall_at_1pct_fpr": float(np.interp(0.01, fpr, tpr))}


SURVIVAL_UNIT_S = 3600.0  # AFT is fitted in hours: with labels in seconds XGBoost's AFT fit stalls at its base score


def survival_bounds(frame: Any, horizon_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Hours to the next failure when it falls within the horizon; otherwise right-censored at it.

    Censoring at H (rather than at the end of the data) asks the model only what serving shows:
    how soon a target that is failing will fail. Distant failures would otherwise pull every
    estimate towards days (held-out 80 % interval coverage 0.35 against 0.86 this way).
    """
    t = (frame["next_failure_ts"].to_numpy(dtype=np.float64) - frame["ts"].to_numpy()) / SURVIVAL_UNIT_S
    h = horizon_s / SURVIVAL_UNIT_S
    event = np.isfinite(t) & (t <= h)
    lower = np.where(event, np.clip(t, 1.0 / 60, None), h)
    return lower, np.where(event, lower, np.inf)


def fit_survival(ds: Any, split: Any, outer_folds: int, feats: list[str]) -> tuple[Any, float]:
    """AFT time-to-failure model; its interval coverage is measured on the held-out test rows first."""
    from aiops.failure.models.survival import SurvivalModel
    from aiops.failure.training.fleet_training import model_matrix

    lower, upper = survival_bounds(ds.frame, ds.config.horizon_s)
    test = np.zeros(len(ds.frame), bool)
    for k in range(outer_folds):
        test |= split.test_mask(ds.frame, k)
    train = ds.frame["ts"].to_numpy() < split.cutoff_ts - ds.config.horizon_s
    X = model_matrix(ds.frame, feats)
    held = SurvivalModel(neg_sample_rate=0.02, nthread=1, eta=0.1).fit(X[train], lower[train], upper[train])
    ev = test & np.isfinite(upper)  # rows that fail within the horizon
    pred = held.predict(X[ev]) if ev.any() else []
    inside = [p.lower <= t <= p.upper for p, t in zip(pred, lower[ev])]
    coverage = float(np.mean(inside)) if inside else float("nan")
    return SurvivalModel(neg_sample_rate=0.02, nthread=1, eta=0.1).fit(X, lower, upper), coverage


def _mitigations(settings: Any) -> list[dict[str, Any]]:
    if not settings.redis.url:
        return []
    import redis

    raw = redis.Redis.from_url(settings.redis.url).lrange(f"{settings.redis.key_prefix}:failure:mitigations", 0, -1)
    return [json.loads(r) for r in raw]


def _score_production(registry: Any, name: str, version: str, test: Any, threshold: float, metric: str, log: Any) -> float:
    """The production model's metric on the candidate's test rows (-inf if it cannot score them)."""
    from aiops.failure.models import FailureModel
    from aiops.failure.training.fleet_training import model_matrix

    try:
        old = FailureModel.load(registry.fetch(name, version))
        p = old.predict_proba(model_matrix(test, [f for f in old.feature_names if f != "target_type"]))
        return row_metrics(test["label"].to_numpy(), p, threshold)[metric]
    except Exception as exc:  # its features no longer exist in the data
        log(f"production {version} cannot score the new test rows ({exc}); treating it as beaten")
        return float("-inf")


# ---- the job ---------------------------------------------------------------------------------------------------------
def tune_search(X: Any, y: np.ndarray, folds: np.ndarray, feats: list[str], tc: Any, samples: int | None,
                settings: Any, t0: float) -> Any:
    """Best Tune trial of the hyperparameter search (ASHA over host-grouped CV PR-AUC)."""
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

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
        run_config=tune.RunConfig(name=f"train-failure-{int(t0)}", storage_path=str(PROJECT_ROOT / "results" / "tune"),
                                  verbose=1),
    )
    return tuner.fit().get_best_result()


def promotion_decision(registry: Any, cfg: TrainConfig, ds: Any, split: Any, metrics: dict[str, Any], threshold: float,
                       version: str, force: bool, log: Any) -> dict[str, Any]:
    """Promote only a model that passes acceptance and beats production on the same held-out rows."""
    acc = cfg.acceptance
    failures = [f"{k} {metrics.get(k)} < {v}" for k, v in (("recall", acc.min_recall), ("precision", acc.min_precision),
                                                           ("median_lead_min", acc.min_median_lead_min))
                if metrics.get(k) is None or metrics[k] < v]
    decision: dict[str, Any] | None = None
    if failures:
        decision = {"promoted": False, "reason": "acceptance failed: " + "; ".join(failures)}
    else:
        prod = registry.production(cfg.model_name)
        if prod is not None and not force:  # compare on the same test rows, not on old numbers
            test_mask = np.zeros(len(ds.frame), bool)
            for k in range(cfg.outer_folds):
                test_mask |= split.test_mask(ds.frame, k)
            old = _score_production(registry, cfg.model_name, prod.version, ds.frame[test_mask], threshold,
                                    acc.promote_metric, log)
            if metrics[acc.promote_metric] <= old:
                decision = {"promoted": False, "reason": f"{acc.promote_metric} {metrics[acc.promote_metric]:.4f} does not "
                                                         f"beat production {prod.version} ({old:.4f}) on the same test rows"}
        if decision is None:
            d2 = registry.promote(cfg.model_name, version, acc.promote_metric, minimum=0.0, force=True)
            decision = {"promoted": d2.promoted, "reason": d2.reason}
    return decision


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path)
    ap.add_argument("--settings", help="engine settings YAML (registry, Redis); default configs/aiops.yaml")
    ap.add_argument("--samples", type=int, help="Tune trials (overrides the config)")
    ap.add_argument("--registry", help="registry URI (overrides settings.failure.registry_uri)")
    ap.add_argument("--cache", default=str(PROJECT_ROOT / "results" / "cache"))
    ap.add_argument("--out", default=str(PROJECT_ROOT / "results" / "train_failure.json"))
    ap.add_argument("--force-promote", action="store_true", help="promote even if it does not beat production")
    args = ap.parse_args(argv)
    try:
        cfg = load_config(args.config)
        settings = load_settings(args.settings)
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 2

    from aiops.failure.registry import ModelRegistry, data_fingerprint
    from aiops.failure.training.fleet_dataset import FleetDatasetConfig, load_or_build
    from aiops.failure.training.fleet_training import evaluate_method, host_folds, make_split, model_matrix

    t0 = time.time()
    log = lambda msg: print(f"[train_failure {time.time() - t0:6.0f}s] {msg}", flush=True)  # noqa: E731
    d = cfg.dataset
    ds = load_or_build(FleetDatasetConfig(hosts=d.hosts, vms_per_host=d.vms_per_host, days=d.days, step_s=d.step_s,
                                          interval_s=d.interval_s, scenario_rate_per_day=d.scenario_rate_per_day,
                                          seed=d.seed, horizon_s=d.horizon_s), Path(args.cache), log)
    ds.frame = drop_mitigated(ds.frame, _mitigations(settings), d.horizon_s)
    log(f"dataset: {len(ds.frame)} rows, {int(ds.frame['label'].sum())} positive, {len(ds.scenarios)} scenarios")
    split = make_split(ds, cfg.outer_folds, cfg.cutoff_frac, d.seed)
    train = ds.frame[ds.frame["ts"].to_numpy() < split.cutoff_ts - d.horizon_s].reset_index(drop=True)
    feats = ds.feature_names
    X, y = model_matrix(train, feats), train["label"].to_numpy()
    folds = train["host_id"].map(host_folds(train["host_id"].tolist(), cfg.tune.cv_folds, d.seed + 5)).to_numpy()

    best = tune_search(X, y, folds, feats, cfg.tune, args.samples, settings, t0)
    # three bags on different negative samples: their spread is the served probability interval
    best_config = {**best.config, "rounds": int(best.metrics["rounds"]), "bags": 3}
    log(f"best trial: {best_config} CV PR-AUC {best.metrics['pr_auc']:.3f}")

    make = lambda seed, f: make_model(best_config, seed, list(f))  # noqa: E731
    res = evaluate_method(ds, split, "tuned", make=make, seed=d.seed, log=log)
    summ = res.summary()
    hw = summ.get("hardware", {})
    thresholds = [f.threshold.threshold for f in res.folds]
    threshold = float(np.median(thresholds))
    tf = res.test_frame.dropna(subset=["score"])
    metrics = {**row_metrics(tf["label"].to_numpy(), tf["score"].to_numpy(), threshold),
               "recall": hw.get("recall"), "precision": hw.get("precision"), "median_lead_min": hw.get("median_lead_min")}
    metrics["f1"] = (2 * metrics["precision"] * metrics["recall"] / (metrics["precision"] + metrics["recall"])
                     if metrics["precision"] and metrics["recall"] else 0.0)
    log(f"held-out episodes (hardware): recall {metrics['recall']}, precision {metrics['precision']}, "
        f"median lead {metrics['median_lead_min']} min; rows: PR-AUC {metrics['pr_auc']:.3f}")

    final = make(d.seed, feats).fit(model_matrix(ds.frame, feats), ds.frame["label"].to_numpy())
    survival, coverage = fit_survival(ds, split, cfg.outer_folds, feats)
    metrics["ttf_interval_coverage"] = coverage
    log(f"time to failure (AFT): 80% interval covers {coverage:.2f} of held-out failing rows")
    registry = ModelRegistry(args.registry or settings.failure.registry_uri)
    with tempfile.TemporaryDirectory() as tmp:
        folder = final.save(Path(tmp) / "model")
        survival.save(folder / "survival")
        mv = registry.register(cfg.model_name, folder, metrics, feats, data_fingerprint(ds.frame[feats], ds.frame["label"]),
                               {"horizon_s": d.horizon_s, "decision_threshold": threshold, "survival_unit_s": SURVIVAL_UNIT_S, "training_rows": int(len(ds.frame)),
                                "model_type": best_config["model"], "hyperparameters": best_config,
                                "evaluation": summ, "fold_thresholds": thresholds})
    log(f"registered {cfg.model_name} {mv.version}")

    decision = promotion_decision(registry, cfg, ds, split, metrics, threshold, mv.version, args.force_promote, log)
    log(("PROMOTED " if decision["promoted"] else "not promoted: ") + decision["reason"])
    report = {"version": mv.version, "metrics": metrics, "decision": decision, "best_config": best_config,
              "cv_pr_auc": best.metrics["pr_auc"], "evaluation": summ, "seconds": round(time.time() - t0, 1)}
    write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The fleet failure model's training pipeline, Ray-free: dataset -> search (injected) -> episode validation
on held-out hosts in a later period -> final fit and survival model -> registry -> promotion decision.

`jobs.train_failure` only wires the CLI, the settings and the Ray Tune search into `run_pipeline`; every step
here takes plain values so it can be run and tested without a cluster. Targets whose predicted failure was
mitigated (recorded through the API) are dropped around the mitigation so the model does not learn from
outcomes the mitigation hid.
"""
from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from aiops.failure.config import AcceptanceConfig, TrainConfig

__all__ = ["SURVIVAL_UNIT_S", "Log", "Search", "TrainingData", "Validation", "make_model", "cv_trial", "drop_mitigated",
           "load_mitigations", "row_metrics", "survival_bounds", "fit_survival", "prepare_data", "validate",
           "register_candidate", "acceptance_failures", "score_production", "promotion_decision", "run_pipeline"]

SURVIVAL_UNIT_S = 3600.0  # AFT is fitted in hours: with labels in seconds XGBoost's AFT fit stalls at its base score

Log = Callable[[str], None]
# (X, y, folds, features) -> (best config, its metrics incl. "rounds" and "pr_auc"): the hyperparameter search
Search = Callable[[Any, np.ndarray, np.ndarray, list[str]], tuple[dict[str, Any], dict[str, Any]]]


# ---- models and scores ----------------------------------------------------------------------------------------------
def make_model(config: Mapping[str, Any], seed: int, features: list[str]) -> Any:
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


def cv_trial(config: Mapping[str, Any], X: Any, y: np.ndarray, folds: np.ndarray, features: list[str],
             max_rounds: int, step: int, report: Callable[[dict[str, Any]], None]) -> None:
    """Host-grouped CV, reported every `step` rounds so a scheduler (ASHA) can stop weak trials early."""
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


def row_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    """Row-level quality at `threshold` (the registry's accuracy/precision/recall fields come from here)."""
    from sklearn.metrics import accuracy_score, average_precision_score, f1_score, precision_score, recall_score, roc_curve

    pred = p >= threshold
    fpr, tpr, _ = roc_curve(y, p)
    return {"pr_auc": float(average_precision_score(y, p)), "accuracy": float(accuracy_score(y, pred)),
            "row_precision": float(precision_score(y, pred, zero_division=0)),
            "row_recall": float(recall_score(y, pred, zero_division=0)), "row_f1": float(f1_score(y, pred, zero_division=0)),
            "recall_at_1pct_fpr": float(np.interp(0.01, fpr, tpr))}


# ---- data -------------------------------------------------------------------------------------------------------------
def drop_mitigated(frame: Any, mitigations: Sequence[Mapping[str, Any]], horizon_s: float) -> Any:
    """Rows of a target within one horizon around a recorded mitigation: their outcome was changed by us."""
    if not mitigations:
        return frame
    keep = np.ones(len(frame), bool)
    ts, tid = frame["ts"].to_numpy(), frame["target_id"].to_numpy()
    for m in mitigations:
        keep &= ~((tid == m["target_id"]) & (np.abs(ts - float(m["ts"])) <= horizon_s))
    return frame[keep].reset_index(drop=True)


def load_mitigations(redis_url: str | None, key_prefix: str) -> list[dict[str, Any]]:
    """Mitigations operators recorded through the API (the failure monitor stores them in Redis); none without Redis."""
    if not redis_url:
        return []
    import redis

    raw = redis.Redis.from_url(redis_url).lrange(f"{key_prefix}:failure:mitigations", 0, -1)
    return [json.loads(r) for r in raw]


@dataclass
class TrainingData:
    """The dataset, its outer split and the training period's matrix with host-grouped CV folds."""
    ds: Any
    split: Any
    X: Any
    y: np.ndarray
    folds: np.ndarray
    features: list[str]

    def test_mask(self, outer_folds: int) -> np.ndarray:
        """Rows held out by any outer fold (the rows every comparison is made on)."""
        mask = np.zeros(len(self.ds.frame), bool)
        for k in range(outer_folds):
            mask |= self.split.test_mask(self.ds.frame, k)
        return mask


def prepare_data(cfg: TrainConfig, cache: Path | None, mitigations: Sequence[Mapping[str, Any]], log: Log,
                 dataset: Any = None) -> TrainingData:
    """Split and fold a dataset (default: replay the simulated fleet of ``cfg.dataset`` through the feature
    store, labelled from its stored failure events), after dropping mitigated rows."""
    from aiops.failure.training.fleet_dataset import FleetDatasetConfig, load_or_build
    from aiops.failure.training.fleet_training import host_folds, make_split, model_matrix

    d = cfg.dataset
    ds = dataset if dataset is not None else load_or_build(
        FleetDatasetConfig(hosts=d.hosts, vms_per_host=d.vms_per_host, days=d.days, step_s=d.step_s,
                           interval_s=d.interval_s, scenario_rate_per_day=d.scenario_rate_per_day,
                           seed=d.seed, horizon_s=d.horizon_s, label_horizons=tuple(d.label_horizon_s.items())),
        cache, log)
    ds.frame = drop_mitigated(ds.frame, mitigations, d.horizon_s)
    log(f"dataset: {len(ds.frame)} rows, {int(ds.frame['label'].sum())} positive, "
        f"{len(ds.scenarios)} failures from stored events")
    split = make_split(ds, cfg.outer_folds, cfg.cutoff_frac, d.seed)
    train = ds.frame[ds.frame["ts"].to_numpy() < split.cutoff_ts - d.horizon_s].reset_index(drop=True)
    feats = ds.feature_names
    folds = train["host_id"].map(host_folds(train["host_id"].tolist(), cfg.tune.cv_folds, d.seed + 5)).to_numpy()
    return TrainingData(ds, split, model_matrix(train, feats), train["label"].to_numpy(), folds, feats)


# ---- validation and the final models --------------------------------------------------------------------------------
@dataclass
class Validation:
    """Held-out episode metrics of the chosen configuration and the operating point they were measured at."""
    metrics: dict[str, Any]
    threshold: float
    fold_thresholds: list[float]
    summary: dict[str, Any]


def validate(data: TrainingData, make: Callable[[int, Sequence[str]], Any], seed: int, log: Log,
             threshold_split: str = "oof", min_lead_s: float = 0.0, min_precision: float = 0.9,
             n_inner: int = 3) -> Validation:
    """Episode validation on held-out hosts in a later period; the decision threshold is the folds' median,
    each chosen on validation scores of that fold's training period (``evaluate_method``'s ``threshold_split``).
    A failure is caught only by an alert at least ``min_lead_s`` before it; each fold's threshold is the one with the
    highest validation recall at episode precision >= ``min_precision`` on out-of-fold scores of its training hosts
    in ``n_inner`` groups."""
    from aiops.failure.training.fleet_training import evaluate_method

    res = evaluate_method(data.ds, data.split, "tuned", make=make, seed=seed, log=log, threshold_split=threshold_split,
                          min_lead_s=min_lead_s, min_precision=min_precision, n_inner=n_inner)
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
    return Validation(metrics, threshold, thresholds, summ)


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


def fit_survival(data: TrainingData, outer_folds: int) -> tuple[Any, float]:
    """AFT time-to-failure model; its interval coverage is measured on the held-out test rows first."""
    from aiops.failure.models.survival import SurvivalModel
    from aiops.failure.training.fleet_training import model_matrix

    ds = data.ds
    lower, upper = survival_bounds(ds.frame, ds.config.horizon_s)
    test = data.test_mask(outer_folds)
    train = ds.frame["ts"].to_numpy() < data.split.cutoff_ts - ds.config.horizon_s
    X = model_matrix(ds.frame, data.features)
    held = SurvivalModel(neg_sample_rate=0.02, nthread=1, eta=0.1).fit(X[train], lower[train], upper[train])
    ev = test & np.isfinite(upper)  # rows that fail within the horizon
    pred = held.predict(X[ev]) if ev.any() else []
    inside = [p.lower <= t <= p.upper for p, t in zip(pred, lower[ev])]
    coverage = float(np.mean(inside)) if inside else float("nan")
    return SurvivalModel(neg_sample_rate=0.02, nthread=1, eta=0.1).fit(X, lower, upper), coverage


def register_candidate(registry: Any, cfg: TrainConfig, data: TrainingData, final: Any, survival: Any,
                       val: Validation, best_config: Mapping[str, Any]) -> Any:
    """Register the final model with its survival model and everything serving reads from the metadata
    (horizon, decision threshold, survival unit); registration does not promote."""
    from aiops.failure.registry import data_fingerprint

    ds, feats = data.ds, data.features
    with tempfile.TemporaryDirectory() as tmp:
        folder = final.save(Path(tmp) / "model")
        survival.save(folder / "survival")
        return registry.register(cfg.model_name, folder, val.metrics, feats,
                                 data_fingerprint(ds.frame[feats], ds.frame["label"]),
                                 {"horizon_s": cfg.dataset.horizon_s, "decision_threshold": val.threshold,
                                  "survival_unit_s": SURVIVAL_UNIT_S, "training_rows": int(len(ds.frame)),
                                  "model_type": best_config["model"], "hyperparameters": dict(best_config),
                                  "evaluation": val.summary, "fold_thresholds": val.fold_thresholds})


# ---- promotion ------------------------------------------------------------------------------------------------------
def acceptance_failures(metrics: Mapping[str, Any], acc: AcceptanceConfig) -> list[str]:
    """Each acceptance threshold the candidate misses (an empty list: it may be promoted); an unmeasured (NaN)
    metric misses a positive threshold. By how much and what to change: `verdict.acceptance_shortfalls`."""
    out = []
    for k, v in (("recall", acc.min_recall), ("precision", acc.min_precision), ("median_lead_min", acc.min_median_lead_min)):
        got = metrics.get(k)
        if v > 0 and (got is None or not np.isfinite(got) or got < v):
            out.append(f"{k} {got} < {v}")
    return out


def score_production(registry: Any, name: str, version: str, test: Any, threshold: float, metric: str, log: Log) -> float:
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


def promotion_decision(registry: Any, cfg: TrainConfig, data: TrainingData, metrics: Mapping[str, Any],
                       threshold: float, version: str, force: bool, log: Log) -> dict[str, Any]:
    """Promote only a model that passes acceptance and beats production on the same held-out rows."""
    acc = cfg.acceptance
    failures = acceptance_failures(metrics, acc)
    if failures:
        return {"promoted": False, "reason": "acceptance failed: " + "; ".join(failures)}
    prod = registry.production(cfg.model_name)
    if prod is not None and not force:  # compare on the same test rows, not on old numbers
        test = data.ds.frame[data.test_mask(cfg.outer_folds)]
        old = score_production(registry, cfg.model_name, prod.version, test, threshold, acc.promote_metric, log)
        if metrics[acc.promote_metric] <= old:
            return {"promoted": False, "reason": f"{acc.promote_metric} {metrics[acc.promote_metric]:.4f} does not "
                                                 f"beat production {prod.version} ({old:.4f}) on the same test rows"}
    d = registry.promote(cfg.model_name, version, acc.promote_metric, minimum=0.0, force=True)
    return {"promoted": d.promoted, "reason": d.reason}


# ---- the whole pipeline ---------------------------------------------------------------------------------------------
def run_pipeline(cfg: TrainConfig, registry: Any, search: Search, *, cache: Path | None = None,
                 mitigations: Sequence[Mapping[str, Any]] = (), force_promote: bool = False,
                 log: Log = print, dataset: Any = None) -> dict[str, Any]:
    """Train, validate, register and (if it earns it) promote one model; returns the job's report."""
    from aiops.failure.training.fleet_training import model_matrix

    data = prepare_data(cfg, cache, mitigations, log, dataset)
    config, best_metrics = search(data.X, data.y, data.folds, data.features)
    # three bags on different negative samples: their spread is the served probability interval
    best_config = {**config, "rounds": int(best_metrics["rounds"]), "bags": 3}
    log(f"best trial: {best_config} CV PR-AUC {best_metrics['pr_auc']:.3f}")

    make = lambda seed, f: make_model(best_config, seed, list(f))  # noqa: E731
    seed, ds, feats = cfg.dataset.seed, data.ds, data.features
    val = validate(data, make, seed, log, min_lead_s=cfg.acceptance.min_alert_lead_min * 60,
                   min_precision=cfg.acceptance.threshold_precision, n_inner=cfg.acceptance.threshold_inner_folds)
    final = make(seed, feats).fit(model_matrix(ds.frame, feats), ds.frame["label"].to_numpy())
    survival, coverage = fit_survival(data, cfg.outer_folds)
    val.metrics["ttf_interval_coverage"] = coverage
    log(f"time to failure (AFT): 80% interval covers {coverage:.2f} of held-out failing rows")
    mv = register_candidate(registry, cfg, data, final, survival, val, best_config)
    log(f"registered {cfg.model_name} {mv.version}")

    decision = promotion_decision(registry, cfg, data, val.metrics, val.threshold, mv.version, force_promote, log)
    log(("PROMOTED " if decision["promoted"] else "not promoted: ") + decision["reason"])
    return {"version": mv.version, "metrics": val.metrics, "decision": decision, "best_config": best_config,
            "cv_pr_auc": best_metrics["pr_auc"], "evaluation": val.summary}

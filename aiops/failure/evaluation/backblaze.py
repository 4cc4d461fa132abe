"""Backblaze evaluation: our model against rule, ranked and plain-XGBoost baselines on the same folds.

Protocol (documented in docs/benchmarks/failure.md):
- label: a drive-day is positive when the drive's ``failure=1`` record is 0..H-1 days ahead
  (the failure day itself included); all other drive-days are negative, none are dropped;
- folds: stratified-by-"drive fails" group k-fold on ``serial_number`` — a drive's days are all
  in one fold, so no drive's own history leaks into its test scores;
- features only look backwards in time (see features.py), and the date itself is never a feature;
- recall@1%FPR per fold: threshold at the 99th percentile of that fold's negative drive-day scores,
  a positive counts when its score is strictly greater; we report the mean over folds.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aiops.failure.training.backblaze import default_root, load_drive_stats
from aiops.failure.config import FailureConfig, ModelConfig
from aiops.failure.evaluation.cross_validation import CVResult, cross_validate
from aiops.failure.training.features import FeatureSpec, raw_diff_features, smart_history_features
from aiops.failure.training.labels import LabelSpec, horizon_labels, survival_bounds
from aiops.failure.evaluation.metrics import operating_point
from aiops.failure.models import FailureModel, make_model
from aiops.failure.training.splits import grouped_folds
from aiops.failure.models.survival import SurvivalModel, interval_coverage

PLAIN_IDS = (1, 5, 9, 194, 197)


def feature_spec(cfg: FailureConfig) -> FeatureSpec:
    f = cfg.features
    return FeatureSpec(counters=f.counters, gauges=f.gauges, age_id=f.age_id, diff_days=f.diff_days,
                       window_days=f.window_days, categorical=f.categorical)


def load_labelled(cfg: FailureConfig, data_dir: Path) -> pd.DataFrame:
    """Drive-days with labels, sorted by (serial_number, date)."""
    b = cfg.backblaze
    root = b.folder or default_root(data_dir)
    ids = sorted(set(b.smart_ids) | set(PLAIN_IDS))
    df = load_drive_stats(root, ids, start=b.start, end=b.end, models=b.models)
    return horizon_labels(df, LabelSpec(horizon=cfg.labels.horizon_days))


def _model_scorer(mc: ModelConfig, X: pd.DataFrame, y: np.ndarray, train_mask: np.ndarray,
                  keep: dict[str, FailureModel]) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def score(tr: np.ndarray, te: np.ndarray) -> np.ndarray:
        tr = tr[train_mask[tr]]
        m = make_model(mc.kind, **mc.params).fit(X.iloc[tr], y[tr])
        keep["last"] = m
        return m.predict_proba(X.iloc[te])
    return score


def evaluate_backblaze(cfg: FailureConfig, data_dir: Path, log: Callable[[str], None] = print,
                       methods: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Run every method on identical folds; returns metrics, OOF scores and explanation samples."""
    df = load_labelled(cfg, data_dir)
    y = df["label"].to_numpy()
    ent = df["serial_number"].to_numpy()
    log(f"backblaze: {len(df):,} drive-days, {df['serial_number'].nunique():,} drives, "
        f"{int(df['failure'].sum())} failures, {int(y.sum())} positive drive-days (H={cfg.labels.horizon_days:g}d)")
    folds = list(grouped_folds(ent, y, cfg.cv.n_splits, cfg.cv.seed))
    fold_of = np.empty(len(df), dtype=np.int16)
    for k, (_, te) in enumerate(folds):
        fold_of[te] = k
    X = smart_history_features(df, feature_spec(cfg))
    R = raw_diff_features(df, PLAIN_IDS)
    train_mask = ~df["censored"].to_numpy() if cfg.labels.drop_censored_in_training else np.ones(len(df), bool)
    fpr = cfg.cv.fpr
    s5 = df["smart_5_raw"].fillna(0).to_numpy(dtype=np.float64)
    s197 = df["smart_197_raw"].fillna(0).to_numpy(dtype=np.float64)

    runs: dict[str, tuple[str, Callable, dict]] = {
        "rule_smart5_or_197": ("rule: raw SMART 5 or 197 > 0", lambda tr, te: ((s5[te] > 0) | (s197[te] > 0)).astype(float), {}),
        "ranked_smart5_plus_197": ("ranked: SMART 5 + 197 raw", lambda tr, te: s5[te] + s197[te], {}),
    }
    models_kept: dict[str, dict[str, FailureModel]] = {}
    for key, mc in cfg.comparisons.items():
        frame = R if mc.features == "raw" else X
        keep: dict[str, FailureModel] = {}
        models_kept[key] = keep
        runs[key] = (_describe(key, mc), _model_scorer(mc, frame, y, train_mask, keep), {})
    keep_primary: dict[str, FailureModel] = {}
    models_kept["xgboost_history"] = keep_primary
    runs["xgboost_history"] = ("ours: XGBoost on SMART history features", _model_scorer(cfg.primary, X, y, train_mask, keep_primary), {})

    results: dict[str, CVResult] = {}
    for key, (desc, scorer, _) in runs.items():
        if methods and key not in methods:
            continue
        log(f"{key}: {desc}")
        res = cross_validate(key, scorer, folds, y, ent, fpr, log)
        res.extra["description"] = desc
        if key == "rule_smart5_or_197":
            op = operating_point(res.oof, y, 0.5)
            res.extra["own_operating_point"] = asdict(op)
        results[key] = res
        log(f"  {key}: mean recall@{fpr:.0%}FPR={res.mean_recall:.3f}  mean PR-AUC={res.mean_pr_auc:.3f}")

    out: dict[str, Any] = {"frame": df[["serial_number", "date", "label", "failure"]].assign(fold=fold_of),
                           "results": results, "features": list(X.columns), "plain_features": list(R.columns)}
    primary = keep_primary.get("last")
    if primary is not None:
        te = folds[-1][1]
        out["explanations"] = _explain_samples(primary, X.iloc[te], df.iloc[te], results["xgboost_history"].oof[te])
        if hasattr(primary, "feature_importance"):
            out["importance"] = dict(list(primary.feature_importance().items())[:15])
    if cfg.survival.enabled and (not methods or "survival" in methods):
        out["survival"] = _survival_cv(cfg, X, df, folds, log)
    return out


def _describe(key: str, mc: ModelConfig) -> str:
    if mc.description:
        return mc.description
    if mc.features == "raw":
        return f"{mc.kind} on raw SMART 1/5/9/194/197 + 1/3/7-day diffs"
    return f"{mc.kind} on SMART history features"


def _explain_samples(model: FailureModel, X: pd.DataFrame, rows: pd.DataFrame, scores: np.ndarray,
                     n: int = 5) -> list[dict[str, Any]]:
    """Top factors for the highest-scored drives of one test fold (true and false alarms alike)."""
    ranked = np.argsort(-scores)
    # One drive-day per drive: a failing drive's consecutive days would otherwise fill the list.
    _, first = np.unique(rows["serial_number"].to_numpy()[ranked], return_index=True)
    order = ranked[np.sort(first)[:n]]
    facts = model.explain(X.iloc[order], top_k=4)
    out = []
    for i, f in zip(order, facts):
        r = rows.iloc[i]
        out.append({"serial_number": r["serial_number"], "date": str(r["date"].date()), "model": r["model"],
                    "label": int(r["label"]), "score": float(scores[i]),
                    "factors": [{"feature": x.feature, "value": x.value, "contribution": round(x.contribution, 4)} for x in f]})
    return out


def _survival_cv(cfg: FailureConfig, X: pd.DataFrame, df: pd.DataFrame,
                 folds: list[tuple[np.ndarray, np.ndarray]], log: Callable[[str], None]) -> dict[str, Any]:
    """Time-to-failure on test drive-days of failed drives within 30 days of failure, per fold."""
    lower, upper = survival_bounds(df["tte"].to_numpy(), df["follow_up"].to_numpy())
    per = []
    for k, (tr, te) in enumerate(folds):
        m = SurvivalModel(**cfg.survival.params).fit(X.iloc[tr], lower[tr], upper[tr])
        sel = te[np.isfinite(upper[te]) & (lower[te] <= 30)]
        cov = interval_coverage(m.predict(X.iloc[sel]), lower[sel], upper[sel])
        h = cfg.labels.horizon_days
        near = sel[lower[sel] <= h]
        cov_h = interval_coverage(m.predict(X.iloc[near]), lower[near], upper[near]) if len(near) else {}
        per.append({"fold": k, **cov, "within_horizon": cov_h})
        log(f"  survival fold {k}: interval coverage={cov['coverage']:.2f} median |error|={cov['median_abs_error']:.1f} days "
            f"over {cov['n_events']} failed-drive days")
    return {"folds": per, "mean_coverage": float(np.nanmean([p["coverage"] for p in per])),
            "mean_median_abs_error_days": float(np.nanmean([p["median_abs_error"] for p in per])),
            "interval": m.params.interval, "distribution": m.params.distribution}

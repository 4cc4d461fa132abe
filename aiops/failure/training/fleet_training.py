"""Leak-free training and evaluation of fleet failure models on simulator rows.

Split: hosts are dealt into ``n_folds`` groups (a VM goes with its host). For fold k the model
trains on the *other* hosts' rows before ``cutoff - H`` (so no training label looks past the
cutoff) and is tested on fold k's hosts from the cutoff on: a later period on machines it never
saw. Pooling the folds tests every host once, which gives enough failures per kind to say
something. The alert threshold is chosen on out-of-fold predictions *inside the training
slice* (inner host-grouped CV), never on test rows.

Class imbalance: the XGBoost model subsamples negatives and maps probabilities back to the
population base rate (see ``aiops.failure.models``); the logistic baseline uses balanced class
weights. Thresholds are picked on episodes, so calibration only matters for readability.
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from aiops.failure.models import XGBoostFailureModel
from aiops.failure.training.episodes import EpisodeScore, evaluate
from aiops.failure.training.fleet_dataset import HARDWARE_KINDS, FleetDataset


class Scorer(Protocol):
    def fit(self, X: pd.DataFrame, y: np.ndarray) -> Any: ...
    def predict_proba(self, X: pd.DataFrame) -> np.ndarray: ...


# Features whose rise never lowers the risk of failure (errors, latency, heat, pressure, their slopes).
# Load (CPU) and the sample count can point either way, so they stay unconstrained.
# The 6 h error counts are unconstrained too: at the same 1 h count, more errors over 6 h mean a chronic
# or stopping source (a DIMM that always logs, a burst that ended), not an escalating one.
NOT_MONOTONE = frozenset({"cpu_utilization_mean_5m", "samples_count_5m", "throughput_mean_5m",
                          "cpu_utilization_p95_15m", "cpu_utilization_stddev_15m", "memory_pressure_min_5m",
                          "ecc_errors_count_6h", "disk_read_errors_count_6h", "io_errors_count_6h",
                          "cpu_utilization_mean_5m_vs_baseline"})


def monotone_constraints(features: Sequence[str]) -> str:
    """XGBoost constraint string for ``model_matrix`` columns (features, then target_type)."""
    return "(" + ",".join("0" if f in NOT_MONOTONE else "1" for f in features) + ",0)"


def xgboost_scorer(seed: int = 0, features: Sequence[str] | None = None) -> XGBoostFailureModel:
    """The primary model: shallow trees, monotone in the symptom features.

    A few dozen training failures per kind are too few for unconstrained trees: they memorise
    the exact levels seen and then miss a hotter or noisier instance. The monotone prior
    ("more errors is never safer") lets them extrapolate the way an operator would.
    A small ``min_child_weight`` lets a leaf hold the few rows of a short precursor (a thermal
    runaway gives ~9 rows of warning per failure), and sampling half the negatives keeps the
    prior correction mild. One thread: on shared cores two threads mostly wait on each other.
    """
    extra = {"monotone_constraints": monotone_constraints(features)} if features else {}
    return XGBoostFailureModel(n_rounds=300, eta=0.1, max_depth=3, min_child_weight=1.0,
                               neg_sample_rate=0.5, nthread=1, seed=seed, extra=extra)


class LogisticScorer:
    """Linear baseline: median imputation with missing flags, scaling, balanced class weights."""

    def __init__(self, seed: int = 0, features: Sequence[str] | None = None) -> None:
        self.seed = seed
        self.pipe: Any = None
        self.columns: list[str] = []

    def _matrix(self, X: pd.DataFrame) -> pd.DataFrame:
        M = X.copy()
        if "target_type" in M:
            M["is_vm"] = (M.pop("target_type") == "vm").astype(np.float32)
        return M.reindex(columns=self.columns) if self.columns else M

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> "LogisticScorer":
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        M = self._matrix(X)
        self.columns = list(M.columns)
        y = np.asarray(y).astype(int)
        # keep every positive and a quarter of the negatives: 4x cheaper, balanced weights undo the shift
        keep = (y > 0) | (np.random.default_rng(self.seed).random(len(y)) < 0.25)
        M, y = M[keep], y[keep]
        self.pipe = make_pipeline(SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                                  StandardScaler(),
                                  LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000, random_state=self.seed))
        self.pipe.fit(M.to_numpy(np.float64), y)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.pipe.predict_proba(self._matrix(X).to_numpy(np.float64))[:, 1]


class RobustZScorer:
    """Label-free rule baseline: the largest robust z-score over features, per target type.

    Medians and MADs come from the training rows (labels unused), so it is what an operator's
    "alert when any metric is k MADs above normal" rule would do; k is the threshold.
    """

    def __init__(self, seed: int = 0, features: Sequence[str] | None = None) -> None:
        self.stats: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.columns: list[str] = []

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> "RobustZScorer":
        self.columns = [c for c in X.columns if c != "target_type"]
        for tt, g in X.groupby("target_type"):
            v = g[self.columns].to_numpy(np.float64)
            with warnings.catch_warnings():  # host-only features are all-NaN for VMs
                warnings.simplefilter("ignore", RuntimeWarning)
                med = np.nanmedian(v, axis=0)
                mad = np.nanmedian(np.abs(v - med), axis=0) * 1.4826
                # error counters are 0 almost always (MAD 0): scale them by their mean instead
                scale = np.where(mad > 0, mad, np.nanmean(np.abs(v - med), axis=0))
            self.stats[str(tt)] = (np.nan_to_num(med), np.where(np.nan_to_num(scale) > 0, np.nan_to_num(scale), 1.0))
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        out = np.zeros(len(X))
        tt = X["target_type"].to_numpy()
        v = X[self.columns].to_numpy(np.float64)
        for t, (med, scale) in self.stats.items():
            m = tt == t
            z = (v[m] - med) / scale
            out[m] = np.nanmax(np.where(np.isnan(z), -np.inf, z), axis=1)
        return out


# name -> factory(seed, feature names)
SCORERS: dict[str, Callable[[int, Sequence[str]], Scorer]] = {
    "xgboost": xgboost_scorer, "logistic": LogisticScorer, "robust_z_rule": RobustZScorer}


def model_matrix(frame: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """Model inputs: the store features plus the target type (hosts and VMs differ)."""
    X = frame[list(features)].copy()
    X["target_type"] = frame["target_type"].astype(str).to_numpy()
    return X


def host_folds(hosts: Sequence[str], n_folds: int, seed: int = 0) -> dict[str, int]:
    """Deal hosts into ``n_folds`` groups of near-equal size at random (seeded)."""
    uniq = sorted(set(hosts))
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(uniq))
    return {uniq[i]: int(k % n_folds) for k, i in enumerate(perm)}


@dataclass
class EvalContext:
    """What episode scoring needs besides the probabilities."""

    scenarios: pd.DataFrame
    horizon_s: float
    step_s: float
    cooldown_s: float
    target_level: dict[str, str]
    resume_grace_s: float = 1800.0
    min_lead_s: float = 0.0  # a failure is caught only by an alert at least this long before it

    def score(self, frame: pd.DataFrame, probs: np.ndarray, threshold: float, hosts: set[str],
              period: tuple[float, float]) -> EpisodeScore:
        """Episodes of ``frame`` rows; recall over scenarios of ``hosts`` whose precursor and failure lie in ``period``."""
        lo, hi = period
        sc = self.scenarios
        rec = sc[sc["host_id"].isin(hosts) & (sc["onset_ts"] >= lo) & (sc["failure_ts"] < hi)]
        return evaluate(frame["ts"].to_numpy(), frame["target_id"].to_numpy(), probs, threshold,
                        recall_scenarios=rec, all_failures=sc[sc["host_id"].isin(hosts)], horizon_s=self.horizon_s,
                        step_s=self.step_s, target_level=self.target_level, cooldown_s=self.cooldown_s,
                        resume_grace_s=self.resume_grace_s, episode_window=(lo, hi), min_lead_s=self.min_lead_s)


def candidate_thresholds(scores: np.ndarray, labels: np.ndarray, n: int = 48) -> np.ndarray:
    """Thresholds spanning the positives' score range, denser where negatives thin out."""
    s = np.asarray(scores, dtype=np.float64)
    pos = s[np.asarray(labels) > 0]
    qs = np.quantile(pos, np.linspace(0.0, 0.95, n // 2)) if pos.size else np.empty(0)
    neg = s[np.asarray(labels) == 0]
    qn = np.quantile(neg, 1 - np.logspace(-1, -5, n // 2)) if neg.size else np.empty(0)
    c = np.unique(np.concatenate([qs, qn]))
    return c[np.isfinite(c)]


@dataclass
class ThresholdChoice:
    threshold: float
    recall: float
    precision: float
    median_lead_min: float
    met_precision: bool
    curve: list[dict] = field(default_factory=list)


def choose_threshold(frame: pd.DataFrame, scores: np.ndarray, ctx: EvalContext, hosts: set[str],
                     period: tuple[float, float], min_precision: float) -> ThresholdChoice:
    """Highest episode recall with episode precision >= ``min_precision`` (else best F1), on given rows.

    Ties go to the higher threshold (fewer alerts for the same detections).
    """
    curve = []
    for thr in candidate_thresholds(scores, frame["label"].to_numpy()):
        res = ctx.score(frame, scores, float(thr), hosts, period)
        det, ep = res.scenarios["detected"].to_numpy(), res.episodes["true_alert"].to_numpy()
        r = float(det.mean()) if det.size else 0.0
        p = float(ep.mean()) if ep.size else 0.0
        lead = res.scenarios["lead_s"].to_numpy()[det]
        curve.append({"threshold": float(thr), "recall": r, "precision": p,
                      "median_lead_min": float(np.median(lead) / 60) if lead.size else float("nan"),
                      "f1": 2 * p * r / (p + r) if p + r else 0.0})
    if not curve:  # no positive rows to place a threshold on (a tiny fleet): an uninformed 0.5, marked as missed
        return ThresholdChoice(0.5, 0.0, float("nan"), float("nan"), False, [])
    ok = [c for c in curve if c["precision"] >= min_precision]
    if ok:
        best = max(ok, key=lambda c: (c["recall"], c["threshold"]))
    else:
        best = max(curve, key=lambda c: (c["f1"], c["threshold"]))
    return ThresholdChoice(best["threshold"], best["recall"], best["precision"], best["median_lead_min"],
                           bool(ok), curve)


def inner_oof(frame: pd.DataFrame, features: Sequence[str], make: Callable[[int, Sequence[str]], Scorer], n_inner: int,
              seed: int) -> np.ndarray:
    """Out-of-fold scores over ``frame`` with hosts grouped into ``n_inner`` folds."""
    folds = host_folds(frame["host_id"].tolist(), n_inner, seed + 101)
    fid = frame["host_id"].map(folds).to_numpy()
    oof = np.full(len(frame), np.nan)
    X = model_matrix(frame, features)
    y = frame["label"].to_numpy()
    for k in range(n_inner):
        tr, te = fid != k, fid == k
        if not te.any() or y[tr].sum() == 0:
            continue
        oof[te] = make(seed + k, features).fit(X[tr], y[tr]).predict_proba(X[te])
    return oof


def inner_time_split(frame: pd.DataFrame, features: Sequence[str], make: Callable[[int, Sequence[str]], Scorer],
                     n_inner: int, seed: int, split_ts: float, horizon_s: float) -> np.ndarray:
    """Validation scores the way the outer test is made: per host group, a model fitted on the other hosts'
    rows before ``split_ts - H`` scores this group's rows from ``split_ts`` on (NaN elsewhere).

    Choosing the threshold on a later period of unseen hosts sees the drift and the look-alikes a
    deployed model meets; out-of-fold scores over the whole period let a model score rows of the same
    days it learned from.
    """
    folds = host_folds(frame["host_id"].tolist(), n_inner, seed + 101)
    fid = frame["host_id"].map(folds).to_numpy()
    ts = frame["ts"].to_numpy()
    out = np.full(len(frame), np.nan)
    X = model_matrix(frame, features)
    y = frame["label"].to_numpy()
    for k in range(n_inner):
        tr, te = (fid != k) & (ts < split_ts - horizon_s), (fid == k) & (ts >= split_ts)
        if not te.any() or y[tr].sum() == 0:
            continue
        out[te] = make(seed + k, features).fit(X[tr], y[tr]).predict_proba(X[te])
    return out


@dataclass
class FoldOutcome:
    fold: int
    test_hosts: list[str]
    threshold: ThresholdChoice
    train_rows: int
    train_positive_rows: int
    test_rows: int
    fit_s: float


@dataclass
class MethodResult:
    name: str
    folds: list[FoldOutcome]
    test_score: EpisodeScore
    test_frame: pd.DataFrame  # test rows with their score (ts, target_id, label, kind, score)
    models: list[Any]

    def summary(self) -> dict[str, dict]:
        kinds = [*HARDWARE_KINDS, "memory_leak_oom"]
        return self.test_score.summary(kinds, HARDWARE_KINDS)


@dataclass
class FleetSplit:
    cutoff_ts: float
    start_ts: float
    end_ts: float
    folds: dict[str, int]

    def train_mask(self, frame: pd.DataFrame, k: int, horizon_s: float) -> np.ndarray:
        fid = frame["host_id"].map(self.folds).to_numpy()
        return (fid != k) & (frame["ts"].to_numpy() < self.cutoff_ts - horizon_s)

    def test_mask(self, frame: pd.DataFrame, k: int) -> np.ndarray:
        fid = frame["host_id"].map(self.folds).to_numpy()
        return (fid == k) & (frame["ts"].to_numpy() >= self.cutoff_ts)


def make_split(ds: FleetDataset, n_folds: int, cutoff_frac: float, seed: int) -> FleetSplit:
    cutoff = ds.start_ts + cutoff_frac * (ds.end_ts - ds.start_ts)
    return FleetSplit(cutoff, ds.start_ts, ds.end_ts, host_folds(ds.frame["host_id"].tolist(), n_folds, seed))


def evaluate_method(ds: FleetDataset, split: FleetSplit, name: str, *, min_precision: float = 0.9,
                    cooldown_s: float = 1800.0, resume_grace_s: float = 1800.0, n_inner: int = 3, seed: int = 0,
                    log: Callable[[str], None] | None = None,
                    make: Callable[[int, Sequence[str]], Scorer] | None = None,
                    threshold_split: str = "oof", min_lead_s: float = 0.0) -> MethodResult:
    """Train per outer fold, pick the threshold on validation episodes, score the held-out hosts' later period.

    ``make`` overrides the named scorer factory (e.g. a model with tuned hyperparameters).
    ``threshold_split``: "oof" (default) on host-grouped out-of-fold scores over the training period;
    "time" on its later half, other hosts (time-ordered: :func:`inner_time_split`). On ten seeds "time"
    passed acceptance on 0 against 2 (half the rows per validation model, half the episodes to choose on).
    """
    make = make or SCORERS[name]
    H = ds.config.horizon_s
    frame = ds.frame
    ctx = EvalContext(ds.scenarios, H, ds.config.step_s, cooldown_s,
                      dict(zip(frame["target_id"], frame["target_type"])), resume_grace_s, min_lead_s)
    feats = ds.feature_names
    X_all = model_matrix(frame, feats)
    n_folds = max(split.folds.values()) + 1
    outcomes, models = [], []
    scores = np.full(len(frame), np.nan)
    for k in range(n_folds):
        t0 = time.perf_counter()
        tr = split.train_mask(frame, k, H)
        te = split.test_mask(frame, k)
        ftr = frame[tr].reset_index(drop=True)
        period = (split.start_ts + ds.config.warmup_s, split.cutoff_ts - H)
        if threshold_split == "time":
            period = (period[0] + (period[1] - period[0]) / 2, period[1])
            oof = inner_time_split(ftr, feats, make, n_inner, seed + 10 * k, period[0], H)
        else:
            oof = inner_oof(ftr, feats, make, n_inner, seed + 10 * k)
        ok = ~np.isnan(oof)
        train_hosts = {h for h, f in split.folds.items() if f != k}
        choice = choose_threshold(ftr[ok].reset_index(drop=True), oof[ok], ctx, train_hosts, period, min_precision)
        model = make(seed + k, feats).fit(X_all[tr], frame.loc[tr, "label"].to_numpy())
        scores[te] = model.predict_proba(X_all[te])
        models.append(model)
        test_hosts = sorted(h for h, f in split.folds.items() if f == k)
        outcomes.append(FoldOutcome(k, test_hosts, choice, int(tr.sum()), int(frame.loc[tr, "label"].sum()),
                                    int(te.sum()), round(time.perf_counter() - t0, 1)))
        if log:
            log(f"  {name} fold {k}: threshold {choice.threshold:.4g} (train OOF episodes: recall {choice.recall:.2f}, "
                f"precision {choice.precision:.2f}), {int(tr.sum())} train rows, {time.perf_counter() - t0:.0f}s")
    # Each fold's hosts are scored with that fold's own threshold; the pooled test is one stream of alerts.
    per_fold = []
    for k, oc in enumerate(outcomes):
        te = split.test_mask(frame, k)
        per_fold.append(ctx.score(frame[te], scores[te], oc.threshold.threshold, set(oc.test_hosts),
                                  (split.cutoff_ts, split.end_ts)))
    pooled = EpisodeScore(pd.concat([p.scenarios for p in per_fold], ignore_index=True),
                          pd.concat([p.episodes for p in per_fold], ignore_index=True))
    test_any = np.zeros(len(frame), bool)
    for k in range(n_folds):
        test_any |= split.test_mask(frame, k)
    tf = frame.loc[test_any, ["ts", "target_id", "target_type", "host_id", "label", "kind"]].copy()
    tf["score"] = scores[test_any]
    return MethodResult(name, outcomes, pooled, tf.reset_index(drop=True), models)


def fit_final(ds: FleetDataset, thresholds: Sequence[float], seed: int = 0) -> tuple[XGBoostFailureModel, float]:
    """The model to ship: XGBoost on every row; threshold = median of the per-fold training-chosen ones."""
    model = xgboost_scorer(seed, ds.feature_names).fit(model_matrix(ds.frame, ds.feature_names), ds.frame["label"].to_numpy())
    return model, float(np.median(thresholds))

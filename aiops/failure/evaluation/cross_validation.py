"""Grouped cross-validation harness shared by the eval job and the trainer.

A *scorer* is any callable ``(train_idx, test_idx) -> scores for test rows``; baselines that
need no training ignore ``train_idx``. Every method sees the same folds, and the out-of-fold
scores are kept so the report's numbers can be recomputed from the CSV alone.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from aiops.failure.evaluation.metrics import operating_point, pr_auc, threshold_at_fpr

Scorer = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class FoldResult:
    fold: int
    n_rows: int
    n_positive_rows: int
    n_failed_entities: int
    recall_at_fpr: float
    realised_fpr: float
    precision_at_fpr: float
    threshold: float
    pr_auc: float
    fit_seconds: float


@dataclass
class CVResult:
    name: str
    folds: list[FoldResult]
    oof: np.ndarray
    extra: dict = field(default_factory=dict)

    @property
    def mean_recall(self) -> float:
        return float(np.mean([f.recall_at_fpr for f in self.folds]))

    @property
    def mean_pr_auc(self) -> float:
        return float(np.mean([f.pr_auc for f in self.folds]))

    def summary(self) -> dict:
        r = np.array([f.recall_at_fpr for f in self.folds]); a = np.array([f.pr_auc for f in self.folds])
        return {"name": self.name, "mean_recall_at_fpr": float(r.mean()), "std_recall_at_fpr": float(r.std(ddof=1)) if len(r) > 1 else 0.0,
                "mean_pr_auc": float(a.mean()), "std_pr_auc": float(a.std(ddof=1)) if len(a) > 1 else 0.0,
                "folds": [f.__dict__ for f in self.folds], **self.extra}


def fold_metrics(scores: np.ndarray, labels: np.ndarray, entities: np.ndarray, fpr: float,
                 fold: int = 0, fit_seconds: float = 0.0) -> FoldResult:
    """Metrics of one fold: threshold at the (1 - fpr) quantile of this fold's negatives."""
    thr = threshold_at_fpr(scores, labels, fpr)
    op = operating_point(scores, labels, thr)
    pos = np.asarray(labels) > 0
    return FoldResult(fold=fold, n_rows=int(len(labels)), n_positive_rows=int(pos.sum()),
                      n_failed_entities=int(len(np.unique(np.asarray(entities)[pos]))),
                      recall_at_fpr=op.recall, realised_fpr=op.fpr, precision_at_fpr=op.precision,
                      threshold=thr, pr_auc=pr_auc(scores, labels), fit_seconds=round(fit_seconds, 2))


def cross_validate(name: str, scorer: Scorer, folds: Sequence[tuple[np.ndarray, np.ndarray]],
                   labels: np.ndarray, entities: np.ndarray, fpr: float = 0.01,
                   log: Callable[[str], None] | None = None) -> CVResult:
    """Run ``scorer`` on every fold; return per-fold metrics and the out-of-fold score vector."""
    labels = np.asarray(labels)
    oof = np.full(len(labels), np.nan)
    results = []
    for k, (tr, te) in enumerate(folds):
        t0 = time.perf_counter()
        s = np.asarray(scorer(tr, te), dtype=np.float64)
        oof[te] = s
        fr = fold_metrics(s, labels[te], np.asarray(entities)[te], fpr, k, time.perf_counter() - t0)
        results.append(fr)
        if log:
            log(f"  {name} fold {k}: recall@{fpr:.0%}FPR={fr.recall_at_fpr:.3f} PR-AUC={fr.pr_auc:.3f} "
                f"({fr.n_failed_entities} failed drives, {fr.fit_seconds:.0f}s)")
    return CVResult(name, results, oof)

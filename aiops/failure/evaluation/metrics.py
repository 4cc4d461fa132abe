"""Ranking metrics for rare-failure detection.

recall@FPR is defined operationally so that anyone can recompute it from the out-of-fold
CSV: within one evaluation fold, the threshold is the ``1 - fpr`` quantile (numpy "linear"
interpolation) of the *negative* drive-day scores, and a positive drive-day counts as detected
only when its score is strictly greater than that threshold. Strictness keeps the realised
false-positive rate at or below the target even when many negatives tie (rule baselines).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve


@dataclass(frozen=True)
class OperatingPoint:
    threshold: float
    recall: float
    fpr: float
    precision: float


def threshold_at_fpr(scores: np.ndarray, labels: np.ndarray, fpr: float = 0.01) -> float:
    """Score threshold at the (1 - fpr) quantile of negative scores."""
    neg = np.asarray(scores, dtype=np.float64)[np.asarray(labels) == 0]
    if len(neg) == 0:
        raise ValueError("no negatives to set a false-positive threshold")
    return float(np.quantile(neg, 1.0 - fpr))


def operating_point(scores: np.ndarray, labels: np.ndarray, threshold: float) -> OperatingPoint:
    """Recall, realised FPR and precision when flagging ``score > threshold``."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    flag = s > threshold
    tp = int((flag & y).sum()); fp = int((flag & ~y).sum())
    return OperatingPoint(threshold=float(threshold),
                          recall=tp / max(int(y.sum()), 1),
                          fpr=fp / max(int((~y).sum()), 1),
                          precision=tp / max(tp + fp, 1))


def recall_at_fpr(scores: np.ndarray, labels: np.ndarray, fpr: float = 0.01) -> float:
    """Recall with the threshold at the (1 - fpr) quantile of negatives (strict >)."""
    return operating_point(scores, labels, threshold_at_fpr(scores, labels, fpr)).recall


def pr_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the precision-recall curve as average precision (step-wise, no interpolation)."""
    y = np.asarray(labels)
    if y.sum() == 0:
        return float("nan")
    return float(average_precision_score(y, np.asarray(scores, dtype=np.float64)))


def pr_curve(scores: np.ndarray, labels: np.ndarray, max_points: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """(recall, precision) thinned to at most ``max_points`` for plotting and JSON."""
    p, r, _ = precision_recall_curve(np.asarray(labels), np.asarray(scores, dtype=np.float64))
    if len(r) > max_points:
        idx = np.unique(np.linspace(0, len(r) - 1, max_points).astype(int))
        p, r = p[idx], r[idx]
    return r, p

"""Point-wise scoring of per-entity health scores against labels (the smd-dev layout), and baselines.

Layout (OmniAnomaly's SMD): ``train/<entity>.txt`` and ``test/<entity>.txt`` (comma-separated, no
header, one row per time step), ``test_label/<entity>.txt`` (one 0/1 per test row) and
``interpretation_label/<entity>.txt`` (``start-end:m1,m2,...``, 1-based metrics blamed by an expert).

Only point-wise figures: point-adjusted F1 rewards random scores on SMD, so it is not reported.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

ENTITY_SUFFIXES = (".txt", ".csv")


def entity_files(folder: Path | str) -> dict[str, Path]:
    """`<entity>.txt` / `<entity>.csv` files in `folder`, by entity name (sorted)."""
    found = {p.stem: p for p in sorted(Path(folder).iterdir()) if p.suffix.lower() in ENTITY_SUFFIXES and p.is_file()}
    return dict(sorted(found.items()))


def read_matrix(path: Path | str) -> np.ndarray:
    """A comma-separated numeric file without header as a 2-D float array."""
    X = np.loadtxt(path, delimiter=",", dtype=float, ndmin=2)
    return X


def read_interpretation(path: Path | str) -> list[tuple[int, int, set[int]]]:
    """``start-end:dims`` lines as (start, end inclusive, {1-based metrics})."""
    out = []
    for line in Path(path).read_text().split():
        span, _, dims = line.partition(":")
        a, _, b = span.partition("-")
        out.append((int(a), int(b), {int(d) for d in dims.split(",") if d}))
    return out


def cause_hit_rate(alarm: np.ndarray, causes: np.ndarray, segments: list[tuple[int, int, set[int]]]) -> float:
    """Share of alarmed rows inside a labelled segment whose blamed metrics include one the expert named."""
    hits = total = 0
    for a, b, dims in segments:
        rows = np.flatnonzero(alarm[a : b + 1]) + a
        total += len(rows)
        hits += sum(bool(dims.intersection(causes[r].tolist())) for r in rows)
    return hits / total if total else float("nan")


def pointwise(labels: np.ndarray, score: np.ndarray, alarm: np.ndarray | None = None) -> dict[str, float]:
    """PR-AUC, ROC-AUC, oracle best F1 and, given alarms, F1/precision/recall and alarm rate."""
    y = np.asarray(labels).astype(int)
    s = np.nan_to_num(np.asarray(score, dtype=float), nan=0.0, posinf=1e300)
    p, r, _ = precision_recall_curve(y, s)
    f = 2 * p * r / np.maximum(p + r, 1e-12)
    out = {"pr_auc": float(average_precision_score(y, s)), "roc_auc": float(roc_auc_score(y, s)),
           "oracle_best_f1": float(f.max()), "anomaly_rate": float(y.mean())}
    if alarm is not None:
        al = np.asarray(alarm).astype(bool)
        tp = float((al & (y == 1)).sum())
        prec, rec = tp / max(al.sum(), 1), tp / max(y.sum(), 1)
        out.update(f1=2 * prec * rec / max(prec + rec, 1e-12), precision=prec, recall=rec, alarm_rate=float(al.mean()))
    return out


def plain_pca(train: np.ndarray, test: np.ndarray, variance: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """The floor: standardise on train, keep `variance` in PCA, squared reconstruction error per row.

    Alarm at the 99th percentile of the training rows' own error (label-free, in-sample).
    """
    from sklearn.decomposition import PCA

    mu, sd = train.mean(axis=0), train.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    Z, T = (train - mu) / sd, (test - mu) / sd
    pca = PCA(variance).fit(Z)
    err = lambda A: ((A - pca.inverse_transform(pca.transform(A))) ** 2).sum(axis=1)  # noqa: E731
    s = err(T)
    return s, s > np.quantile(err(Z), 0.99)


def isolation_forest(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The project's previous default: pyod IsolationForest through HealthScorer, its own 1 % threshold."""
    from aiops.failure.health.scorer import HealthScorer

    scorer = HealthScorer(method="iforest", contamination=0.01).fit(train)
    s = scorer.score(test)
    return s, s > float(scorer.threshold_)

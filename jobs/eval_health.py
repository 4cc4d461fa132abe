"""Score health predictions against labels, beside plain PCA and IsolationForest in the same run.

    python -m jobs.eval_health                         # smd-dev: score now, then evaluate
    python -m jobs.eval_health --data DIR --pred DIR   # evaluate files written by jobs.score_health
    python -m jobs.eval_health --ablations             # also each idea switched off, same run

``--data`` holds ``train/ test/ test_label/ [interpretation_label/]`` (the smd-dev layout). Without
``--pred`` the health score is computed here (as jobs.score_health would) into ``<out>/pred``.
Point-wise figures only: PR-AUC, ROC-AUC, F1 / alarm rate at each method's label-free threshold,
the best F1 with an oracle threshold (marked as such, not a result) and the cause hit rate (share
of alarmed anomalous rows whose top-3 causes include a metric the expert blamed). Prints a table
per entity and the mean; writes ``<out>/eval_health.json``.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Callable

import numpy as np

from aiops.failure.evaluation.health_eval import (
    cause_hit_rate,
    entity_files,
    isolation_forest,
    plain_pca,
    pointwise,
    read_interpretation,
    read_matrix,
)
from aiops.failure.health.config import HealthConfig
from jobs.results import write_json
from jobs.score_health import score_entity, write_scores

Baseline = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
BASELINES: dict[str, Baseline] = {"pca_plain": plain_pca, "iforest_project": isolation_forest}
# each idea of the health score switched off on its own (measured beside the full score)
ABLATIONS: dict[str, dict] = {
    "no_smoothing": {"smoothing": 1.0},
    "no_t2": {"t2_weight": 0.0},
    "no_scale_floor": {"scale_floor": 0.0},
    "no_residual_norm": {"residual_norm": False},
    "no_ar_residual": {"ar_weight": 0.0},
    "no_drift": {"drift_window": 10**9},
}
COLUMNS = ("pr_auc", "roc_auc", "f1", "alarm_rate", "anomaly_rate", "oracle_best_f1", "cause_hit", "score_cpu_s")


def read_pred(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """score, alarm and causes columns of a jobs.score_health file."""
    A = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return A[:, 0], A[:, 1].astype(bool), A[:, 2:].astype(int)


def evaluate_entity(data: Path, name: str, pred: Path, ablations: bool, config: HealthConfig) -> dict[str, dict]:
    """Every method's figures on one entity."""
    train, test = read_matrix(entity_files(data / "train")[name]), read_matrix(entity_files(data / "test")[name])
    y = np.loadtxt(entity_files(data / "test_label")[name], ndmin=1)
    interp = entity_files(data / "interpretation_label") if (data / "interpretation_label").is_dir() else {}
    segments = read_interpretation(interp[name]) if name in interp else []
    score, alarm, causes = read_pred(pred / f"{name}.csv")
    if len(score) != len(y):
        raise ValueError(f"{name}: {len(score)} predictions for {len(y)} labels")
    out = {"health": {**pointwise(y, score, alarm), "cause_hit": cause_hit_rate(alarm, causes, segments)}}
    for key, update in (ABLATIONS.items() if ablations else ()):
        rows, info = score_entity(train, test, config.model_copy(update=update))
        out[key] = {**pointwise(y, rows[:, 0], rows[:, 1].astype(bool)),
                    "cause_hit": cause_hit_rate(rows[:, 1].astype(bool), rows[:, 2:].astype(int), segments),
                    "score_cpu_s": info["score_cpu_s"]}
    for key, fn in BASELINES.items():
        t = time.process_time()
        s, al = fn(train, test)
        out[key] = {**pointwise(y, s, al), "fit_and_score_cpu_s": time.process_time() - t}
    return out


def _print(name: str, res: dict[str, dict]) -> None:
    print(f"\n{name}")
    print(f"  {'method':18s} " + " ".join(f"{c:>14s}" for c in COLUMNS))
    for method, r in res.items():
        cells = [f"{r[c]:14.3f}" if c in r and r[c] == r[c] else f"{'-':>14s}" for c in COLUMNS]
        print(f"  {method:18s} " + " ".join(cells))


def main(argv: list[str] | None = None) -> dict:
    from aiops.settings import PROJECT_ROOT, Settings

    settings = Settings()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=settings.data_dir / "smd-dev")
    ap.add_argument("--pred", type=Path, default=None, help="jobs.score_health output; default: score now")
    ap.add_argument("--out", type=Path, default=PROJECT_ROOT / "results")
    ap.add_argument("--ablations", action="store_true", help="also score each idea switched off")
    args = ap.parse_args(argv)
    config = settings.failure.health
    timing: dict[str, dict] = {}
    pred = args.pred
    if pred is None:
        from jobs.score_health import main as score_main

        pred = args.out / "health_pred"
        timing = score_main(["--train", str(args.data / "train"), "--test", str(args.data / "test"), "--out", str(pred)])
    results: dict[str, dict] = {}
    for name in entity_files(args.data / "test_label"):
        results[name] = evaluate_entity(args.data, name, pred, args.ablations, config)
        if name in timing:
            results[name]["health"]["score_cpu_s"] = timing[name]["score_cpu_s"]
        _print(name, results[name])
    methods = next(iter(results.values())).keys() if results else []
    mean = {m: {c: float(np.nanmean([results[e][m].get(c, np.nan) for e in results])) for c in COLUMNS} for m in methods}
    _print("mean over entities (oracle_best_f1 uses the labels: a ceiling, not a result)", mean)
    report = {"data": str(args.data), "pred": str(pred), "config": config.model_dump(), "entities": results, "mean": mean}
    print(f"\nwrote {write_json(args.out / 'eval_health.json', report)}")
    return report


if __name__ == "__main__":
    main()

"""Score every entity's test rows with the multivariate health score fitted on its train rows.

    python -m jobs.score_health --train DIR --test DIR --out DIR

Reads per-entity files (comma-separated, no header, one row per time step, ``<entity>.txt`` or
``.csv``; the smd-dev layout), fits on train only, and writes ``<out>/<entity>.csv`` with header
``score,alarm,cause1,cause2,cause3`` (alarm 0/1 at the label-free threshold; causes are 1-based
metric numbers). Never reads labels. Prints one line per entity and writes ``<out>/summary.json``.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from aiops.failure.evaluation.health_eval import entity_files, read_matrix
from aiops.failure.health.config import HealthConfig
from aiops.failure.health.multivariate import fit_health
from jobs.results import write_json


def score_entity(train: np.ndarray, test: np.ndarray, config: HealthConfig) -> tuple[np.ndarray, dict]:
    """Fit on `train`, score `test`; the output rows and timings (fit and scoring CPU seconds)."""
    if train.shape[1] != test.shape[1]:
        raise ValueError(f"train has {train.shape[1]} metrics, test {test.shape[1]}")
    t0 = time.process_time()
    model = fit_health(train, config)
    t1 = time.process_time()
    res, _ = model.score(test)
    t2 = time.process_time()
    rows = np.column_stack([res.score, res.alarm.astype(int), res.causes])
    info = {"rows": len(test), "metrics": int(test.shape[1]), "alarm_rate": float(res.alarm.mean()),
            "threshold": model.threshold, "rebaselined_at": res.rebaselined_at,
            "fit_cpu_s": t1 - t0, "score_cpu_s": t2 - t1}
    return rows, info


def write_scores(path: Path, rows: np.ndarray, top: int) -> None:
    """One CSV line per test row: score, alarm, then `top` causes."""
    header = ",".join(["score", "alarm", *(f"cause{i + 1}" for i in range(top))])
    fmt = ["%.6g", "%d", *["%d"] * top]
    np.savetxt(path, rows, delimiter=",", header=header, comments="", fmt=fmt)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", required=True, type=Path)
    ap.add_argument("--test", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args(argv)
    from aiops.settings import Settings

    config = Settings().failure.health
    train, test = entity_files(args.train), entity_files(args.test)
    missing = sorted(set(test) - set(train))
    if missing:
        raise SystemExit(f"no training file for {', '.join(missing)} in {args.train}")
    args.out.mkdir(parents=True, exist_ok=True)
    summary = {}
    print(f"{'entity':24s} {'rows':>7s} {'alarm %':>8s} {'rebase':>6s} {'fit s':>6s} {'score s':>7s}")
    for name, path in test.items():
        rows, info = score_entity(read_matrix(train[name]), read_matrix(path), config)
        write_scores(args.out / f"{name}.csv", rows, config.top_causes)
        summary[name] = info
        print(f"{name:24s} {info['rows']:7d} {100 * info['alarm_rate']:8.2f} {len(info['rebaselined_at']):6d} "
              f"{info['fit_cpu_s']:6.2f} {info['score_cpu_s']:7.2f}")
    write_json(args.out / "summary.json", {"config": config.model_dump(), "entities": summary})
    return summary


if __name__ == "__main__":
    main()

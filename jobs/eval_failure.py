"""Failure-prediction evaluation: ``python -m jobs.eval_failure [--only backblaze]``.

Writes results/eval_failure.json (merged per part, so parts can be run separately),
results/eval_failure.md, results/eval_failure_backblaze_pr.png and
results/eval_failure_backblaze_oof.csv (out-of-fold score of every drive-day).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from aiops.failure.evaluation.backblaze import evaluate_backblaze
from aiops.failure.config import load_failure_config
from aiops.failure.evaluation.report import markdown_report, plot_pr, write_oof_csv
from aiops.settings import PROJECT_ROOT, Settings

PROTOCOL_TEXT = (
    "a drive-day is positive when the drive's failure=1 record is 0..H-1 days ahead (failure day included); "
    "folds group drive-days by serial_number (StratifiedGroupKFold on 'drive ever fails', seed 0); features use only "
    "the drive's own past and present records, never the date; recall@1%FPR per fold = share of positive drive-days "
    "scoring strictly above the 99th percentile (numpy linear) of that fold's negative drive-day scores; reported "
    "figures are means over the folds.")


def _log(msg: str) -> None:
    print(msg, flush=True)


def run_backblaze(args: argparse.Namespace, out_dir: Path) -> dict[str, Any]:
    cfg = load_failure_config(args.config) if args.config else Settings().failure.evaluation
    t0 = time.perf_counter()
    methods = tuple(args.methods.split(",")) if args.methods else None
    res = evaluate_backblaze(cfg, Settings().data_dir, _log, methods)
    frame, results = res["frame"], res["results"]
    primary = "xgboost_history"
    csv_path = write_oof_csv(out_dir / "eval_failure_backblaze_oof.csv", frame, results, primary)
    title = f"Backblaze, H={cfg.labels.horizon_days:g} days, drive-grouped {cfg.cv.n_splits}-fold CV"
    png_path = plot_pr(out_dir / "eval_failure_backblaze_pr.png", results, frame["label"].to_numpy(), cfg.cv.fpr, title)
    summary = {
        "data": {"drive_days": int(len(frame)), "drives": int(frame["serial_number"].nunique()),
                 "failures": int(frame["failure"].sum()), "positive_drive_days": int(frame["label"].sum()),
                 "folder": str(cfg.backblaze.folder or Settings().data_dir / "backblaze-2013")},
        "protocol": {"horizon_days": cfg.labels.horizon_days, "n_splits": cfg.cv.n_splits, "seed": cfg.cv.seed,
                     "fpr": cfg.cv.fpr, "text": PROTOCOL_TEXT},
        "methods": {k: r.summary() for k, r in results.items()},
        "primary": primary,
        "target": {"mean_recall_at_1pct_fpr": 0.55,
                   "met": bool(primary in results and results[primary].mean_recall >= 0.55)},
        "features": res["features"],
        "importance": res.get("importance", {}),
        "explanations": res.get("explanations", []),
        "artefacts": {"oof_csv": csv_path.name, "pr_png": png_path.name},
        "seconds": round(time.perf_counter() - t0, 1),
    }
    if "survival" in res:
        summary["survival"] = res["survival"]
    return summary


PARTS = {"backblaze": run_backblaze}


def _table(summary: dict[str, Any]) -> str:
    b = summary["backblaze"]
    rows = [f"{'method':<26} {'R@1%FPR mean':>12} {'per fold':>36} {'PR-AUC':>7}"]
    for k, m in b["methods"].items():
        per = " ".join(f"{f['recall_at_fpr']:.3f}" for f in m["folds"])
        rows.append(f"{k:<26} {m['mean_recall_at_fpr']:>12.3f} {per:>36} {m['mean_pr_auc']:>7.3f}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--only", choices=sorted(PARTS), action="append", help="run only these parts (repeatable)")
    ap.add_argument("--config", default=None, help="failure config YAML (default configs/failure.yaml)")
    ap.add_argument("--out", default=str(PROJECT_ROOT / "results"))
    ap.add_argument("--methods", default=None, help="comma list of method keys to run (default all)")
    args = ap.parse_args(argv)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "eval_failure.json"
    summary: dict[str, Any] = json.loads(json_path.read_text()) if json_path.exists() else {}
    for part in args.only or sorted(PARTS):
        summary[part] = PARTS[part](args, out_dir)
    summary["command"] = "python -m jobs.eval_failure " + " ".join(argv if argv is not None else sys.argv[1:])
    json_path.write_text(json.dumps(summary, indent=2, default=str))
    if "backblaze" in summary:
        md = markdown_report(summary, "eval_failure_backblaze_pr.png", "eval_failure_backblaze_oof.csv", summary["command"])
        (out_dir / "eval_failure.md").write_text(md)
        print(_table(summary))
    print(f"wrote {json_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

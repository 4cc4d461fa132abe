"""Benchmark: LSTM and Transformer failure models on Backblaze drive-day windows, then INT8 / pruning.

    python -m jobs.bench_model_optimisation [--threads 1] [--neg-rate 0.1] [--epochs 25] [--models lstm,transformer]

One run, one drive-grouped holdout (20 % of drives, stratified by "drive fails"), 7-day horizon:
- baselines on the same test drive-days: the rule "raw SMART 5 or 197 > 0" and the plain XGBoost
  (raw SMART 1/5/9/194/197 and their 1/3/7-day differences) from aiops.failure.models;
- LSTM and Transformer over the last ``--window`` days of raw SMART 1/5/9/194/197 and their 1-day
  differences, trained on every positive training drive-day plus a ``--neg-rate`` sample of the
  negatives (prior-corrected back to the population), with an entity-grouped validation split for
  early stopping;
- each torch model's INT8 / 30 %-pruned / pruned+INT8 variants scored on the *same* test windows,
  kept only if PR-AUC and accuracy drop by at most 1 point, with checkpoint size and per-batch CPU
  latency (batch 256, timed round-robin) before and after;
- an integrated-gradients completeness check on the highest-scored test windows.

Writes results/bench_model_optimisation.json and prints a table. Every test drive-day is scored
(no subsampling of the evaluation set); only training negatives are subsampled.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from aiops.failure.training.backblaze import default_root, load_drive_stats
from aiops.failure.training.features import FeatureSpec, raw_diff_features, smart_history_features
from aiops.failure.training.labels import LabelSpec, horizon_labels
from aiops.failure.models import XGBoostFailureModel
from aiops.failure.models.optimise import holdout_metrics, optimise
from aiops.failure.training.sequence_data import grouped_split, index_frame, sample_rows, windows_from_index
from aiops.failure.models.sequence import LSTMFailureModel, SequenceParams, TransformerFailureModel
from aiops.settings import Settings

SMART_IDS = (1, 5, 9, 194, 197)


def _log(msg: str, t0: float) -> None:
    print(f"[{time.perf_counter() - t0:6.1f}s] {msg}", flush=True)


def load(data_dir: Path, horizon: float, features: str = "raw") -> tuple[pd.DataFrame, list[str]]:
    """Labelled drive-days plus the per-day sequence features.

    ``raw``: raw SMART 1/5/9/194/197 and their 1-day differences (the model learns trends itself);
    ``history``: the numeric columns of the tree models' backward-looking SMART history features.
    """
    df = load_drive_stats(default_root(data_dir), SMART_IDS)
    df = horizon_labels(df, LabelSpec(horizon=horizon))
    if features == "history":
        h = smart_history_features(df, FeatureSpec())
        seq = h[[c for c in h.columns if pd.api.types.is_numeric_dtype(h[c])]]
    else:
        seq = raw_diff_features(df, SMART_IDS, diff_days=(1,))
    for c in seq.columns:
        df[f"seq_{c}"] = seq[c].astype(np.float32)
    return df, [f"seq_{c}" for c in seq.columns]


def baselines(df: pd.DataFrame, y: np.ndarray, train_ok: np.ndarray, te_rows: np.ndarray, threads: int) -> dict[str, Any]:
    """The SMART 5/197 rule and plain XGBoost on raw SMART diffs, scored on the same test drive-days."""
    y_te = y[te_rows]
    s5 = df["smart_5_raw"].fillna(0).to_numpy()
    s197 = df["smart_197_raw"].fillna(0).to_numpy()
    rule = ((s5[te_rows] > 0) | (s197[te_rows] > 0)).astype(float)
    out = {"rule_smart5_or_197": {**holdout_metrics(rule, y_te), "train_s": 0.0}}
    raw = raw_diff_features(df, SMART_IDS, diff_days=(1, 3, 7))
    t = time.perf_counter()
    xgb = XGBoostFailureModel(nthread=threads).fit(raw.iloc[train_ok], y[train_ok])
    out["xgboost_plain_raw_diffs"] = {**holdout_metrics(xgb.predict_proba(raw.iloc[te_rows]), y_te),
                                      "train_s": round(time.perf_counter() - t, 1)}
    return out


def sequence_models(args: argparse.Namespace) -> dict[str, Any]:
    """The LSTM and Transformer the command line asks for, untrained."""
    common = dict(window=args.window, hidden=args.hidden, epochs=args.epochs, batch_size=256, lr=args.lr,
                  neg_sample_rate=args.neg_rate, patience=args.patience, max_seconds=args.max_train_seconds,
                  threads=args.threads, seed=args.seed, entity="serial_number", time="date", device=args.device)
    models = {"lstm": LSTMFailureModel(SequenceParams(**common, layers=1)),
              "transformer": TransformerFailureModel(SequenceParams(**common, layers=args.transformer_layers, heads=4))}
    return {k: v for k, v in models.items() if k in args.models.split(",")}


def ig_check(m: Any, W_te: np.ndarray, p: np.ndarray, rows: int) -> dict[str, Any]:
    """Integrated-gradients completeness on the `rows` highest-scored test windows, and the top features."""
    top = np.argsort(-p)[:rows]
    c = m.contributions_windows(W_te[top])
    with torch.no_grad():
        x = torch.from_numpy(m.scaler.transform(W_te[top])).to(m.device)
        delta_f = (m.net(x) - m.net(torch.zeros_like(x))).cpu().numpy()
    gap = np.abs(m.last_ig_delta)
    mean_abs = np.abs(c).mean(axis=0)
    order = np.argsort(-mean_abs)
    return {"rows": int(len(top)), "steps": m.params.ig_steps,
            "completeness_abs_gap_max": float(gap.max()), "completeness_abs_gap_median": float(np.median(gap)),
            "abs_delta_f_median": float(np.median(np.abs(delta_f))),
            "rows_refined": int((m.last_ig_steps > m.params.ig_steps).sum()),
            "max_steps_used": int(m.last_ig_steps.max()),
            "top_features": [[m.features[j], float(mean_abs[j])] for j in order[:5]]}


def bench_sequence_model(name: str, m: Any, W_tr: np.ndarray, y_tr: np.ndarray, groups: np.ndarray, features: list[str],
                         W_te: np.ndarray, y_te: np.ndarray, args: argparse.Namespace, results: dict[str, Any],
                         t0: float) -> None:
    """Train one sequence model, score the test windows, optimise it and check its attributions (into `results`)."""
    t = time.perf_counter()
    m.fit_windows(W_tr, y_tr, groups=groups, features=features)
    train_s = time.perf_counter() - t
    t = time.perf_counter()
    p = m.predict_windows(W_te)
    infer_s = time.perf_counter() - t
    results["methods"][name] = {**holdout_metrics(p, y_te), "train_s": round(train_s, 1),
                                "score_all_test_s": round(infer_s, 1), "train_info": m.train_info}
    _log(f"{name}: trained in {train_s:.0f}s ({m.train_info['epochs_run']} epochs), "
         f"PR-AUC {results['methods'][name]['pr_auc']:.3f}", t0)
    rep = optimise(m, W_te, y_te, tolerance=0.01, repeats=args.latency_repeats)
    results["optimisation"][name] = rep.to_json()
    _log(f"{name}: optimisation variants kept: {[r.name for r in rep.kept()]}", t0)
    results["ig"][name] = ig_check(m, W_te, p, args.ig_rows)


def run(args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    df, seq_feats = load(Path(args.data_dir), args.horizon, args.features)
    y = df["label"].to_numpy().astype(int)
    serial = df["serial_number"].to_numpy()
    _log(f"loaded {len(df):,} drive-days, {df['serial_number'].nunique():,} drives, {int(df['failure'].sum())} failures, "
         f"{int(y.sum())} positive drive-days (H={args.horizon:g}d)", t0)

    split = grouped_split(serial, y, test_fraction=0.2, seed=args.seed)
    train_ok = split.train[~df["censored"].to_numpy()[split.train]]        # same rule as the tree models' eval
    tr_rows = sample_rows(y, args.neg_rate, args.seed, candidates=train_ok)
    te_rows = split.test
    y_te = y[te_rows]
    _log(f"split: train drives {len(np.unique(serial[split.train])):,}, test drives {len(np.unique(serial[te_rows])):,}; "
         f"training windows {len(tr_rows):,} ({int(y[tr_rows].sum())} pos), test drive-days {len(te_rows):,} "
         f"({int(y_te.sum())} pos)", t0)

    results: dict[str, Any] = {"methods": baselines(df, y, train_ok, te_rows, args.threads), "optimisation": {}, "ig": {}}
    _log("baselines done", t0)

    # ---- windows (history always from the full frame; only the rows differ)
    idx = index_frame(df, seq_feats, "serial_number", "date")
    inv = np.empty(idx.n, dtype=np.int64)
    inv[idx.order] = np.arange(idx.n)
    W_tr = windows_from_index(idx, args.window, inv[tr_rows])
    W_te = windows_from_index(idx, args.window, inv[te_rows])
    _log(f"windows: train {W_tr.shape}, test {W_te.shape}", t0)
    features = [f.removeprefix("seq_") for f in seq_feats]
    for name, m in sequence_models(args).items():
        bench_sequence_model(name, m, W_tr, y[tr_rows], serial[tr_rows], features, W_te, y_te, args, results, t0)

    results["setup"] = {
        "data": str(default_root(Path(args.data_dir))), "horizon_days": args.horizon, "window": args.window,
        "feature_set": args.features, "sequence_features": features,
        "neg_rate": args.neg_rate, "epochs": args.epochs, "hidden": args.hidden, "lr": args.lr,
        "transformer_layers": args.transformer_layers,
        "test_fraction": 0.2, "seed": args.seed, "threads": args.threads, "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(), "load_avg_at_end": list(os.getloadavg()),
        "n_test_rows": int(len(te_rows)), "n_test_pos": int(y_te.sum()), "n_train_windows": int(len(tr_rows)),
        "n_train_pos": int(y[tr_rows].sum()), "wall_s": round(time.perf_counter() - t0, 1)}
    return results


def print_table(res: dict[str, Any]) -> None:
    print("\nBackblaze 2013, 7-day horizon, drive-grouped 80/20 holdout "
          f"({res['setup']['n_test_rows']:,} test drive-days, {res['setup']['n_test_pos']} positive)")
    print(f"{'method':<26}{'PR-AUC':>8}{'ROC-AUC':>9}{'R@1%FPR':>9}{'train s':>9}")
    for name, m in res["methods"].items():
        print(f"{name:<26}{m['pr_auc']:>8.3f}{m['roc_auc']:>9.3f}{m['recall_at_0.01_fpr']:>9.3f}{m['train_s']:>9.1f}")
    print("\nOptimisation (gate: PR-AUC and accuracy drop <= 1 point; latency = CPU forward, batch 256)")
    print(f"{'model/variant':<28}{'PR-AUC':>8}{'dPR-AUC':>9}{'acc':>8}{'kept':>6}{'size KB':>9}{'gz KB':>8}"
          f"{'p50 ms':>8}{'min ms':>8}")
    for kind, rep in res["optimisation"].items():
        for r in rep["results"]:
            print(f"{kind + '/' + r['name']:<28}{r['metrics']['pr_auc']:>8.3f}{-r['drops']['pr_auc']:>+9.3f}"
                  f"{r['metrics']['accuracy']:>8.4f}{'yes' if r['kept'] else 'NO':>6}{r['size_bytes'] / 1024:>9.1f}"
                  f"{r['size_gzip_bytes'] / 1024:>8.1f}{r['latency']['p50_ms']:>8.2f}{r['latency']['min_ms']:>8.2f}")
    print("\nIntegrated gradients (32 steps, finer where completeness fails) on the top-scored test windows")
    for kind, ig in res["ig"].items():
        print(f"{kind:<12} max |gap| {ig['completeness_abs_gap_max']:.4f}  median |gap| "
              f"{ig['completeness_abs_gap_median']:.4f}  median |f(x)-f(b)| {ig['abs_delta_f_median']:.2f}  "
              f"refined {ig['rows_refined']}/{ig['rows']} (<= {ig['max_steps_used']} steps)  "
              f"top: {', '.join(f for f, _ in ig['top_features'][:3])}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default=str(Settings().data_dir))
    ap.add_argument("--horizon", type=float, default=7.0)
    ap.add_argument("--window", type=int, default=14)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=25)
    ap.add_argument("--patience", type=int, default=5)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--neg-rate", type=float, default=0.1, help="fraction of training negatives kept")
    ap.add_argument("--max-train-seconds", type=float, default=150.0)
    ap.add_argument("--latency-repeats", type=int, default=40)
    ap.add_argument("--ig-rows", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (project cap 2; 1 is far steadier on a shared, loaded 2-core box)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--models", default="lstm,transformer")
    ap.add_argument("--features", choices=("raw", "history"), default="raw")
    ap.add_argument("--transformer-layers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="results/bench_model_optimisation.json")
    args = ap.parse_args(argv)
    res = run(args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2, default=float))
    print_table(res)
    print(f"\nwrote {out} ({res['setup']['wall_s']:.0f}s)")


if __name__ == "__main__":
    main()

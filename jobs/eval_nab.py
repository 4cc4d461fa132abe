"""Evaluate streaming anomaly detectors on the Numenta Anomaly Benchmark with NAB's own scoring.

    python -m jobs.eval_nab                      # all detectors, all 58 files
    python -m jobs.eval_nab --detectors aiopsStream --workers 2

For every detector and each NAB profile (standard, reward_low_FP_rate,
reward_low_FN_rate) ONE threshold is optimised over the whole corpus (NAB's
optimiser), then every file is scored at it. Prints our detectors next to the
published scoreboard (`results/final_results.json`), overall and per category;
writes `results/eval_nab.json` and the per-row scores in NAB's results layout
(`results/nab/<detector>/<category>/<detector>_<file>.csv`) so anyone can rescore
them with NAB itself. Also re-checks the scorer against NAB's published numbers.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from aiops.failure.health.baselines import rolling_knn_distance, windowed_gaussian
from aiops.failure.health.stream import StreamParams, stream_scores
from aiops.failure.evaluation.nab_corpus import (
    PROFILES,
    load_corpus,
    load_profiles,
    load_published_file_scores,
    load_published_scoreboard,
    nab_root,
    write_results_layout,
)
from aiops.failure.evaluation.nab_scoring import (
    category_scores,
    normalise,
    published_category_scores,
    score_corpus,
    score_file,
    sweep_weights,
)

DETECTORS = {
    "aiopsStream": lambda v: stream_scores(v, StreamParams()),
    "windowedGaussianRe": windowed_gaussian,
    "rollingKnn5": rolling_knn_distance,
}
PUBLISHED_SHOWN = ("numenta", "knncad", "randomCutForest", "windowedGaussian", "null")


def _run_one(args: tuple[str, str, np.ndarray]) -> tuple[str, str, np.ndarray, float]:
    det, key, values = args
    t = time.perf_counter()
    s = np.asarray(DETECTORS[det](values), dtype=float)
    return det, key, s, time.perf_counter() - t


def detect(files, detectors: list[str], workers: int) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, float]]:
    """Run each detector over every file (files in parallel); returns scores and CPU seconds."""
    jobs = [(d, f.key, f.values) for d in detectors for f in files]
    scores: dict[str, dict[str, np.ndarray]] = {d: {} for d in detectors}
    secs = {d: 0.0 for d in detectors}
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_run_one, jobs, chunksize=1))
    else:
        results = [_run_one(j) for j in jobs]
    for det, key, s, dt in results:
        if s.shape != (len(next(f for f in files if f.key == key)),) or np.isnan(s).any():
            raise ValueError(f"{det} produced invalid scores for {key}")
        if s.min() < 0 or s.max() > 1:
            raise ValueError(f"{det} scores leave [0, 1] on {key}")
        scores[det][key] = s
        secs[det] += dt
    return scores, secs


def validate_scorer(root, files, profiles) -> dict:
    """Checks of our scorer against NAB's published artefacts (no detector outputs are shipped).

    1. the null detector's per-file TP/TN/FP/FN/score (window rows, probation) match exactly;
    2. re-normalising every published detector's per-file raw scores reproduces the scoreboard;
    3. our re-implementation of NAB's windowedGaussian, scored here, lands near its published score.
    """
    out: dict = {}
    bad = 0
    for name, cost in profiles.items():
        pub = load_published_file_scores(root, "null", name)
        if pub is None:
            continue
        pub = pub.set_index("File")
        for f in files:
            r = score_file(sweep_weights(len(f), f.windows, cost, f.key), np.zeros(len(f)), 0.5, cost)
            p = pub.loc[f.key]
            if (r.tp, r.tn, r.fp, r.fn, r.total) != (p.TP, p.TN, p.FP, p.FN, p.Total_Count) or abs(r.score - p.Score) > 1e-9:
                bad += 1
    out["null_per_file_mismatches"] = bad
    board = load_published_scoreboard(root)
    n_win = sum(len(f.windows) for f in files)
    diffs = {}
    for det in board:
        for name, cost in profiles.items():
            df = load_published_file_scores(root, det, name)
            if df is None or len(df) != len(files):
                continue  # e.g. 'random' ships per-file scores for only part of the corpus
            diffs[f"{det}/{name}"] = abs(normalise(float(df["Score"].sum()), n_win, cost) - board[det][name])
    out["scoreboard_renormalised_max_abs_diff"] = max(diffs.values()) if diffs else None
    out["scoreboard_entries_checked"] = len(diffs)
    return out


def _fmt(x: float | None) -> str:
    return "   -  " if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:6.1f}"


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--detectors", nargs="+", default=list(DETECTORS), choices=list(DETECTORS))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("results/eval_nab.json"))
    ap.add_argument("--rows-dir", type=Path, default=Path("results/nab"))
    ap.add_argument("--data-dir", type=Path, default=None, help="shared data folder (default: Settings().data_dir)")
    args = ap.parse_args(argv)

    root = nab_root(args.data_dir)
    if not (root / "labels" / "combined_windows.json").exists():
        raise SystemExit(f"NAB not found under {root}")
    t0 = time.perf_counter()
    files = load_corpus(root)
    profiles = load_profiles(root)
    board = load_published_scoreboard(root)
    scores, secs = detect(files, args.detectors, args.workers)
    for det in args.detectors:
        write_results_layout(args.rows_dir, det, files, scores[det])

    report: dict = {
        "corpus": {"files": len(files), "windows": sum(len(f.windows) for f in files), "rows": sum(len(f) for f in files)},
        "rules": "one threshold per profile for the whole corpus (NAB optimiser); probation 15% (max 750 rows)",
        "detectors": {},
        "published": {},
        "scorer_validation": validate_scorer(root, files, profiles),
    }
    for det in args.detectors:
        entry: dict = {"detect_seconds": round(secs[det], 1), "profiles": {}}
        for name in PROFILES:
            cost = profiles[name]
            res = score_corpus(files, scores[det], name, cost)
            entry["profiles"][name] = {
                "score": res.normalised,
                "raw": res.raw,
                "threshold": res.threshold,
                "tp_rows": sum(r.tp for r in res.files),
                "fp_rows": sum(r.fp for r in res.files),
                "windows_detected": sum(r.windows_hit for r in res.files),
                "categories": category_scores(files, res, cost),
            }
        report["detectors"][det] = entry
    for det in PUBLISHED_SHOWN + tuple(d for d in board if d not in PUBLISHED_SHOWN):
        if det not in board:
            continue
        cats = {}
        for name in PROFILES:
            df = load_published_file_scores(root, det, name)
            if df is not None and len(df) == len(files):
                cats[name] = published_category_scores(df, files, profiles[name])
        report["published"][det] = {"profiles": board[det], "categories": cats}
    report["seconds_total"] = round(time.perf_counter() - t0, 1)

    # ---------------------------------------------------------------- table
    cat_names = sorted({f.category for f in files if f.windows})
    print(f"NAB v1.1: {len(files)} files, {report['corpus']['windows']} windows; one corpus threshold per profile")
    print(f"{'detector':22s} {'standard':>8s} {'lowFP':>8s} {'lowFN':>8s}   " + " ".join(f"{c[:12]:>12s}" for c in cat_names))
    rows = []
    for det, e in report["detectors"].items():
        p = e["profiles"]
        rows.append((det + " *", [p[n]["score"] for n in PROFILES], [p["standard"]["categories"][c]["normalised"] for c in cat_names]))
    for det, e in report["published"].items():
        cats = e["categories"].get("standard", {})
        rows.append((det, [e["profiles"][n] for n in PROFILES], [cats.get(c) for c in cat_names]))
    for name, prof, cats in rows:
        print(f"{name:22s} " + " ".join(f"{_fmt(x):>8s}" for x in prof) + "   " + " ".join(f"{_fmt(x):>12s}" for x in cats))
    print("(* = run here; per-category columns are the standard profile; others are NAB's published results)")
    for det, e in report["detectors"].items():
        nofp = e["profiles"]["standard"]["categories"].get("artificialNoAnomaly", {})
        print(
            f"{det}: threshold(standard)={e['profiles']['standard']['threshold']:.4f}, "
            f"artificialNoAnomaly FP rows={nofp.get('fp')}, detect time {e['detect_seconds']} s"
        )
    print("scorer validation:", report["scorer_validation"])

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=float))
    print(f"wrote {args.out} and per-row scores under {args.rows_dir}/<detector>/ ({report['seconds_total']} s)")
    return report


if __name__ == "__main__":
    main()

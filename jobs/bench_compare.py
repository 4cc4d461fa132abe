"""Run one benchmark on a baseline checkout and on this one, alternately, and table the figures side by side.

These machines are noisy, so a before/after claim needs both sides measured in the same run:

    git worktree add /tmp/aiops-base <commit>          # the code before the change
    python -m jobs.bench_compare --baseline /tmp/aiops-base --runs 2 -- jobs.bench_serving --seconds 10

Each run writes the benchmark's JSON (`--out` is added to its arguments); every numeric figure found in
both sides' JSON is listed with the median of each side and the ratio current / baseline. The table is
printed and the whole comparison written to `results/compare_<benchmark>.json`.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

from jobs.results import write_json

ROOT = Path(__file__).resolve().parents[1]


def numeric_leaves(doc: Any, prefix: str = "") -> Iterator[tuple[str, float]]:
    """Every int/float in a JSON document with its dotted path (list items by index)."""
    if isinstance(doc, bool):
        return
    if isinstance(doc, (int, float)):
        yield prefix, float(doc)
    elif isinstance(doc, dict):
        for key, value in doc.items():
            yield from numeric_leaves(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from numeric_leaves(value, f"{prefix}[{i}]")


def run_once(tree: Path, module: str, args: list[str], out: Path, timeout_s: float) -> dict[str, float]:
    """Run `python -m module args --out out` with `tree` first on the path; return its numeric figures."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, "-m", module, *args, "--out", str(out)]
    proc = subprocess.run(cmd, cwd=tree, env=env, timeout=timeout_s, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{module} failed in {tree} (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return dict(numeric_leaves(json.loads(out.read_text())))


def compare(runs: dict[str, list[dict[str, float]]]) -> list[dict[str, Any]]:
    """Median per side for every figure both sides reported, with current / baseline."""
    keys = [k for k in runs["current"][0] if all(k in r for side in runs.values() for r in side)]
    rows = []
    for key in keys:
        base = statistics.median(r[key] for r in runs["baseline"])
        cur = statistics.median(r[key] for r in runs["current"])
        rows.append({"figure": key, "baseline": base, "current": cur, "ratio": (cur / base) if base else None})
    return rows


def print_table(rows: list[dict[str, Any]], pattern: str | None) -> None:
    """Plain table; `pattern` keeps only figures whose path contains it."""
    shown = [r for r in rows if pattern is None or pattern in r["figure"]]
    width = max((len(r["figure"]) for r in shown), default=10)
    print(f"{'figure':<{width}}  {'baseline':>14}  {'current':>14}  {'cur/base':>8}")
    for r in shown:
        ratio = f"{r['ratio']:.3f}" if r["ratio"] is not None else "-"
        print(f"{r['figure']:<{width}}  {r['baseline']:>14.6g}  {r['current']:>14.6g}  {ratio:>8}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", type=Path, required=True, help="checkout of the code before the change")
    ap.add_argument("--current", type=Path, default=ROOT, help="checkout to compare (default: this one)")
    ap.add_argument("--runs", type=int, default=2, help="runs per side, alternating baseline/current")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per run")
    ap.add_argument("--only", default=None, help="print only figures whose path contains this")
    ap.add_argument("--out", default=None, help="default results/compare_<benchmark>.json")
    ap.add_argument("benchmark", nargs=argparse.REMAINDER, help="-- module [args...]")
    args = ap.parse_args(argv)
    bench = [a for a in args.benchmark if a != "--"]
    if not bench:
        ap.error("name the benchmark module after --, e.g. -- jobs.bench_serving --seconds 10")
    module, bench_args = bench[0], bench[1:]
    runs: dict[str, list[dict[str, float]]] = {"baseline": [], "current": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            for side in ("baseline", "current"):
                tree = (args.baseline if side == "baseline" else args.current).resolve()
                print(f"run {i + 1}/{args.runs} {side}: {module} in {tree}", flush=True)
                runs[side].append(run_once(tree, module, bench_args, Path(tmp) / f"{side}-{i}.json", args.timeout))
    rows = compare(runs)
    print_table(rows, args.only)
    out = args.out or f"results/compare_{module.rsplit('.', 1)[-1]}.json"
    write_json(out, {"benchmark": module, "args": bench_args, "baseline": str(args.baseline),
                     "current": str(args.current), "runs": runs, "comparison": rows})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

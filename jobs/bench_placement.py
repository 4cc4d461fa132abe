"""Placement benchmark: vector bin packing against published optima, plus cluster traces.

    python -m jobs.bench_placement                     # Panigrahy + Triplet + traces, < 10 min on 2 cores
    python -m jobs.bench_placement --limit 100         # quick look (every k-th instance)
    python -m jobs.bench_placement --skip-traces --workers 2
    python -m jobs.bench_placement --openb gpuspec10,gpuspec25 --collections ""   # constrained GPU pods only

Writes ``results/bench_placement.json`` (summary + per-instance rows), ``results/bench_placement.md``
(the tables printed here) and ``results/bench_placement_assignments_<collection>.json``: for every
instance the bin of every item, items in file order with each item type repeated by its demand,
so each packing can be checked independently of this code.
"""
from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from aiops.placement.packing import heuristics as H
from aiops.placement.packing.bins import check_packing, compact
from aiops.placement.packing.search import SearchConfig, solve
from aiops.placement.packing.vbp import VbpInstance, iter_collection, vbp_dir
from aiops.settings import PROJECT_ROOT, Settings

BASELINES = {
    "FFD": lambda sz, cap: H.ffd(sz, cap, "sum"),
    "BFD": lambda sz, cap: H.bfd(sz, cap, "sum"),
    "DotProduct": H.dot_product,
    # Pods arrive in a seeded random order: the Triplet files list each perfect triple's items
    # consecutively, so file order would hand an arrival-order scheduler the optimal packing.
    "kube-MostAllocated": lambda sz, cap: H.kube_scorer(sz, cap, "MostAllocated", order=_arrival(sz.shape[0])),
    "kube-LeastAllocated": lambda sz, cap: H.kube_scorer(sz, cap, "LeastAllocated", order=_arrival(sz.shape[0])),
}


def _arrival(n: int) -> np.ndarray:
    return np.random.default_rng(12345 + n).permutation(n)


def time_box(n: int, args: argparse.Namespace) -> float:
    """Per-instance wall-clock budget: grows with the item count, capped."""
    return float(min(args.max_seconds, args.base_seconds + args.seconds_per_item * n))


def run_instance(inst: VbpInstance, args: argparse.Namespace) -> dict[str, Any]:
    """All baselines and our search on one instance; every packing is verified before it counts."""
    row: dict[str, Any] = {"name": inst.name, "class": inst.instance_class, "n": inst.n, "d": inst.d}
    known = inst.known
    row.update(lb=known.lb if known else None, opt=known.opt if known else None,
               best_published=known.best_overall if known else None,
               published_families=dict(known.best_families) if known else {})
    for name, fn in BASELINES.items():
        t0 = time.perf_counter()
        a = fn(inst.sizes, inst.capacity)
        row[name] = check_packing(inst.sizes, inst.capacity, a)
        row[f"{name}_s"] = time.perf_counter() - t0
    res = solve(inst.sizes, inst.capacity, SearchConfig(time_limit_s=time_box(inst.n, args), seed=args.seed, exact_fill=not args.no_exact_fill), lb=known.lb if known else None)
    row["ours"] = check_packing(inst.sizes, inst.capacity, res.assignment)
    row["ours_s"] = res.seconds
    row["ours_seed_method"] = res.stats["seed_method"]
    row["ours_seed_bins"] = res.stats["seed_bins"]
    row["ours_tabu_iters"] = res.stats["tabu_iters"]
    row["lower_bound_used"] = res.stats["lower_bound"]
    row["assignment"] = compact(res.assignment).tolist()
    return row


def _gap(rows: list[dict], col: str, ref: str) -> float | None:
    vals = [(r[col] - r[ref]) / r[ref] for r in rows if r.get(ref)]
    return float(np.mean(vals) * 100) if vals else None


def summarise(rows: list[dict], methods: list[str]) -> dict[str, Any]:
    """Mean gaps to OPT (instances with known OPT) and to LB (all), optimal counts, worse-than-FFD."""
    with_opt = [r for r in rows if r.get("opt")]
    out: dict[str, Any] = {"instances": len(rows), "with_known_opt": len(with_opt)}
    for m in methods:
        out[m] = {
            "mean_gap_opt_pct": _gap(with_opt, m, "opt"),
            "max_gap_opt_pct": float(max(((r[m] - r["opt"]) / r["opt"] * 100 for r in with_opt), default=0.0)),
            "mean_gap_lb_pct": _gap(rows, m, "lb"),
            "optimal": int(sum(r[m] == r["opt"] for r in with_opt)),
            "total_bins": int(sum(r[m] for r in rows if r.get(m) is not None)),
        }
    out["ours_worse_than_FFD"] = int(sum(r["ours"] > r["FFD"] for r in rows))
    out["ours_better_than_best_published"] = int(sum(r["ours"] < r["best_published"] for r in rows if r.get("best_published")))
    out["ours_seconds_total"] = float(sum(r["ours_s"] for r in rows))
    fams = sorted({f for r in rows for f in r["published_families"]})
    out["published_families_mean_gap_opt_pct"] = {
        f: _gap([dict(r, **{f: r["published_families"][f]}) for r in with_opt if f in r["published_families"]], f, "opt") for f in fams
    }
    by_class: dict[str, dict[str, Any]] = {}
    for c in sorted({r["class"] for r in rows}):
        sub = [r for r in with_opt if r["class"] == c]
        if sub:
            by_class[c] = {"n": len(sub), **{m: _gap(sub, m, "opt") for m in methods}}
    out["by_class_gap_opt_pct"] = by_class
    return out


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def markdown_vbp(collection: str, summ: dict[str, Any], methods: list[str]) -> str:
    lines = [f"### {collection}: {summ['instances']} instances ({summ['with_known_opt']} with known OPT)", "",
             "| method | mean gap to OPT % | max gap % | optimal | mean gap to LB % | total bins |", "|---|---|---|---|---|---|"]
    for m in methods:
        s = summ[m]
        lines.append(f"| {m} | {_fmt(s['mean_gap_opt_pct'])} | {_fmt(s['max_gap_opt_pct'])} | {s['optimal']} | {_fmt(s['mean_gap_lb_pct'])} | {s['total_bins']} |")
    for f, g in summ["published_families_mean_gap_opt_pct"].items():
        lines.append(f"| published best {f} | {_fmt(g)} | | | | |")
    lines += ["", f"ours worse than FFD on {summ['ours_worse_than_FFD']} instances; better than the best published heuristic on "
              f"{summ['ours_better_than_best_published']}; search time {summ['ours_seconds_total']:.0f} s", "",
              "| class | instances | " + " | ".join(methods) + " |", "|---|---|" + "---|" * len(methods)]
    for c, v in summ["by_class_gap_opt_pct"].items():
        lines.append(f"| {c} | {v['n']} | " + " | ".join(_fmt(v[m]) for m in methods) + " |")
    return "\n".join(lines)


def bench_collection(collection: str, args: argparse.Namespace, root: Path, out_dir: Path) -> tuple[dict, str]:
    instances = list(iter_collection(collection, root))
    if args.limit and args.limit < len(instances):
        step = len(instances) / args.limit
        instances = [instances[int(i * step)] for i in range(args.limit)]
    t0 = time.perf_counter()
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers) as ex:
            rows = list(ex.map(run_instance, instances, [args] * len(instances), chunksize=4))
    else:
        rows = [run_instance(inst, args) for inst in instances]
    for r in rows:
        r["published_best"] = r["best_published"]
        r["ours_portfolio_only"] = r["ours_seed_bins"]  # ablation: best constructive heuristic, before the tabu search
    methods = ["ours", "ours_portfolio_only", *BASELINES, "published_best"]
    summ = summarise(rows, methods)
    summ["wall_seconds"] = time.perf_counter() - t0
    assignments = {r["name"]: {"bins": r["ours"], "assignment": r.pop("assignment")} for r in rows}
    (out_dir / f"bench_placement_assignments_{collection}.json").write_text(json.dumps(assignments))
    return {"summary": summ, "rows": rows}, markdown_vbp(collection, summ, methods)


def _plot(results: dict[str, Any], out_dir: Path) -> None:
    """Bar chart of mean gap to OPT per class and method (best effort; matplotlib only)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:  # pragma: no cover - plotting is optional
        return
    for coll, res in results.get("vbp", {}).items():
        by = res["summary"]["by_class_gap_opt_pct"]
        methods = ["FFD", "BFD", "kube-MostAllocated", "published_best", "ours"]
        fig, ax = plt.subplots(figsize=(8, 3.5))
        x = np.arange(len(by))
        for k, m in enumerate(methods):
            ax.bar(x + k * 0.16, [by[c][m] or 0 for c in by], 0.16, label=m)
        ax.set_xticks(x + 0.32, list(by))
        ax.set_ylabel("mean gap to OPT (%)")
        ax.set_title(f"{coll}: bins above optimum")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out_dir / f"bench_placement_{coll}.png", dpi=110)
        plt.close(fig)


def verify_assignments(collection: str, path: Path, root: Path) -> dict[str, int]:
    """Re-check a written assignment file against the instances: every item once, no bin over capacity."""
    data = json.loads(Path(path).read_text())
    checked = 0
    for inst in iter_collection(collection, root):
        if inst.name not in data:
            continue
        a = np.asarray(data[inst.name]["assignment"], dtype=np.int64)
        if check_packing(inst.sizes, inst.capacity, a) != data[inst.name]["bins"]:
            raise ValueError(f"{inst.name}: bin count in file does not match the assignment")
        checked += 1
    return {"checked": checked, "in_file": len(data)}


def bench_openb(lists: list[str], settings: Settings, out_dir: Path) -> tuple[dict[str, Any], str]:
    """Every openb policy on each pod list; each assignment log re-checked by the independent checker."""
    from aiops.placement.packing.openb import OPENB_POLICIES, replay_openb
    from aiops.placement.packing.openb_check import check_openb_log
    from aiops.placement.packing.trace_data import load_openb_nodes, load_openb_pods, placement_dir

    root = placement_dir(settings) / "alibaba-openb"
    node_csv = root / "openb_node_list_all_node.csv"
    res: dict[str, Any] = {}
    md: list[str] = []
    for name in lists:
        pod_csv = root / f"openb_pod_list_{name}.csv"
        if not (node_csv.exists() and pod_csv.exists()):
            print(f"skip openb {name}: {pod_csv} or {node_csv} missing")
            continue
        nodes, pods = load_openb_nodes(node_csv), load_openb_pods(pod_csv)
        md += [f"### openb {name}: {len(pods)} pods replayed onto {len(nodes)} nodes until GPU requests reach 100% of capacity", "",
               "| policy | failed pods | unallocated GPUs | GPU fragmented % | constraint violations (checker) | checker failed / unallocated | CPU s |",
               "|---|---|---|---|---|---|---|"]
        res[name] = {}
        for policy in OPENB_POLICIES:
            log: list = []
            t0 = time.process_time()
            r = replay_openb(nodes, pods, policy, log=log).as_dict()
            r["cpu_seconds"] = round(time.process_time() - t0, 1)
            r["check"] = check_openb_log(node_csv, pod_csv, log)
            (out_dir / f"bench_placement_openb_{name}_{policy.split()[0]}.json").write_text(json.dumps(log))
            res[name][policy] = r
            c = r["check"]
            md.append(f"| {policy} | {r['failed']} | {r['extra']['gpu_unallocated']} | {r['extra']['gpu_fragmented_pct']} | "
                      f"{c['violations_total']} | {c['failed']} / {c['gpu_unallocated']} | {r['cpu_seconds']} |")
            print(md[-1], flush=True)
        md.append("")
    return res, "\n".join(md)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--collections", default="Panigrahy,Triplet")
    p.add_argument("--limit", type=int, default=0, help="evenly spaced subset of instances per collection (0 = all)")
    p.add_argument("--base-seconds", type=float, default=0.05)
    p.add_argument("--seconds-per-item", type=float, default=0.0008)
    p.add_argument("--max-seconds", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--no-exact-fill", action="store_true", help="ablation: drop the exact-fill member from our portfolio")
    p.add_argument("--skip-traces", action="store_true")
    p.add_argument("--openb", default="", help="openb pod lists to replay with every GPU policy, e.g. gpuspec10,gpuspec25")
    p.add_argument("--trace-seconds", type=float, default=60.0, help="time budget for the trace replays")
    p.add_argument("--out", type=Path, default=PROJECT_ROOT / "results")
    p.add_argument("--verify", action="store_true", help="only re-check the assignment files already in --out")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    settings = Settings()
    root = vbp_dir(settings)
    if args.verify:
        report = {c: verify_assignments(c, args.out / f"bench_placement_assignments_{c}.json", root)
                  for c in args.collections.split(",") if (args.out / f"bench_placement_assignments_{c}.json").exists()}
        print(json.dumps(report))
        return report
    results: dict[str, Any] = {"config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}, "vbp": {}}
    md: list[str] = ["# Placement benchmark", ""]
    t0 = time.perf_counter()
    for coll in [c for c in args.collections.split(",") if c]:
        if not (root / f"{coll}_instances.tar.gz").exists():
            print(f"skip {coll}: {root} has no {coll}_instances.tar.gz")
            continue
        res, table = bench_collection(coll, args, root, args.out)
        results["vbp"][coll] = res
        md += [table, ""]
        print(table, "\n", flush=True)
    if not args.skip_traces:
        from aiops.placement.packing.traces import run_traces

        tr, tmd = run_traces(settings, args.trace_seconds)
        results["traces"] = tr
        md += [tmd, ""]
        print(tmd, flush=True)
    if args.openb:
        ob, omd = bench_openb([x for x in args.openb.split(",") if x], settings, args.out)
        results["openb"] = ob
        md += [omd, ""]
        print(omd, flush=True)
    results["wall_seconds"] = time.perf_counter() - t0
    (args.out / "bench_placement.json").write_text(json.dumps(results, indent=1, default=float))
    (args.out / "bench_placement.md").write_text("\n".join(md))
    _plot(results, args.out)
    print(f"wrote {args.out / 'bench_placement.json'} in {results['wall_seconds']:.0f} s")
    return results


if __name__ == "__main__":
    main()

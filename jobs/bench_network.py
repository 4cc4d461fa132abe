"""CPU cost of the network detector inside the in-process security chain: the same events with it on and off.

    python -m jobs.bench_network [--hosts 100] [--days 2] [--runs 3]

The simulated fleet's security stream (jobs.security_eval.campaigns.simulate) goes through a
``SecurityPipeline`` without Sigma, as the correlator actor runs it. The first quarter of the stream (and
at least the detector's warm-up) is not timed; the rest is timed in process CPU time, which a busy shared
machine disturbs less than wall time. "off" is the same pipeline with flows answered by a detector that
never scores (the rest of the chain unchanged). Runs alternate on and off. Set OMP_NUM_THREADS=1 (as a Ray
actor with one CPU has it) to keep BLAS thread spinning out of the figures. Writes results/bench_network.json.
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from aiops.settings import PROJECT_ROOT
from jobs.results import write_json


class _Off:
    """Stands in for the network detector: takes flows, never scores them."""

    ready = True
    cfg = None

    def observe(self, ev: Any, wall: float | None = None) -> list[Any]:
        return []

    def due(self, wall: float | None = None, event_ts: float | None = None) -> bool:
        return False

    def flush(self) -> list[Any]:
        return []


def timed_run(events: list[Any], detector_on: bool) -> dict[str, Any]:
    """CPU seconds of the chain over the stream after its untimed warm-up."""
    from aiops.security.pipeline import SecurityPipeline

    pipe = SecurityPipeline()
    warm, flows = len(events) // 4, 0
    for j, e in enumerate(events):  # warm until a quarter of the stream and the detector's warm-up are in
        flows += e.action == "network_flow"
        if flows >= pipe.network.cfg.warmup_flows:
            warm = max(warm, j + 1)
            break
    for e in events[:warm]:
        pipe.process(e)
    if not detector_on:
        pipe.network = _Off()  # type: ignore[assignment]
    before = sum(1 for s in pipe.recent if s.kind == "network")
    c0 = time.process_time()
    for e in events[warm:]:
        pipe.process(e)
    pipe.network.flush()
    cpu = time.process_time() - c0
    n = len(events) - warm
    return {"events": n, "flows": sum(e.action == "network_flow" for e in events[warm:]), "cpu_s": round(cpu, 3),
            "events_per_cpu_s": round(n / cpu) if cpu else None,
            "network_signals": sum(1 for s in pipe.recent if s.kind == "network") - before,
            "incidents": pipe.graph.stats["incidents"]}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--days", type=float, default=2.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--out", default=str(PROJECT_ROOT / "results" / "bench_network.json"))
    args = ap.parse_args(argv)
    from jobs.security_eval.campaigns import simulate

    events, *_ = simulate(args.hosts, args.days, args.seed, 2.0)
    runs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
    for _ in range(args.runs):
        for name in ("off", "on"):
            for e in events:
                e._view = None  # no cached Sigma field view carried between runs
            runs[name].append(timed_run(events, name == "on"))
    res: dict[str, Any] = {"runs": runs}
    print("| network detector | events | flows | CPU s (median; runs) | events per CPU s | network signals |")
    print("|---|---:|---:|---|---:|---:|")
    for name, rs in runs.items():
        cpu = [r["cpu_s"] for r in rs]
        med = statistics.median(cpu)
        res[name] = {"cpu_s_median": med, "events_per_cpu_s": round(rs[0]["events"] / med) if med else None}
        print(f"| {name} | {rs[0]['events']:,} | {rs[0]['flows']:,} | {med:.3f}; {', '.join(f'{c:.3f}' for c in cpu)} | "
              f"{res[name]['events_per_cpu_s']:,} | {rs[0]['network_signals']} |")
    on, off = res["on"]["cpu_s_median"], res["off"]["cpu_s_median"]
    res["detector_us_per_flow"] = round(1e6 * (on - off) / max(runs["on"][0]["flows"], 1), 1)
    print(f"detector cost: {res['detector_us_per_flow']} µs CPU per flow")
    write_json(args.out, res)
    return res


if __name__ == "__main__":
    main()

"""Security correlation evaluation: simulated attack campaigns, throughput / latency, OTRF recordings.

    python -m jobs.eval_security [--days 6] [--benign-days 4] [--hosts 50] [--seed 11]
                                 [--throughput-hosts 400] [--full-rules] [--skip-otrf]

(a) Simulator: a fleet with attack campaigns (brute force → login → sudo → lateral SSH →
    exfiltration) and benign traffic. The first simulated day is warm-up (detectors learn; its
    campaigns are not scored). Each later campaign must become exactly one incident holding
    ≥ 80 % of its 5 steps. False incidents (no campaign step inside) are counted per simulated
    day, in the attack run and in a separate benign-only run.
    Baselines in the same run: "Sigma only" (each Sigma correlation alert group = incident,
    what a rule engine gives without the graph) and "graph without attach" (only strong signals,
    no weak-signal linking).
(b) Sustained events/s through the in-process chain (detectors + threat intel + graph
    correlator), with and without the Sigma engine, after warm-up; incident latency = wall time
    from handing an event to the chain to the incident update that contains its signal.
(c) OTRF recordings (CloudTrail S3 exfiltration, Log4Shell on a Linux VM, APT29 Zeek day 1/2):
    the recording's ATT&CK techniques (metadata) that were detected, and correlated into one
    incident with other evidence.

Writes results/eval_security.json, results/eval_security.md and results/security_incidents/*.png|json.
"""
from __future__ import annotations

import argparse
import json
import time
from typing import Any

from aiops.security.correlation.graph import Incident
from aiops.settings import PROJECT_ROOT, Settings

from jobs.security_eval.campaigns import eval_simulation
from jobs.security_eval.otrf import eval_otrf
from jobs.security_eval.throughput import eval_throughput

RESULTS = PROJECT_ROOT / "results"


def load_sigma(full: bool) -> Any:
    """Sigma pipeline: our pack (configs/rules) or, with ``full``, the configured SigmaHQ set too."""
    from aiops.security.sigma.pipeline import load_detection_pipeline

    return load_detection_pipeline(full, Settings())


def markdown(res: dict[str, Any]) -> str:
    L = ["# eval_security", ""]
    a = res.get("simulation")
    if a:
        L += [f"## (a) Simulated fleet: {a['hosts']} hosts, {a['days']} days (day 0 warm-up), {a['events']:,} events", "",
              "| method | campaigns | pass (1 incident, ≥80% steps) | mean step share | false incidents / day | benign-only false / day |",
              "|---|---|---|---|---|---|"]
        for k in ("graph correlator (ours)", "graph + GRU flow-sequence detector", "graph, strong signals only (no attach)",
                  "sigma only (rule groups, no graph)"):
            r = a[k]
            b = a["benign_only"]["false_per_day"] if k == "graph correlator (ours)" else "–"
            L.append(f"| {k} | {r['n_campaigns']} | {r['passed']} | {_f(r['mean_step_share'])} | {_f(r['false_per_day'])} | {_f(b)} |")
        r = a["graph correlator (ours)"]
        L += ["", f"Incident raise latency (wall, event handed in → incident): p50 {r['incident_raise_latency_ms']['p50']} ms, "
              f"max {r['incident_raise_latency_ms']['max']} ms; update latency p95 {r['incident_update_latency_ms']['p95']} ms, "
              f"max {r['incident_update_latency_ms']['max']} ms.", ""]
        nd = a.get("network_detectors")
        if nd:
            L += [f"Flow-level detectors ({nd['test_flows']:,} flows after warm-up; labels {nd['labels']}):", "",
                  "| detector | exfil recall@0.99 / @0.999 | exfil AUC | lateral recall@0.99 / @0.999 | lateral AUC | benign FPR@0.99 | benign FPR@0.999 |",
                  "|---|---|---|---|---|---|---|"]
            for k, v in nd.items():
                if isinstance(v, dict) and "benign_fpr@0.99" in v:
                    L.append(f"| {k} | {_f(v.get('exfiltration_recall@0.99'))} / {_f(v.get('exfiltration_recall@0.999'))} | "
                             f"{_f(v.get('exfiltration_auc'))} | "
                             f"{_f(v.get('lateral_movement_recall@0.99'))} / {_f(v.get('lateral_movement_recall@0.999'))} | "
                             f"{_f(v.get('lateral_movement_auc'))} | "
                             f"{v['benign_fpr@0.99']} | {v['benign_fpr@0.999']} |")
            L.append("")
        if a.get("example_pivots"):
            L.append("Example pivot: " + " → ".join(a["example_pivots"][0]))
            L.append("")
    b = res.get("throughput")
    if b:
        L += [f"## (b) Throughput: {b['hosts']} hosts × {b['days']} days = {b['events']:,} events ({b['timed_events']:,} timed after warm-up)", "",
              "| chain | events/s (wall) | events/s (CPU) | incidents | raise latency max (ms) | update latency p95 / max (ms) |", "|---|---|---|---|---|---|"]
        for k, v in b.items():
            if isinstance(v, dict) and "events_per_s_wall" in v:
                L.append(f"| {k} | {v['events_per_s_wall']:,} | {v['events_per_s_cpu']:,} | {v['incidents']} | "
                         f"{v['incident_raise_latency_ms']['max']} | {v['incident_update_latency_ms']['p95']} / {v['incident_update_latency_ms']['max']} |")
        g = b.get("graph only, every event a strong signal (worst case)")
        if g:
            L += ["", f"Graph alone, every event a strong signal: {g['signals_per_s']:,} signals/s wall, "
                  f"{g['signals_per_s_cpu']:,} per CPU-second, over {g['signals']:,} signals."]
        L += [f"Load average before/after: {b['loadavg_before']} / {b['loadavg_after']}", ""]
    c = res.get("otrf")
    if c and "skipped" not in c:
        L += ["## (c) OTRF recordings", "",
              "| recording | events (rejected) | labelled techniques (metadata) | labelled detected / correlated | techniques detected (any) | incidents (largest: tactics) |",
              "|---|---|---|---|---|---|"]
        for k, v in c.items():
            if isinstance(v, dict) and "steps" in v:
                rej = sum(v["rejected"].values())
                top = v["top_incidents"][0]["incident"]["tactics"] if v["top_incidents"] else []
                L.append(f"| {k} | {v['events']:,} ({rej:,}) | {', '.join(s['technique'] for s in v['steps'])} | "
                         f"{v['detected']}/{v['expected']} / {v['correlated']}/{v['expected']} | {', '.join(v['techniques_seen']) or '–'} | "
                         f"{v['incidents']} ({', '.join(top) or '–'}) |")
    return "\n".join(L) + "\n"


def _f(x: Any) -> str:
    return "–" if x is None else (f"{x:.2f}" if isinstance(x, float) else str(x))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--days", type=float, default=6)
    ap.add_argument("--benign-days", type=float, default=4)
    ap.add_argument("--attack-rate", type=float, default=1.5, help="campaigns per simulated day")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--throughput-hosts", type=int, default=400)
    ap.add_argument("--throughput-days", type=float, default=1.0)
    ap.add_argument("--full-rules", action="store_true", help="also time the chain with the full SigmaHQ rule set (slow to load)")
    ap.add_argument("--skip-otrf", action="store_true")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--max-png", type=int, default=3)
    args = ap.parse_args(argv)
    out_dir = RESULTS / "security_incidents"
    out_dir.mkdir(parents=True, exist_ok=True)
    small = lambda: load_sigma(False)  # noqa: E731
    full_cache: dict[str, Any] = {}

    def full() -> Any:
        if "p" not in full_cache:
            full_cache["p"] = load_sigma(True)
        from aiops.security.sigma.pipeline import DetectionPipeline
        from aiops.security.sigma.suppression import SuppressionStore
        p = full_cache["p"]
        return DetectionPipeline(p.ruleset, SuppressionStore(s.model_copy() for s in p.suppressions.entries()))

    res: dict[str, Any] = {"command": "python -m jobs.eval_security " + " ".join(argv or []), "started": time.time()}
    res["simulation"] = eval_simulation(args, small, out_dir)
    print(markdown({"simulation": res["simulation"]}), flush=True)
    if not args.skip_throughput:
        res["throughput"] = eval_throughput(args, small, full if args.full_rules else None)
    if not args.skip_otrf:
        res["otrf"] = eval_otrf(full, out_dir)
    md = markdown(res)
    print(md)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "eval_security.json").write_text(json.dumps(res, indent=1, default=str), encoding="utf-8")
    (RESULTS / "eval_security.md").write_text(md, encoding="utf-8")
    return res


if __name__ == "__main__":
    main()

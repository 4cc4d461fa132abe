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
import os
import platform
import random
import statistics
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from aiops.security.correlation.graph import CorrelatorConfig, GraphCorrelator, Incident
from aiops.security.correlation.signals import Signal
from aiops.security.correlation.export import incident_report, render_png, write_json
from aiops.security.pipeline import SecurityPipeline
from aiops.security.detection.network import NetworkConfig
from aiops.security.events import RejectionCounter, SecurityEvent
from aiops.security.simulated_events import TickConverter
from aiops.security.intel.threat_intel import Indicator, ThreatIntel
from aiops.settings import PROJECT_ROOT, Settings, SimulatorSettings
from aiops.telemetry.simulator import FleetSimulator

RESULTS = PROJECT_ROOT / "results"
DAY = 86_400.0


# ----------------------------------------------------------------------------- helpers


def load_sigma(full: bool) -> Any:
    """Sigma pipeline: our pack (configs/rules) or, with ``full``, the configured SigmaHQ set too."""
    from aiops.security.sigma.pipeline import load_detection_pipeline

    return load_detection_pipeline(full, Settings())


def simulate(hosts: int, days: float, seed: int, attack_rate: float) -> tuple[list[SecurityEvent], dict[str, Any], float, float]:
    sim = FleetSimulator(SimulatorSettings(hosts=hosts, interval_s=30.0, seed=seed, attack_rate_per_day=attack_rate))
    conv = TickConverter()
    start = sim.now
    events: list[SecurityEvent] = []
    for _ in range(int(days * 24)):
        for tk in sim.advance(3600.0):
            events.extend(conv.convert(tk))
    return events, sim.ground_truth(), start, sim.now


class Recorder:
    """Hooks the pipeline to time each incident update from its signal's ingest."""

    def __init__(self, pipe: SecurityPipeline) -> None:
        self.pipe = pipe
        self.raise_lat: list[float] = []
        self.update_lat: list[float] = []
        self.by_kind: dict[str, list[float]] = defaultdict(list)
        pipe.on_signal = self.on_signal

    def on_signal(self, sig: Signal, inc: Incident | None) -> None:
        if inc is None:
            return
        now = time.perf_counter()
        w = sig.detail.get("ingest_wall")
        if w is None:
            return
        self.update_lat.append(now - w)
        self.by_kind[sig.kind].append(now - w)
        if inc.raised_wall >= w and inc.created_ts == sig.ts:
            self.raise_lat.append(inc.raised_wall - w)


def run_stream(pipe: SecurityPipeline, events: list[SecurityEvent]) -> float:
    t0 = time.perf_counter()
    for ev in events:
        pipe.process(ev)
    pipe.drain()
    return time.perf_counter() - t0


def final_incidents(g: GraphCorrelator) -> list[Incident]:
    return [i for i in g.incidents.values() if i.status != "merged"]


def incident_signals(g: GraphCorrelator, inc: Incident) -> list[Signal]:
    c = g.component_of(inc.incident_id)
    return list(c.signals) if c else []


def step_matches(step: dict[str, Any], nxt: dict[str, Any] | None, sig: Signal) -> bool:
    """Does this signal evidence this ground-truth step? (time + the step's entities)"""
    ents = sig.entities
    name = step["step"]
    if name == "brute_force":
        end = nxt["ts"] if nxt else step["ts"] + 900
        return step["ts"] - 2 <= sig.ts <= end + 2 and f"ip:{step['src_ip']}" in ents
    if abs(sig.ts - step["ts"]) > 2.0:
        return False
    if name == "exfiltration":
        return f"ip:{step['dst_ip']}" in ents
    return f"host:{step['host_id']}" in ents


def score_campaigns(g: GraphCorrelator, gt: dict[str, Any], t_from: float, t_to: float) -> dict[str, Any]:
    incs = final_incidents(g)
    sigs = {i.incident_id: incident_signals(g, i) for i in incs}
    rows = []
    used: set[str] = set()
    for camp in gt["campaigns"]:
        steps = camp["steps"]
        if steps[0]["ts"] < t_from or steps[-1]["ts"] > t_to:
            continue
        holders: dict[str, set[str]] = {}
        for k, st in enumerate(steps):
            nxt = steps[k + 1] if k + 1 < len(steps) else None
            holders[st["step"]] = {iid for iid, ss in sigs.items() if any(step_matches(st, nxt, s) for s in ss)}
        inc_ids = set().union(*holders.values())
        used |= inc_ids
        best = max(inc_ids, key=lambda i: sum(i in h for h in holders.values()), default=None)
        held = sum(best in h for h in holders.values()) if best else 0
        rows.append({"campaign": camp["campaign_id"], "incidents": sorted(inc_ids), "n_incidents": len(inc_ids),
                     "steps_held": held, "steps_total": len(steps), "share": held / len(steps),
                     "steps": {k: sorted(v) for k, v in holders.items()},
                     "pass": len(inc_ids) == 1 and held / len(steps) >= 0.8})
    false = [i.incident_id for i in incs if i.incident_id not in used and t_from <= i.created_ts <= t_to]
    days = (t_to - t_from) / DAY
    return {"campaigns": rows, "n_campaigns": len(rows), "passed": sum(r["pass"] for r in rows),
            "mean_step_share": statistics.mean(r["share"] for r in rows) if rows else None,
            "false_incidents": false, "false_per_day": len(false) / days if days else None, "eval_days": days}


def sigma_only_baseline(pipe: SecurityPipeline, gt: dict[str, Any], t_from: float, t_to: float) -> dict[str, Any]:
    """Rule engine without the graph: each Sigma correlation alert's group (src_ip) is an incident."""
    g = GraphCorrelator(CorrelatorConfig(min_tactics=1, raise_risk=0.0))
    for s in pipe.recent:
        if s.kind == "sigma":
            # one incident per rule group: entities = the group-by values only
            ents = tuple(e for e in s.entities if e.startswith("ip:"))[:1] or s.entities[:1]
            g.observe(Signal(ts=s.ts, kind="sigma", name=s.name, score=1.0, entities=ents, tactics=s.tactics))
    # attach the full signal to its group's incident for step matching
    for inc in g.incidents.values():
        c = g.component_of(inc.incident_id)
        if c is None:
            continue
        keys = c.entities
        c.signals = [s for s in pipe.recent if s.kind == "sigma" and any(e in keys for e in s.entities)]
    return score_campaigns(g, gt, t_from, t_to)


def pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * (len(xs) - 1) + 0.5))]


# ----------------------------------------------------------------------------- (a) simulation


def eval_simulation(args: argparse.Namespace, sigma_factory: Any, out_dir: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    events, gt, start, end = simulate(args.hosts, args.days, args.seed, args.attack_rate)
    sim_s = time.perf_counter() - t0
    t_from = start + DAY  # day 0 = warm-up
    res: dict[str, Any] = {"hosts": args.hosts, "days": args.days, "warmup_days": 1, "events": len(events),
                           "simulate_seconds": round(sim_s, 1)}
    variants = {
        "graph correlator (ours)": (CorrelatorConfig(), NetworkConfig()),
        "graph, strong signals only (no attach)": (CorrelatorConfig(attach_score=0.999), NetworkConfig()),
        "graph + GRU flow-sequence detector": (CorrelatorConfig(), NetworkConfig(sequence=True)),
    }
    pipes = {}
    for name, (cfg, ncfg) in variants.items():
        for ev in events:
            ev._view = None
        pipe = SecurityPipeline(correlator=cfg, network=ncfg, sigma=sigma_factory())
        rec = Recorder(pipe)
        dt = run_stream(pipe, events)
        sc = score_campaigns(pipe.graph, gt, t_from, end)
        sc.update({"seconds": round(dt, 2), "events_per_s": round(len(events) / dt), "pipeline": pipe.summary(),
                   "incident_raise_latency_ms": {"p50": _ms(pct(rec.raise_lat, 0.5)), "p95": _ms(pct(rec.raise_lat, 0.95)),
                                                 "max": _ms(max(rec.raise_lat) if rec.raise_lat else None), "n": len(rec.raise_lat)},
                   "incident_update_latency_ms": {"p50": _ms(pct(rec.update_lat, 0.5)), "p95": _ms(pct(rec.update_lat, 0.95)),
                                                  "max": _ms(max(rec.update_lat) if rec.update_lat else None), "n": len(rec.update_lat),
                                                  "by_kind_p95_max": {k: (_ms(pct(v, 0.95)), _ms(max(v))) for k, v in rec.by_kind.items()}}})
        res[name] = sc
        pipes[name] = pipe
    ours = pipes["graph correlator (ours)"]
    res["sigma only (rule groups, no graph)"] = sigma_only_baseline(ours, gt, t_from, end)
    # incident graphs for the report
    pngs = []
    for inc in final_incidents(ours.graph)[: args.max_png]:
        rep = incident_report(ours.graph, inc.incident_id)
        if rep is None:
            continue
        write_json(rep, out_dir / f"sim_{inc.incident_id}.json")
        pngs.append(str(render_png(rep, out_dir / f"sim_{inc.incident_id}.png").relative_to(PROJECT_ROOT)))
        if rep["pivots"]:
            res.setdefault("example_pivots", []).append(rep["pivots"][0])
    res["incident_pngs"] = pngs
    res["network_detectors"] = eval_network_detectors(events, gt, t_from)
    # benign-only fleet: false incidents per day
    bev, bgt, bstart, bend = simulate(args.hosts, args.benign_days, args.seed + 1000, 0.0)
    bpipe = SecurityPipeline(sigma=sigma_factory())
    run_stream(bpipe, bev)
    bincs = [i for i in final_incidents(bpipe.graph) if i.created_ts >= bstart + DAY]
    res["benign_only"] = {"days": args.benign_days, "eval_days": args.benign_days - 1, "events": len(bev),
                          "false_incidents": len(bincs), "false_per_day": len(bincs) / max(args.benign_days - 1, 1),
                          "incidents": [i.summary(bpipe.graph.component_of(i.incident_id)) for i in bincs][:20]}
    return res


def eval_network_detectors(events: list[SecurityEvent], gt: dict[str, Any], t_from: float) -> dict[str, Any]:
    """Flow-level comparison on the simulated fleet: forest alone, host baseline alone, combined, GRU."""
    from sklearn.metrics import roc_auc_score

    from aiops.security.detection.network import NetworkAnomalyDetector
    from aiops.security.detection.sequence import FlowSequenceDetector

    flows = [e for e in events if e.action == "network_flow"]
    warm = [e for e in flows if e.timestamp < t_from]
    test = [e for e in flows if e.timestamp >= t_from]
    label: dict[tuple[float, str | None], str] = {}
    for c in gt["campaigns"]:
        for st in c["steps"]:
            if st["step"] in ("lateral_movement", "exfiltration"):
                label[(st["ts"], st["dst_ip"])] = st["step"]
    y = [label.get((e.timestamp, e.dst_ip), "benign") for e in test]
    net = NetworkAnomalyDetector()
    net.fit(warm)
    seq = FlowSequenceDetector()
    fit_info = seq.fit(warm)
    scores: dict[str, list[float]] = defaultdict(list)
    for b in range(0, len(test), 1000):
        chunk = test[b:b + 1000]
        for s in net.score(chunk, min_score=0.0):
            d = s.detail
            scores["isolation forest (conformal)"].append(1 - d["p_iforest"])
            scores["per-host baseline (bytes + port)"].append(1 - min(1.0, 2 * min(d["p_host_bytes"], d["p_host_port"])))
            scores["combined (ours: forest + host, Bonferroni)"].append(s.score)
        for s in seq.score(chunk):
            scores["GRU flow-sequence model (conformal)"].append(s.score if s is not None else 0.0)
    out: dict[str, Any] = {"warm_flows": len(warm), "test_flows": len(test), "labels": dict(Counter(y)), "gru_fit": fit_info}
    for name, sc in scores.items():
        row: dict[str, Any] = {}
        ben = [s for s, lab in zip(sc, y) if lab == "benign"]
        for step in ("exfiltration", "lateral_movement"):
            pos = [s for s, lab in zip(sc, y) if lab == step]
            if pos:
                row[f"{step}_recall@0.99"] = sum(s >= 0.99 for s in pos) / len(pos)
                row[f"{step}_recall@0.999"] = sum(s >= 0.999 for s in pos) / len(pos)
                row[f"{step}_auc"] = round(float(roc_auc_score([1] * len(pos) + [0] * len(ben), pos + ben)), 4)
        row["benign_fpr@0.99"] = round(sum(s >= 0.99 for s in ben) / max(len(ben), 1), 5)
        row["benign_fpr@0.999"] = round(sum(s >= 0.999 for s in ben) / max(len(ben), 1), 5)
        out[name] = row
    return out


def _ms(x: float | None) -> float | None:
    return None if x is None else round(1000 * x, 3)


# ----------------------------------------------------------------------------- (b) throughput


def eval_throughput(args: argparse.Namespace, sigma_factory: Any, full_sigma: Any) -> dict[str, Any]:
    events, gt, start, end = simulate(args.throughput_hosts, args.throughput_days, args.seed + 7, args.attack_rate)
    rng = random.Random(5)
    intel = ThreatIntel([Indicator(type="ip", value=f"{rng.randint(11, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                                   source="synthetic-feed", confidence=80) for _ in range(10_000)]
                        + [Indicator(type="cidr", value="192.0.2.0/24", source="synthetic-feed", confidence=60)])
    warm = len(events) // 5
    out: dict[str, Any] = {"hosts": args.throughput_hosts, "days": args.throughput_days, "events": len(events),
                           "timed_events": len(events) - warm, "intel_indicators": len(intel),
                           "cpu": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                           "loadavg_before": os.getloadavg()}
    configs = [("detectors + intel + graph (no Sigma)", None), ("+ Sigma (our rule pack)", sigma_factory)]
    if full_sigma is not None:
        configs.append(("+ Sigma (full SigmaHQ set)", full_sigma))
    for name, factory in configs:
        for ev in events:
            ev._view = None  # the Sigma engine caches a field view on the event: do not let a later run reuse it
        pipe = SecurityPipeline(intel=intel, sigma=factory() if factory else None)
        rec = Recorder(pipe)
        k = 0
        while k < len(events) and (k < warm or not pipe.network.ready):  # warm-up: profiles + forest fitted
            pipe.process(events[k])
            k += 1
        c0, t0 = time.process_time(), time.perf_counter()
        for ev in events[k:]:
            pipe.process(ev)
        pipe.drain()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        n = len(events) - k
        out[name] = {"timed_events": n, "events_per_s_wall": round(n / wall), "events_per_s_cpu": round(n / cpu), "wall_s": round(wall, 2),
                     "incidents": pipe.graph.stats["incidents"],
                     "incident_raise_latency_ms": {"p50": _ms(pct(rec.raise_lat, 0.5)), "max": _ms(max(rec.raise_lat) if rec.raise_lat else None),
                                                   "n": len(rec.raise_lat)},
                     "incident_update_latency_ms": {"p50": _ms(pct(rec.update_lat, 0.5)), "p95": _ms(pct(rec.update_lat, 0.95)),
                                                    "max": _ms(max(rec.update_lat) if rec.update_lat else None), "n": len(rec.update_lat)}}
    # the graph alone on a dense signal stream (every event turned into a strong signal)
    from aiops.security.correlation.entities import EntityResolver
    res = EntityResolver()
    sigs = []
    for ev in events[warm: warm + 200_000]:
        ents, edges = res.nodes(ev)
        sigs.append(Signal(ts=ev.timestamp, kind="ueba", name=ev.action or "x", score=0.9995, entities=ents, edges=edges,
                           tactics=("discovery",)))
    g = GraphCorrelator(CorrelatorConfig(window_s=600.0))
    c0, t0 = time.process_time(), time.perf_counter()
    for s in sigs:
        g.observe(s)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    out["graph only, every event a strong signal (worst case)"] = {"signals": len(sigs), "signals_per_s": round(len(sigs) / wall),
                                                                   "signals_per_s_cpu": round(len(sigs) / cpu),
                                                                   "live_components_end": g.live_components(),
                                                                   "expired_components": g.stats["expired_components"]}
    out["loadavg_after"] = os.getloadavg()
    return out


# ----------------------------------------------------------------------------- (c) OTRF

OTRF_SETS = {
    "aws_s3_exfiltration (CloudTrail)": {"techniques": ["T1078.004", "T1530"], "files": [
        ("cloudtrail", "atomic/aws/collection/ec2_proxy_s3_exfiltration.zip")]},
    "log4shell_jndi (Linux VM: auditd, Sysmon for Linux, VMConnection)": {"techniques": ["T1190", "T1203"], "files": [
        ("azure_syslog", "compound/Log4Shell/syslog_auoms_auditd_log4shell_cve2021_44228_jndi_reference.zip"),
        ("azure_syslog", "compound/Log4Shell/syslog_sysmon_log4shell_cve2021_44228_jndi_reference.zip"),
        ("vmconnection", "compound/Log4Shell/vminsights_vmconnection_log4shell_cve2021_44228_jndi_reference.zip")]},
    "log4shell_java_serialized (Windows: Security, Sysmon)": {"techniques": ["T1190", "T1203"], "files": [
        ("windows", "compound/Log4Shell/securityauditing_log4shell_cve2021_44228_java_serialized_object.zip"),
        ("windows", "compound/Log4Shell/sysmon_log4shell_cve2021_44228_java_serialized_object.zip")]},
    # APT29 day 1 emulation plan (MITRE ATT&CK Evaluations round 2): techniques observable on the wire.
    "apt29_day1 (Zeek)": {"techniques": ["T1071", "T1041", "T1021", "T1105", "T1048"], "glob": "compound/apt29/day1/zeek/*.zip"},
    "apt29_day2 (Zeek)": {"techniques": ["T1071", "T1041", "T1021", "T1105", "T1048"], "glob": "compound/apt29/day2/zeek/*.zip"},
}


def _tech_hit(expected: str, seen: set[str]) -> bool:
    return any(s == expected or s.startswith(expected + ".") or expected.startswith(s + ".") for s in seen)


def eval_otrf(full_sigma_factory: Any, out_dir: Path) -> dict[str, Any]:
    from aiops.security.parsers.registry import parse_file

    root = Settings().data_dir / "security" / "otrf" / "datasets"
    if not root.exists():
        return {"skipped": f"{root} not found"}
    sigma = full_sigma_factory()
    out: dict[str, Any] = {"rules": sigma.stats().get("rules")}
    for name, spec in OTRF_SETS.items():
        files = [(fmt, root / rel) for fmt, rel in spec.get("files", [])]
        if "glob" in spec:
            files += [("zeek", p) for p in sorted(root.glob(spec["glob"]))]
        files = [(f, p) for f, p in files if p.exists()]
        if not files:
            out[name] = {"skipped": "files absent"}
            continue
        rej = RejectionCounter()
        events: list[SecurityEvent] = []
        for fmt, p in files:
            events.extend(parse_file(fmt, p, rej, year=2022))
        events.sort(key=lambda e: e.timestamp)
        n_flows = sum(1 for e in events if e.action == "network_flow")
        pipe = SecurityPipeline(sigma=sigma, network=NetworkConfig(warmup_flows=max(200, int(0.4 * n_flows))),
                                correlator=CorrelatorConfig(window_s=4 * 3600))
        t0 = time.perf_counter()
        for ev in events:
            pipe.process(ev)
        pipe.drain()
        dt = time.perf_counter() - t0
        sig_all = list(pipe.recent)
        seen = {t for s in sig_all for t in s.techniques}
        alerts = Counter(s.summary for s in sig_all if s.kind == "sigma")
        incs = final_incidents(pipe.graph)
        inc_tech = {i.incident_id: {t for s in incident_signals(pipe.graph, i) for t in s.techniques} for i in incs}
        steps = []
        for t in spec["techniques"]:
            det = _tech_hit(t, seen)
            corr = [iid for iid, ts in inc_tech.items() if _tech_hit(t, ts) and len(ts) > 1]
            steps.append({"technique": t, "detected": det, "correlated_in": corr})
        reps = []
        for inc in sorted(incs, key=lambda i: -i.risk)[:2]:
            rep = incident_report(pipe.graph, inc.incident_id)
            if rep:
                slug = name.split(" ")[0]
                write_json(rep, out_dir / f"otrf_{slug}_{inc.incident_id}.json")
                render_png(rep, out_dir / f"otrf_{slug}_{inc.incident_id}.png", title=f"{name}: {inc.incident_id}")
                reps.append({"incident": rep["incident"], "pivots": rep["pivots"][:3]})
        out[name] = {"files": [str(p.relative_to(root)) for _, p in files], "events": len(events), "rejected": rej.as_dict(),
                     "seconds": round(dt, 2), "signals_by_kind": dict(Counter(s.kind for s in sig_all)),
                     "sigma_alerts_top": alerts.most_common(12), "techniques_seen": sorted(seen), "steps": steps,
                     "detected": sum(s["detected"] for s in steps), "correlated": sum(bool(s["correlated_in"]) for s in steps),
                     "expected": len(steps), "incidents": len(incs), "top_incidents": reps}
    return out


# ----------------------------------------------------------------------------- report


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

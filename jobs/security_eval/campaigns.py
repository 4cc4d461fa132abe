"""Simulated attack campaigns scored against the incidents the chain raises (part a of jobs.eval_security)."""
from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from aiops.security.correlation.graph import CorrelatorConfig, GraphCorrelator, Incident
from aiops.security.correlation.signals import Signal
from aiops.security.correlation.export import incident_report, render_png, write_json
from aiops.security.pipeline import SecurityPipeline
from aiops.security.detection.network import NetworkConfig
from aiops.security.events import SecurityEvent
from aiops.security.simulated_events import TickConverter
from aiops.settings import PROJECT_ROOT, SimulatorSettings
from aiops.telemetry.simulator import FleetSimulator

DAY = 86_400.0


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
                   "incident_raise_latency_ms": {"p50": ms(pct(rec.raise_lat, 0.5)), "p95": ms(pct(rec.raise_lat, 0.95)),
                                                 "max": ms(max(rec.raise_lat) if rec.raise_lat else None), "n": len(rec.raise_lat)},
                   "incident_update_latency_ms": {"p50": ms(pct(rec.update_lat, 0.5)), "p95": ms(pct(rec.update_lat, 0.95)),
                                                  "max": ms(max(rec.update_lat) if rec.update_lat else None), "n": len(rec.update_lat),
                                                  "by_kind_p95_max": {k: (ms(pct(v, 0.95)), ms(max(v))) for k, v in rec.by_kind.items()}}})
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
        ps = net.part_p_values(chunk)
        host = np.nan_to_num(np.minimum(1.0, 2 * np.fmin(ps["host_bytes"], ps["host_port"])), nan=1.0)
        scores["isolation forest (conformal)"].extend((1 - ps["iforest"]).tolist())
        scores["nearest neighbours (conformal)"].extend((1 - ps["knn"]).tolist())
        scores["per-host baseline (bytes + port)"].extend((1 - host).tolist())
        scores["combined (ours: all parts, calibrated Fisher)"].extend((1 - ps["combined"]).tolist())
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


def ms(x: float | None) -> float | None:
    return None if x is None else round(1000 * x, 3)

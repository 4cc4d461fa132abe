"""Sustained events/s and incident latency through the in-process chain (part b of jobs.eval_security)."""
from __future__ import annotations

import argparse
import os
import platform
import random
import time
from typing import Any

from aiops.security.correlation.graph import CorrelatorConfig, GraphCorrelator
from aiops.security.correlation.signals import Signal
from aiops.security.pipeline import SecurityPipeline
from aiops.security.intel.threat_intel import Indicator, ThreatIntel
from jobs.security_eval.campaigns import Recorder, ms, pct, simulate



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
                     "incident_raise_latency_ms": {"p50": ms(pct(rec.raise_lat, 0.5)), "max": ms(max(rec.raise_lat) if rec.raise_lat else None),
                                                   "n": len(rec.raise_lat)},
                     "incident_update_latency_ms": {"p50": ms(pct(rec.update_lat, 0.5)), "p95": ms(pct(rec.update_lat, 0.95)),
                                                    "max": ms(max(rec.update_lat) if rec.update_lat else None), "n": len(rec.update_lat)}}
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

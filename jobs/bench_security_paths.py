"""Security events per second through the correlator actor: direct calls and through NATS JetStream.

    python -m jobs.bench_security_paths [--hosts 400] [--hours 12] [--rate 20000] [--nats nats://127.0.0.1:4222]

The simulated fleet's security stream (sshd/auth syslog lines and platform events: network flows,
VM lifecycle, API calls, with attack campaigns) goes to the `security-correlator` actor three ways:

1. direct: this process plays the simulator collector (parses with aiops.security.intake, at most
   2 calls in flight) and calls the actor as fast as it takes batches;
2. NATS backlog: the stream is published first (auth lines as text on `.events.security.auth`,
   platform events as JSON lines on `.events.security.platform`), then the NATS collector drains
   it (parse in the collector, one actor call per fetch, ack after the actor took it);
3. NATS paced: published at ``--rate`` events/s while the collector consumes; incident latency is
   measured inside the actor from each batch's JetStream timestamp to the end of the call that
   raised or grew the incident.

Baseline in the same run: the old way, the actor parses raw auth lines itself on one core
(``--baseline``). The in-process chain alone is `python -m jobs.eval_security` (part b).
Writes results/bench_security_paths.json.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from typing import Any

from jobs.results import write_json

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def _ticks(hosts: int, hours: float) -> list[Any]:
    from aiops.settings import SimulatorSettings
    from aiops.telemetry.simulator import FleetSimulator

    sim = FleetSimulator(SimulatorSettings(hosts=hosts, vms_per_host=2, seed=11, attack_rate_per_day=24.0,
                                           scenario_rate_per_day=0.0))
    return sim.advance(hours * 3600)


def _warm_ticks(ticks: list[Any], warm_hours: float) -> int:
    """Index of the first tick after the warm-up (detectors fit their baselines on it)."""
    t0 = ticks[0].ts
    return next((i for i, t in enumerate(ticks) if t.ts - t0 >= warm_hours * 3600), len(ticks))


def _correlator(settings: Any) -> Any:
    import ray

    from actors.security_service import start_security_correlator

    actor = start_security_correlator(settings)
    ray.get(actor.stats.remote())
    return actor


def _warm(actor: Any, ticks: list[Any], per_call: int, intake: Any = None) -> None:
    """Fit the detectors' baselines on the warm-up ticks (direct calls, not timed)."""
    import ray

    from aiops.security.intake import SecurityIntake

    intake = intake or SecurityIntake()
    for i in range(0, len(ticks), per_call):
        ray.get(actor.ingest_events.remote(intake.parse_ticks(ticks[i:i + per_call])))


def bench_direct(settings: Any, ticks: list[Any], warm: int, per_call: int) -> dict[str, Any]:
    import ray

    from aiops.security.intake import SecurityIntake

    from actors.security_service import load_collector_matcher

    actor = _correlator(settings)
    intake = SecurityIntake(matcher=load_collector_matcher(settings))  # as the simulator collector does
    _warm(actor, ticks[:warm], per_call, intake)
    base_stats = ray.get(actor.stats.remote())
    base, base_busy = base_stats["events_in"], base_stats["busy_s"]
    inflight: list[Any] = []
    start = time.perf_counter()
    for i in range(warm, len(ticks), per_call):
        events = intake.parse_ticks(ticks[i:i + per_call])
        rejected, samples = intake.rejections.take()
        if len(inflight) >= 2:
            ray.get(inflight.pop(0))
        inflight.append(actor.ingest_events.remote(events, rejected, samples, time.time()))
    ray.get(inflight)
    elapsed = time.perf_counter() - start
    stats = ray.get(actor.stats.remote())
    ray.kill(actor)
    n = stats["events_in"] - base
    return {"events": n, "seconds": elapsed, "events_per_s": n / elapsed, "anomalies": stats["anomalies"],
            "incident_latency": stats["incident_latency"], "actor_busy_s": stats["busy_s"] - base_busy,
            "actor_rss_mb": stats["rss_mb"]}


def bench_baseline(settings: Any, ticks: list[Any], warm: int, per_call: int) -> dict[str, Any]:
    """Before: raw records to the actor, parsed there, one call at a time (what the NATS path did)."""
    import ray

    from actors.security_service import SecurityCorrelator

    class RawCorrelator(SecurityCorrelator):
        async def ingest_raw(self, groups: list[tuple[str, list[Any]]]) -> int:
            from aiops.security.parsers.registry import parse_records

            events = [e for fmt, recs in groups for e in parse_records(fmt, recs, self.rejections)]
            events.sort(key=lambda e: e.timestamp)
            return await self.ingest_events(events)

    actor = ray.remote(RawCorrelator).options(num_cpus=settings.ray.actor_num_cpus).remote(settings)
    ray.get(actor.stats.remote())

    def groups(chunk: list[Any]) -> list[tuple[str, list[Any]]]:
        lines = [ln for t in chunk for ln in t.logs if " kernel: " not in ln]
        return [("auth", lines), ("platform", [e for t in chunk for e in t.events])]

    for i in range(0, warm, per_call):
        ray.get(actor.ingest_raw.remote(groups(ticks[i:i + per_call])))
    base = ray.get(actor.stats.remote())["events_in"]
    start = time.perf_counter()
    for i in range(warm, len(ticks), per_call):
        ray.get(actor.ingest_raw.remote(groups(ticks[i:i + per_call])))
    elapsed = time.perf_counter() - start
    n = ray.get(actor.stats.remote())["events_in"] - base
    ray.kill(actor)
    return {"events": n, "seconds": elapsed, "events_per_s": n / elapsed}


def _payloads(ticks: list[Any], per_message: int) -> list[tuple[str, bytes, int]]:
    """(format, payload, records) per message, in time order: auth text lines and platform JSON lines."""
    out: list[tuple[str, bytes, int]] = []
    lines: list[str] = []
    events: list[str] = []

    def flush() -> None:
        if lines:
            out.append(("auth", "\n".join(lines).encode(), len(lines)))
            lines.clear()
        if events:
            out.append(("platform", "\n".join(events).encode(), len(events)))
            events.clear()

    for t in ticks:
        lines.extend(ln for ln in t.logs if " kernel: " not in ln)
        events.extend(json.dumps(e, separators=(",", ":")) for e in t.events)
        if len(lines) + len(events) >= per_message:
            flush()
    flush()
    return out


async def _publish(url: str, prefix: str, payloads: list[tuple[str, bytes, int]], rate: float | None = None) -> float:
    """Publish in order; with ``rate`` (records/s) hold that pace. Returns the records/s achieved."""
    import nats

    nc = await nats.connect(url)
    js = nc.jetstream()
    start = time.perf_counter()
    sent = 0
    for i in range(0, len(payloads), 20):
        chunk = payloads[i:i + 20]
        await asyncio.gather(*(js.publish(f"{prefix}.events.security.{fmt}", p) for fmt, p, _ in chunk))
        sent += sum(n for _, _, n in chunk)
        if rate:
            ahead = sent / rate - (time.perf_counter() - start)
            if ahead > 0:
                await asyncio.sleep(ahead)
    elapsed = time.perf_counter() - start
    await nc.close()
    return sent / elapsed


async def _pending(url: str, stream: str, durable: str) -> int:
    import nats

    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().consumer_info(stream, durable)
        return info.num_pending + info.num_ack_pending
    finally:
        await nc.close()


def _wait_drained(settings: Any, timeout_s: float = 600.0) -> None:
    deadline = time.time() + timeout_s
    while asyncio.run(_pending(settings.nats.url, settings.nats.stream, settings.nats.durable)) and time.time() < deadline:
        time.sleep(0.05)


def bench_nats(settings: Any, ticks: list[Any], warm: int, per_message: int, rate: float | None) -> dict[str, Any]:
    import ray

    from actors.system import System

    _ensure_stream(settings)
    system = System(settings)
    system.start_collectors(run=False)
    corr = _correlator(settings)
    _warm(corr, ticks[:warm], 20)
    base = ray.get(corr.stats.remote())
    collector = system.collectors["collector-nats"]
    prefix = settings.nats.subject_prefix
    measured = _payloads(ticks[warm:], per_message)
    result: dict[str, Any] = {"messages": len(measured), "records": sum(n for _, _, n in measured)}
    if rate:  # paced: publisher and consumer run together
        collector.run.remote()
        start = time.perf_counter()
        result["published_per_s"] = asyncio.run(_publish(settings.nats.url, prefix, measured, rate))
    else:  # backlog: publish everything, then time the drain
        asyncio.run(_publish(settings.nats.url, prefix, measured))
        start = time.perf_counter()
        collector.run.remote()
    _wait_drained(settings)
    elapsed = time.perf_counter() - start
    stats = ray.get(corr.stats.remote())
    cstats = ray.get(collector.stats.remote())
    system.stop()
    ray.kill(corr)
    n = stats["events_in"] - base["events_in"]
    result.update({"events": n, "seconds": elapsed, "events_per_s": n / elapsed, "actor_busy_s": stats["busy_s"] - base["busy_s"],
                   "incident_latency": stats["incident_latency"], "collector_rejections": cstats["rejections"],
                   "actor_rss_mb": stats["rss_mb"],
                   "rejections": stats["rejections"]})
    return result


def _ensure_stream(settings: Any) -> None:
    """The stream and durable consumer, as the collector would create them, before anything is published."""
    async def prepare() -> None:
        import nats
        from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

        nc = await nats.connect(settings.nats.url)
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name=settings.nats.stream, subjects=list(settings.nats.subjects)))
        await js.add_consumer(settings.nats.stream, ConsumerConfig(durable_name=settings.nats.durable,
                                                                   ack_policy=AckPolicy.EXPLICIT,
                                                                   ack_wait=settings.nats.ack_wait_s,
                                                                   max_ack_pending=20_000))
        await nc.close()

    asyncio.run(prepare())


def _drop_stream(settings: Any) -> None:
    async def drop() -> None:
        import nats

        nc = await nats.connect(settings.nats.url)
        try:
            await nc.jetstream().delete_stream(settings.nats.stream)
        except Exception:  # noqa: BLE001 - absent already
            pass
        await nc.close()

    asyncio.run(drop())


def _nats_settings(base: Any, tag: str) -> Any:
    return base.with_overrides(**{"nats.stream": f"BSEC{tag}", "nats.subject_prefix": f"bsec{tag}",
                                  "nats.durable": f"bsec{tag}"})


def _lat(r: dict[str, Any]) -> str:
    lat = r.get("incident_latency") or {}
    if not lat.get("n"):
        return "-"
    return f"{lat['p50_s'] * 1000:.0f} / {lat['p99_s'] * 1000:.0f} / {lat['max_s'] * 1000:.0f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=400)
    ap.add_argument("--hours", type=float, default=12.0)
    ap.add_argument("--warm-hours", type=float, default=3.0, help="first hours fit the detectors (not timed)")
    ap.add_argument("--ticks-per-call", type=int, default=20)
    ap.add_argument("--records-per-message", type=int, default=500)
    ap.add_argument("--fetch-batch", type=int, default=16)
    ap.add_argument("--rate", type=float, default=20_000.0, help="paced NATS run, events/s (0 = skip)")
    ap.add_argument("--baseline", action="store_true", help="also time raw records parsed inside the actor")
    ap.add_argument("--paths", default="direct,nats_backlog,nats_paced", help="comma-separated subset to run")
    ap.add_argument("--no-gc-tuning", action="store_true", help="actors keep CPython's GC defaults (AIOPS_GC_TUNING=0)")
    ap.add_argument("--nats", default="nats://127.0.0.1:4222")
    ap.add_argument("--out", default="results/bench_security_paths.json")
    args = ap.parse_args(argv)

    import ray

    from aiops.settings import Settings

    tag = uuid.uuid4().hex[:6]
    settings = Settings().with_overrides(**{
        "ray.namespace": f"bench-sec-{tag}", "simulator.enabled": False, "nats.url": args.nats,
        "nats.fetch_batch": args.fetch_batch, "nats.ack_wait_s": 60.0, "ray.actor_num_cpus": 0.1})
    ticks = _ticks(args.hosts, args.hours)
    warm = _warm_ticks(ticks, args.warm_hours)
    env = {"env_vars": {"AIOPS_GC_TUNING": "0"}} if args.no_gc_tuning else None
    ray.init(num_cpus=2, log_to_driver=False, include_dashboard=False, namespace=settings.ray.namespace, runtime_env=env)
    results: dict[str, Any] = {"args": vars(args)}
    rows = []
    if args.baseline:
        results["baseline_raw_in_actor"] = bench_baseline(settings, ticks, warm, args.ticks_per_call)
        rows.append(("baseline: raw records parsed in the actor", results["baseline_raw_in_actor"]))
    paths = set(args.paths.split(","))
    if "direct" in paths:
        results["direct"] = bench_direct(settings, ticks, warm, args.ticks_per_call)
        rows.append(("actor, direct (collector parses, 2 calls in flight)", results["direct"]))
    for key, label, rate in (("nats_backlog", "NATS backlog drain -> collector -> actor", None),
                             ("nats_paced", f"NATS paced at {args.rate:,.0f}/s -> collector -> actor", args.rate)):
        if rate == 0 or key not in paths:
            continue
        s = _nats_settings(settings, f"{tag}{key[5]}")
        try:
            results[key] = bench_nats(s, ticks, warm, args.records_per_message, rate)
        finally:
            _drop_stream(s)
        rows.append((label, results[key]))
    ray.shutdown()
    print(f"\n{'path':<56}{'events':>9}{'events/s':>10}{'actor busy':>11}{'RSS MB':>8}  incident latency p50/p99/max ms")
    for label, r in rows:
        busy = f"{r['actor_busy_s'] / r['seconds']:.0%}" if "actor_busy_s" in r else "-"
        rss = f"{r['actor_rss_mb']:.0f}" if "actor_rss_mb" in r else "-"
        print(f"{label:<56}{r['events']:>9}{r['events_per_s']:>10,.0f}{busy:>11}{rss:>8}  {_lat(r)}")
    print(f"wrote {write_json(args.out, results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Security events per second through the correlator actor: direct calls and through NATS JetStream.

    python -m jobs.bench_security_paths [--hosts 400] [--hours 6] [--nats nats://127.0.0.1:4222]

The in-process figure of the same chain is `python -m jobs.eval_security` (part b); this one adds
Ray's actor hop and, for NATS, publishing, the durable consumer and acknowledgement after the
correlator took the records. Writes results/bench_security_paths.json.
"""
from __future__ import annotations

import argparse
import asyncio
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


def bench_direct(settings: Any, ticks: list[Any], per_call: int) -> dict[str, Any]:
    import ray

    from actors.security_service import SecurityCorrelator

    actor = ray.remote(SecurityCorrelator).options(num_cpus=0.1, max_concurrency=4).remote(settings)
    ray.get(actor.stats.remote())
    start = time.perf_counter()
    n = 0
    for i in range(0, len(ticks), per_call):
        n += ray.get(actor.ingest_ticks.remote(ticks[i:i + per_call]))
    elapsed = time.perf_counter() - start
    stats = ray.get(actor.stats.remote())
    ray.kill(actor)
    return {"events": n, "seconds": elapsed, "events_per_s": n / elapsed, "anomalies": stats["anomalies"]}


async def _publish(url: str, subject: str, payloads: list[bytes]) -> None:
    import nats

    nc = await nats.connect(url)
    js = nc.jetstream()
    for i in range(0, len(payloads), 100):
        await asyncio.gather(*(js.publish(subject, p) for p in payloads[i:i + 100]))
    await nc.close()


async def _drained(url: str, stream: str, durable: str) -> bool:
    import nats

    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().consumer_info(stream, durable)
        return info.num_pending == 0 and info.num_ack_pending == 0
    finally:
        await nc.close()


def bench_nats(settings: Any, ticks: list[Any], lines_per_message: int) -> dict[str, Any]:
    """sshd/auth lines of the simulated fleet as text messages on <prefix>.events.security.auth."""
    import ray

    from actors.system import System

    lines = [l for t in ticks for l in t.logs if " kernel: " not in l]
    payloads = ["\n".join(lines[i:i + lines_per_message]).encode() for i in range(0, len(lines), lines_per_message)]
    system = System(settings)
    system.start_shards()
    system.start_collectors(run=False)
    from actors.security_service import start_security_correlator

    corr = start_security_correlator(settings)
    ray.get(corr.stats.remote())

    async def prepare() -> None:
        import nats
        from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

        nc = await nats.connect(settings.nats.url)
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name=settings.nats.stream, subjects=list(settings.nats.subjects)))
        await js.add_consumer(settings.nats.stream, ConsumerConfig(durable_name=settings.nats.durable,
                                                                   ack_policy=AckPolicy.EXPLICIT, ack_wait=30))
        await nc.close()

    asyncio.run(prepare())
    asyncio.run(_publish(settings.nats.url, f"{settings.nats.subject_prefix}.events.security.auth", payloads))
    collector = system.collectors["collector-nats"]
    start = time.perf_counter()
    collector.run.remote()
    while not asyncio.run(_drained(settings.nats.url, settings.nats.stream, settings.nats.durable)):
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    stats = ray.get(corr.stats.remote())
    system.stop()
    ray.kill(corr)

    async def drop() -> None:
        import nats

        nc = await nats.connect(settings.nats.url)
        await nc.jetstream().delete_stream(settings.nats.stream)
        await nc.close()

    asyncio.run(drop())
    return {"lines": len(lines), "messages": len(payloads), "events": stats["events_in"], "seconds": elapsed,
            "events_per_s": stats["events_in"] / elapsed, "rejections": stats["rejections"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=400)
    ap.add_argument("--hours", type=float, default=6.0)
    ap.add_argument("--ticks-per-call", type=int, default=60)
    ap.add_argument("--lines-per-message", type=int, default=500)
    ap.add_argument("--nats", default="nats://127.0.0.1:4222")
    ap.add_argument("--out", default="results/bench_security_paths.json")
    args = ap.parse_args(argv)

    import ray

    from aiops.settings import Settings

    tag = uuid.uuid4().hex[:6]
    settings = Settings().with_overrides(**{
        "ray.namespace": f"bench-sec-{tag}", "simulator.enabled": False, "nats.url": args.nats,
        "nats.stream": f"BSEC{tag}", "nats.subject_prefix": f"bsec{tag}", "nats.durable": f"bsec{tag}",
        "nats.fetch_batch": 64})
    ticks = _ticks(args.hosts, args.hours)
    ray.init(num_cpus=2, log_to_driver=False, include_dashboard=False, namespace=settings.ray.namespace)
    results = {"args": vars(args), "direct": bench_direct(settings, ticks, args.ticks_per_call),
               "nats": bench_nats(settings, ticks, args.lines_per_message)}
    ray.shutdown()
    print(f"\n{'path':<52}{'events':>10}{'events/s':>12}")
    print(f"{'actor, direct calls (auth lines + flows per tick)':<52}{results['direct']['events']:>10}"
          f"{results['direct']['events_per_s']:>12,.0f}")
    print(f"{'NATS JetStream -> collector -> actor (auth lines)':<52}{results['nats']['events']:>10}"
          f"{results['nats']['events_per_s']:>12,.0f}")
    print(f"wrote {write_json(args.out, results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

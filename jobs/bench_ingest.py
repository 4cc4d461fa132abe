"""Ingestion benchmark: actor path vs NATS path, query latency, memory per sample, system RSS.

    python -m jobs.bench_ingest [--hosts 1000] [--seconds 10] [--out results/bench_ingest.json]

Runs on a fresh local Ray cluster. Rows are measured in the same run so they compare
fairly on a noisy machine. The 'row-wise records' row is the baseline: the same
samples as JSON-like dicts validated one record at a time before storing.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any

import numpy as np
from jobs.results import write_json

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def _settings(args: argparse.Namespace, **over: Any):
    from aiops.settings import Settings

    base = {"simulator.hosts": args.hosts, "simulator.vms_per_host": 6, "store.num_shards": args.shards,
            "ray.namespace": f"bench-{uuid.uuid4().hex[:6]}", "ray.actor_num_cpus": 0.1,
            "store.max_points_per_series": 4096,
            "ingest.max_age_s": 20 * 365 * 86400.0}  # replays the simulator's 2026-01-01 epoch over NATS
    base.update(over)
    return Settings().with_overrides(**base)


def _batches(settings, ticks_per_batch: int, n_batches: int):
    from aiops.telemetry.batch import concat
    from aiops.telemetry.simulator import FleetSimulator

    sim = FleetSimulator(settings.simulator)
    return [concat([t.metrics for t in sim.advance(ticks_per_batch * settings.simulator.interval_s)]) for _ in range(n_batches)]


def bench_actor_path(settings, batches, seconds: float, in_flight: int = 2) -> dict[str, Any]:
    """Split by the hash ring and store on shard actors, a few batches in flight."""
    import ray

    from actors.router import ShardRouter
    from actors.system import System

    system = System(settings)
    system.start_shards()
    router = ShardRouter(settings, system.shards)
    rss0 = _actor_rss(system.shards)  # before any data: interpreter, numpy, Ray worker
    ray.get([r for r in router.ingest_refs(batches[:1])])  # warm-up: creates series
    pending: list[Any] = []
    n = 0
    i = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        b = batches[i % len(batches)]
        i += 1
        pending.append(router.ingest_refs([b]))
        n += len(b)
        if len(pending) >= in_flight:
            ray.get(pending.pop(0))
    for refs in pending:
        ray.get(refs)
    elapsed = time.perf_counter() - start
    stats = ray.get([s.stats.remote() for s in system.shards])
    rss = _actor_rss(system.shards)
    system.stop()
    points = sum(s["points_held"] for s in stats)
    return {"samples": n, "seconds": elapsed, "samples_per_s": n / elapsed,
            "points_held": points, "buffer_bytes_per_point": sum(s["buffer_bytes"] for s in stats) / points,
            "process_bytes_per_point": (rss - rss0) / points, "shard_rss_mb": rss / 2**20, "shard_rss_empty_mb": rss0 / 2**20}


def _actor_rss(handles: list[Any]) -> int:
    import psutil
    import ray

    total = 0
    for h in handles:
        pid = ray.get(h.__ray_call__.remote(lambda self: os.getpid()))
        total += psutil.Process(pid).memory_info().rss
    return total


def _as_records(b: Any) -> list[dict[str, Any]]:
    """A columnar batch as the row-wise JSON records a client would send (one per target and tick)."""
    recs: dict[tuple[int, float], dict] = {}
    for t, m, ts, v in zip(b.target_idx.tolist(), b.metric_idx.tolist(), b.ts.tolist(), b.values.tolist()):
        r = recs.setdefault((t, round(ts, 0)), {"target_id": b.targets[t], "ts": ts, "metrics": {}})
        r["metrics"][b.metrics[m]] = v
    return list(recs.values())


def bench_rowwise_baseline(settings, batches, seconds: float) -> dict[str, Any]:
    """Baseline: the same samples as per-record dicts, validated record by record, then stored."""
    import ray

    from actors.router import ShardRouter
    from actors.system import System
    from aiops.telemetry.batch import records_to_batch

    records = _as_records(batches[0])
    system = System(settings)
    system.start_shards()
    router = ShardRouter(settings, system.shards)
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        batch, _ = records_to_batch(records)
        ray.get(router.ingest_refs([batch]))
        n += len(batch)
    elapsed = time.perf_counter() - start
    system.stop()
    return {"samples": n, "seconds": elapsed, "samples_per_s": n / elapsed}


async def _nats_publish(url: str, prefix: str, payloads: list[bytes]) -> None:
    import nats

    nc = await nats.connect(url)
    js = nc.jetstream()
    for chunk in range(0, len(payloads), 200):
        await asyncio.gather(*(js.publish(f"{prefix}.metrics.bench", p) for p in payloads[chunk:chunk + 200]))
    await nc.close()


async def _nats_state(url: str, stream: str, durable: str) -> tuple[int, int]:
    import nats

    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().consumer_info(stream, durable)
        return info.num_pending, info.num_ack_pending
    finally:
        await nc.close()


async def _nats_drop(url: str, stream: str) -> None:
    import nats

    nc = await nats.connect(url)
    try:
        await nc.jetstream().delete_stream(stream)
    finally:
        await nc.close()


def bench_nats_path(settings, batches, n_messages: int, records_per_message: int) -> dict[str, Any]:
    """Pre-publish JSON records to JetStream, then time the collector draining them (acked)."""
    import ray

    from actors.system import System

    records = _as_records(batches[0])
    payloads, samples = [], 0
    for k in range(n_messages):
        chunk = [records[(k * records_per_message + j) % len(records)] for j in range(records_per_message)]
        chunk = [{**r, "ts": r["ts"] + 10 * k} for r in chunk]
        samples += sum(len(r["metrics"]) for r in chunk)
        payloads.append(json.dumps({"records": chunk}).encode())
    url = settings.nats.url
    system = System(settings)
    system.start_shards()
    system.start_collectors(run=False)
    collector = system.collectors["collector-nats"]
    # create stream and consumer, publish while nothing consumes, then start the clock

    async def prepare():
        import nats
        from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

        nc = await nats.connect(url)
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name=settings.nats.stream, subjects=list(settings.nats.subjects)))
        await js.add_consumer(settings.nats.stream, ConsumerConfig(durable_name=settings.nats.durable,
                                                                   ack_policy=AckPolicy.EXPLICIT, ack_wait=30))
        await nc.close()

    asyncio.run(prepare())
    asyncio.run(_nats_publish(url, settings.nats.subject_prefix, payloads))
    start = time.perf_counter()
    run_ref = collector.run.remote()
    while True:
        pending, ack_pending = asyncio.run(_nats_state(url, settings.nats.stream, settings.nats.durable))
        if pending == 0 and ack_pending == 0:
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    stats = ray.get(collector.stats.remote())
    system.stop()
    del run_ref  # the loop ended with stop()
    asyncio.run(_nats_drop(url, settings.nats.stream))
    return {"samples": samples, "messages": n_messages, "seconds": elapsed, "samples_per_s": samples / elapsed,
            "stored": stats["samples_stored"], "rejected": sum(stats["rejections"].values())}


def bench_queries(settings, batches, n: int = 2000) -> dict[str, Any]:
    """Feature-vector latency: direct actor call and HTTP GET through Serve."""
    import httpx
    import ray

    from actors.router import ShardRouter
    from actors.system import System

    system = System(settings)
    system.start_shards()
    router = ShardRouter(settings, system.shards)
    for b in batches[:4]:
        ray.get(router.ingest_refs([b]))
    targets = [t for t in batches[0].targets[: 500]]
    lat_actor = []
    for i in range(n):
        t = targets[i % len(targets)]
        s = time.perf_counter()
        ray.get(router.owner(t).get_features.remote(t, None, None))
        lat_actor.append(time.perf_counter() - s)
    from actors.engines import build_engine_app
    from actors.serve_app import start_serve
    from aiops.auth import api_headers, ensure_api_token

    api, _ = ensure_api_token(settings.api, settings.serve.host)  # as `aiops up` does: the token every route needs
    settings = settings.model_copy(update={"api": api})
    system.url = start_serve(settings, build_engine_app(settings))
    lat_http = []
    with httpx.Client(base_url=system.url, timeout=10, headers=api_headers(api)) as client:
        client.get(f"/api/ai/features/{targets[0]}")
        for i in range(n):
            t = targets[i % len(targets)]
            s = time.perf_counter()
            r = client.get(f"/api/ai/features/{t}")
            lat_http.append(time.perf_counter() - s)
            assert r.status_code == 200
    system.stop()
    pct = lambda xs, q: float(np.percentile(xs, q) * 1000)  # noqa: E731
    return {"actor_p50_ms": pct(lat_actor, 50), "actor_p99_ms": pct(lat_actor, 99),
            "http_p50_ms": pct(lat_http, 50), "http_p99_ms": pct(lat_http, 99), "queries": n}


def bench_system_rss(hosts: int, wait_s: float, port: int) -> dict[str, Any]:
    """Run `aiops up` with a large simulated fleet and sum the memory of every process it started."""
    import httpx
    import psutil

    from aiops.auth import api_headers
    from aiops.settings import load_settings

    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "jobs.cli", "up", "--hosts", str(hosts), "--port", str(port),
                             "--speedup", "30", "--duration", str(wait_s + 120)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    deadline = time.time() + 180
    ok = False
    headers: dict[str, str] = {}
    while time.time() < deadline:
        try:  # `aiops up` uses AIOPS_API_TOKEN or its token file (made on its first start)
            headers = headers or api_headers(load_settings().api)
            if httpx.get(f"http://127.0.0.1:{port}/api/ai/features/host-{hosts - 1:04d}", timeout=2, headers=headers).status_code == 200:
                ok = True
                break
        except httpx.HTTPError:
            pass
        time.sleep(1)
    time.sleep(wait_s)
    procs = [p for p in psutil.process_iter(["pid", "cmdline", "name"]) if _belongs(p, proc.pid)]
    rss = pss = 0
    by_process: list[tuple[str, float, float]] = []
    for p in procs:
        try:
            info = p.memory_full_info()
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
            name = (p.info["cmdline"] or [p.info["name"] or "?"])[0].split("/")[-1][:40]
            by_process.append((name, round(info.rss / 2**20, 1), round(getattr(info, "pss", info.rss) / 2**20, 1)))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    by_process.sort(key=lambda r: -r[1])
    listed = httpx.get(f"http://127.0.0.1:{port}/api/ai/targets", timeout=30, headers=headers).json() if ok else {}
    targets = listed.get("total", 0)
    points = sum(t["points"] for t in listed.get("targets", []))
    proc.send_signal(2)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
    return {"hosts": hosts, "api_ready": ok, "targets": targets, "points_held": points, "processes": len(procs),
            "rss_total_mb": rss / 2**20, "pss_total_mb": pss / 2**20, "measured_after_s": wait_s,
            "by_process_mb": [{"process": n, "rss": r, "pss": q} for n, r, q in by_process]}


def _belongs(p: Any, root_pid: int) -> bool:
    """The `aiops up` process, its children, and the Ray processes of its session."""
    try:
        if p.pid == root_pid:
            return True
        parents = {q.pid for q in p.parents()}
        if root_pid in parents:
            return True
        cmd = " ".join(p.info["cmdline"] or [])
        return any(k in cmd for k in ("ray::", "raylet", "gcs_server", "dashboard", "ray/_private", "log_monitor", "runtime_env"))
    except Exception:
        return False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--nats", default="nats://127.0.0.1:4222")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    ap.add_argument("--nats-messages", type=int, default=400)
    ap.add_argument("--rss-wait", type=float, default=60.0, help="seconds to let `aiops up` run before measuring")
    ap.add_argument("--skip-rss", action="store_true")
    ap.add_argument("--rss-only", action="store_true", help="only measure the memory of a running `aiops up`")
    ap.add_argument("--out", default="results/bench_ingest.json")
    args = ap.parse_args(argv)

    results: dict[str, Any] = {"args": vars(args), "machine": {"cpus": os.cpu_count()}}
    if not args.skip_rss:  # first, on its own cluster, before this process starts one
        results["system_rss"] = bench_system_rss(args.hosts, args.rss_wait, 8790)
        print(f"system RSS with {args.hosts} hosts: {results['system_rss']}", flush=True)
    if args.rss_only:
        write_json(args.out, results)
        return 0

    import ray
    import redis

    ray.init(num_cpus=2, object_store_memory=400 * 2**20, log_to_driver=False, include_dashboard=False)
    s = _settings(args)
    batches = _batches(s, ticks_per_batch=5, n_batches=6)
    results["batch_samples"] = len(batches[0])
    results["actor_path"] = bench_actor_path(s, batches, args.seconds)
    redis.Redis.from_url(args.redis).flushdb()
    results["actor_path_redis"] = bench_actor_path(_settings(args, **{"redis.url": args.redis}), batches, args.seconds)
    redis.Redis.from_url(args.redis).flushdb()
    results["rowwise_baseline"] = bench_rowwise_baseline(s, batches, args.seconds)
    tag = uuid.uuid4().hex[:6]
    results["nats_path"] = bench_nats_path(
        _settings(args, **{"simulator.enabled": False, "nats.url": args.nats, "nats.stream": f"BENCH{tag}",
                           "nats.subject_prefix": f"bench{tag}", "nats.durable": f"bench{tag}", "nats.fetch_batch": 64}),
        batches, args.nats_messages, 500)
    results["queries"] = bench_queries(_settings(args, **{"serve.port": 8791, "serve.app_name": "bench"}), batches)
    ray.shutdown()

    rows = [
        ("actor path, columnar batches (in memory)", results["actor_path"]["samples_per_s"]),
        ("actor path, columnar batches + Redis write-through", results["actor_path_redis"]["samples_per_s"]),
        ("baseline: row-wise records validated per record", results["rowwise_baseline"]["samples_per_s"]),
        ("NATS JetStream path (JSON records, acked after store)", results["nats_path"]["samples_per_s"]),
    ]
    print(f"\n{'ingestion path':<56}{'samples/s':>14}")
    for name, v in rows:
        print(f"{name:<56}{v:>14,.0f}")
    q = results["queries"]
    print(f"\nfeature query latency: actor p50 {q['actor_p50_ms']:.2f} ms, p99 {q['actor_p99_ms']:.2f} ms; "
          f"HTTP p50 {q['http_p50_ms']:.2f} ms, p99 {q['http_p99_ms']:.2f} ms")
    a = results["actor_path"]
    print(f"memory per stored sample: {a['buffer_bytes_per_point']:.1f} B in ring buffers, "
          f"{a['process_bytes_per_point']:.1f} B of shard-process RSS growth "
          f"({a['points_held']:,} points; shard RSS {a['shard_rss_empty_mb']:.0f} MB empty -> {a['shard_rss_mb']:.0f} MB)")
    if "system_rss" in results:
        r = results["system_rss"]
        print(f"aiops up with {r['hosts']} hosts after {r['measured_after_s']:.0f}s: {r['rss_total_mb']:.0f} MB RSS "
              f"({r['pss_total_mb']:.0f} MB PSS) in {r['processes']} processes, {r['points_held']:,} points held")
    print(f"\nwrote {write_json(args.out, results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

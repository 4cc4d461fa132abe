"""`python -m jobs.chaos`: the engine on a two-node Ray cluster under steady load, one fault at a time.

As root: builds the cluster of `jobs.chaos_cluster` (head and worker in their own network namespaces,
this run's own Redis and NATS), starts the engine on it (`start_engine`: today `aiops up` as a driver in
the head's namespace), drives the load of `jobs.chaos_load`, then kills each planned thing
(`aiops.chaos.plan`) and waits for recovery before the next. Afterwards it reads back what the engine
stored (shard WAL + snapshots, the correlator's delivery ledger) and prints, per fault, acknowledged
samples and events lost (must be 0), duplicates, failed GETs and how long, and recovery times; JSON to
--out. Everything it made is removed at the end, also on failure.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from aiops.chaos.accounting import PhaseClock, build_rows
from aiops.chaos.plan import FULL_PLAN, SHORT_PLAN, Fault, match_actor, select_faults
from aiops.chaos.report import markdown_table, rich_table, write_json
from jobs.chaos_cluster import (Cleanup, ChaosNet, RayNode, Service, make_run_folder, namespaces_available, new_token,
                                ray_env, wait_port)
from jobs.chaos_load import METRIC, TARGET_PREFIX, LoadConfig, LoadDriver

API_PORT = int(os.environ.get("AIOPS_CHAOS_PORT", "8816"))
NAMESPACE = "aiops-chaos"
PREDICT_PATH = "/api/ai/predictions/failures/host-0001"  # a simulated host


@dataclass
class Cluster:
    net: ChaosNet
    folder: Path
    redis: Service
    nats: Service
    head: RayNode
    worker: RayNode
    token: str  # Ray cluster token (dashboard API)
    api_token: str
    env: dict[str, str]

    @property
    def dashboard(self) -> str:
        return f"http://{self.net.head_ip}:8265"

    def state(self, what: str) -> list[dict[str, Any]]:
        """Rows of the Ray state API (actors, nodes) over the dashboard, with the cluster token."""
        req = urllib.request.Request(f"{self.dashboard}/api/v0/{what}?limit=10000&detail=true",
                                     headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(req, timeout=15) as r:
            return json.load(r)["data"]["result"]["result"]


def build_cluster(cleanup: Cleanup, args: argparse.Namespace) -> Cluster:
    head_cpus, worker_cpus = args.head_cpus, args.worker_cpus
    folder = make_run_folder(cleanup, args.keep_files)  # removed last (after every process that writes there)
    net = ChaosNet(cleanup, net=args.net, prefix=args.prefix)
    net.up()
    redis = Service("redis", net.root_ip, 6391, folder, cleanup).start()
    nats = Service("nats", net.root_ip, 4232, folder, cleanup).start()
    token_path = new_token(folder)
    api_token = os.urandom(16).hex()
    env = ray_env(token_path, {"AIOPS_API_TOKEN": api_token})
    head = RayNode(net, net.head_ns, net.head_ip, head_cpus, folder / "h", env)
    head.start()
    worker = RayNode(net, net.work_ns, net.work_ip, worker_cpus, folder / "w", env, head_address=f"{net.head_ip}:6380")
    worker.start()
    return Cluster(net, folder, redis, nats, head, worker, token_path.read_text(), api_token, env)


def engine_config(c: Cluster) -> Path:
    """Settings for the chaos engine: this run's services, two replicas of each deployment, a small simulated
    fleet (its hosts give the label-free failure score a fleet to fit, and the predictions something to answer)."""
    cfg = {"ray": {"address": f"{c.net.head_ip}:6380", "namespace": NAMESPACE, "actor_num_cpus": 0.1},
           "store": {"num_shards": 2, "max_points_per_series": 100_000},
           "redis": {"url": c.redis.url, "snapshot_every_batches": 50},
           "nats": {"url": c.nats.url, "ack_wait_s": 10},
           "simulator": {"enabled": True, "hosts": 10, "vms_per_host": 2, "demo": False},
           "serve": {"host": "0.0.0.0", "port": API_PORT, "ingress_replicas": 2},
           "failure": {"predictor_replicas": 2, "retrain": {"enabled": False}, "registry_uri": str(seed_model(c.folder))},
           "security": {"response": {"audit_log": str(c.folder / "audit.jsonl")}},
           "api": {"token_file": str(c.folder / "api_token")}}
    path = c.folder / "chaos.yaml"
    path.write_text(json.dumps(cfg))  # JSON is YAML
    return path


def seed_model(folder: Path) -> Path:
    """A small promoted XGBoost model in a registry of the run's own, so predictions answer from the start
    (the label-free score needs minutes of telemetry first). Its quality is irrelevant here: only availability."""
    import numpy as np
    import pandas as pd

    from aiops.failure.models import XGBoostFailureModel
    from aiops.failure.registry import ModelRegistry, data_fingerprint
    from aiops.features.definitions import load_definitions
    from aiops.settings import Settings

    names = [d.name for d in load_definitions(Settings().store.features_file)]
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(400, len(names))), columns=names)
    y = (X.iloc[:, 0] > 1).astype(int).to_numpy()
    model = XGBoostFailureModel(n_rounds=20, eta=0.3, neg_sample_rate=1.0, n_bags=2, nthread=1).fit(X, y)
    reg = ModelRegistry(str(folder / "registry"))
    mv = reg.register("fleet-failure", model.save(folder / "model"), {"pr_auc": 0.6, "accuracy": 0.9, "precision": 0.8,
                      "recall": 0.9, "f1": 0.85}, names, data_fingerprint(X, y), {"horizon_s": 7200, "training_rows": len(X)})
    reg.promote("fleet-failure", mv.version, "pr_auc", 0.1)
    return folder / "registry"


def start_engine_up(c: Cluster, cleanup: Cleanup) -> subprocess.Popen:
    """The engine as today: `aiops up` as a driver in the head's namespace (swap this for a `serve deploy`)."""
    log = open(c.folder / "engine.log", "ab")
    argv = [sys.executable, "-m", "jobs.cli", "--config", str(engine_config(c)), "up", "--quiet"]
    proc = subprocess.Popen(c.net.exec_argv(c.net.head_ns, argv), env=c.env, stdout=log, stderr=subprocess.STDOUT,
                            cwd=str(Path(__file__).resolve().parents[1]))
    log.close()

    def stop() -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
    cleanup.push("engine driver", stop)
    return proc


START_ENGINE: Callable[[Cluster, Cleanup], subprocess.Popen] = start_engine_up


def wait_ready(c: Cluster, api: list[str], timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    headers = {"Authorization": f"Bearer {c.api_token}"}
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{api[0]}/api/ai/security/anomalies?limit=1", headers=headers, timeout=5).status_code == 200 \
                    and httpx.get(f"{api[0]}{PREDICT_PATH}", headers=headers, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(2)
    raise RuntimeError(f"engine not serving after {timeout}s; see {c.folder}/engine.log")


def spread(c: Cluster) -> dict[str, list[str]]:
    """Engine actors per node IP (the run checks both nodes carry some)."""
    nodes = {n["node_id"]: n["node_ip"] for n in c.state("nodes")}
    out: dict[str, list[str]] = {}
    for a in c.state("actors"):
        if a.get("state") == "ALIVE":
            out.setdefault(nodes.get(a.get("node_id"), "?"), []).append(a.get("name") or a.get("class_name"))
        elif a.get("state") in ("PENDING_CREATION", "RESTARTING") or (a.get("state") == "DEAD" and a.get("name")
                                                                        and not a["name"].startswith("SERVE_")):
            cause = (a.get("death_cause") or {}).get("actor_died_error_context", {}).get("error_message", "")
            out.setdefault(a["state"], []).append(f"{a.get('name') or a.get('class_name')} {cause[:160]}".strip())
    return out


def inject(c: Cluster, fault: Fault) -> str:
    """Carry out one fault; returns what was killed."""
    if fault.kind == "node":
        on_worker = spread(c).get(c.net.work_ip, [])
        return f"{c.worker.kill()} processes of {c.net.work_ns} killed; it carried {', '.join(sorted(on_worker)) or 'no actor'}"
    if fault.kind == "service":
        svc = c.redis if fault.target == "redis" else c.nats
        svc.kill()
        time.sleep(2.0)  # down for a while, then back on the same data
        svc.start()
        return f"{fault.target} killed (SIGKILL), down 2 s, restarted"
    head_id = next((n["node_id"] for n in c.state("nodes") if n["node_ip"] == c.net.head_ip and n["state"] == "ALIVE"), None)
    actor = match_actor(fault, c.state("actors"), head_id)
    if actor is None:
        raise RuntimeError(f"no live actor for {fault.target}")
    os.kill(int(actor["pid"]), signal.SIGKILL)
    where = "head" if actor.get("node_id") == head_id else "worker"
    return f"{actor.get('name') or actor.get('class_name')} (pid {actor['pid']}, {where}) SIGKILL"


def recovered(load: LoadDriver, since: float, now: float) -> bool:
    """A sample published after `since` is served and the last predictions answered at the first try from the
    head's proxy (a failover to the worker's is not recovery: the next fault may be the worker)."""
    if load.probe.back_after(since, now + 1) is None:
        return False
    recent = [r for r in load.requests.window(since, now) if r.kind == "predict"]
    return len(recent) >= 2 and all(r.ok and r.attempts == 1 for r in recent[-2:])


def run_faults(c: Cluster, load: LoadDriver, clock: PhaseClock, faults: tuple[Fault, ...], settle_s: float,
               max_recovery_s: float) -> dict[str, str]:
    """One fault at a time: inject, wait for recovery (and at least `settle_s`), restart a killed worker node."""
    details: dict[str, str] = {}
    time.sleep(settle_s)  # the baseline phase
    for fault in faults:
        t = time.time()
        clock.begin(fault.name, t)
        try:
            details[fault.name] = inject(c, fault)
        except Exception as exc:  # noqa: BLE001 - report the row, go on with the next fault
            details[fault.name] = f"not injected: {exc}"
        print(f"[{time.strftime('%X')}] {fault.name}: {details[fault.name]}", flush=True)
        deadline = t + max_recovery_s
        while time.time() < deadline and not (time.time() - t >= settle_s and recovered(load, t, time.time())):
            time.sleep(1.0)
        if not recovered(load, t, time.time()):
            details[fault.name] += f"; not recovered within {max_recovery_s:.0f} s"
        if fault.kind == "node":
            c.worker.start()
            details[fault.name] += "; worker restarted after recovery"
            time.sleep(settle_s)
    return details


def drain(c: Cluster, timeout: float) -> bool:
    """Wait until the collector acknowledged every message in the stream (nothing pending or unacked)."""
    import asyncio

    import nats

    async def pending() -> int:
        nc = await nats.connect(c.nats.url)
        try:
            info = await nc.jetstream().consumer_info("AIOPS", "aiops-collector")
            return info.num_pending + info.num_ack_pending
        finally:
            await nc.close()

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if asyncio.run(pending()) == 0:
                return True
        except Exception:  # noqa: BLE001 - NATS may still be coming back
            pass
        time.sleep(2)
    return False


def readback(c: Cluster, load: LoadDriver) -> tuple[dict, dict, int]:
    """Stored sample counts by id and security delivery counts by stream sequence, from this run's Redis."""
    import redis

    from aiops.chaos.readback import stored_delivery_counts, stored_sample_counts

    client = redis.Redis.from_url(c.redis.url)
    samples, bad = stored_sample_counts(client, 2, "aiops", METRIC, TARGET_PREFIX)
    events = {int(k.rsplit(":", 1)[1]): n for k, n in stored_delivery_counts(client, "aiops").items() if k.startswith("nats:AIOPS:")}
    client.close()
    return samples, events, bad


def experiment(args: argparse.Namespace, cleanup: Cleanup) -> int:
    from rich.console import Console

    console = Console(width=200)
    t0 = time.time()
    c = build_cluster(cleanup, args)
    console.print(f"cluster up in {time.time() - t0:.0f} s: head {c.net.head_ip} ({c.net.head_ns}), worker "
                  f"{c.net.work_ip} ({c.net.work_ns}); redis {c.redis.url}, nats {c.nats.url}; files {c.folder}")
    START_ENGINE(c, cleanup)
    api = [f"http://{c.net.head_ip}:{API_PORT}", f"http://{c.net.work_ip}:{API_PORT}"]
    wait_ready(c, api, args.start_timeout)
    console.print(f"engine serving after {time.time() - t0:.0f} s")
    clock = PhaseClock("warm-up", time.time())
    load = LoadDriver(LoadConfig(c.nats.url, api, c.api_token, msgs_per_s=args.rate, gets_per_s=args.gets,
                                 paths={"predict": PREDICT_PATH, "placement": "/api/ai/placement/plans",
                                        "incidents": "/api/ai/security/anomalies?limit=5"}), clock).start()
    faults = SHORT_PLAN if args.short else select_faults(args.faults, FULL_PLAN)
    try:
        warm = load.warm(args.start_timeout)
        placed = spread(c)
        console.print(f"load warm ({warm}) after {time.time() - t0:.0f} s; actors per node: "
                      + "; ".join(f"{ip}: {len(v)}" for ip, v in placed.items()))
        clock.begin("baseline", time.time())
        details = run_faults(c, load, clock, faults, args.settle, args.max_recovery)
    finally:
        end = time.time()
        load.stop()
    drained = drain(c, args.drain_timeout)
    samples, events, bad = readback(c, load)
    rows = build_rows(clock, load.book, samples, events, load.requests, load.probe, end, details)
    warm_row, rows = rows[0], rows[1:]  # the engine's first seconds under load: accounted, not a fault
    console.print(rich_table(rows))
    console.print(f"warm-up (not a fault, before the baseline): {warm_row.samples_lost} of {warm_row.samples_acked} "
                  f"acknowledged samples lost, {warm_row.http['http_failed']} of {warm_row.http['http_requests']} GETs failed")
    meta = {"command": " ".join(["python -m jobs.chaos", *sys.argv[1:]]), "drained": drained, "undecodable_records": bad,
            "actors_per_node": placed, "published_ticks": load.published, "publish_errors": load.publish_errors[:20],
            "get_attempt_errors": dict(load.attempt_errors), "actors_per_node_after": spread(c),
            "error_samples": load.error_samples, "warm_up": warm_row.as_dict(),
            "seconds": round(time.time() - t0, 1), "msgs_per_s": args.rate, "gets_per_s": args.gets,
            "head_cpus": args.head_cpus, "worker_cpus": args.worker_cpus, "engine": START_ENGINE.__name__,
            "markdown": markdown_table(rows)}
    out = write_json(Path(args.out), rows, meta)
    ok = drained and warm_row.ok and all(r.ok for r in rows)
    console.print(f"{'every acknowledged sample and event stored' if ok else 'LOSSES or undrained stream'}; "
                  f"drained={drained}; JSON: {out}")
    return 0 if ok else 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m jobs.chaos", description=__doc__.split("\n")[0])
    p.add_argument("--faults", nargs="*", help="fault names (substring, e.g. shard 'worker node'); default: all")
    p.add_argument("--short", action="store_true", help="two faults (a shard, the worker node): the CI version")
    p.add_argument("--rate", type=float, default=5.0, help="metrics messages per second (8 samples each)")
    p.add_argument("--gets", type=float, default=3.0, help="HTTP GETs per second")
    p.add_argument("--settle", type=float, default=15.0, help="seconds of load before the first fault and at least per fault")
    p.add_argument("--max-recovery", type=float, default=120.0, help="give up waiting for recovery after this")
    p.add_argument("--start-timeout", type=float, default=300.0)
    p.add_argument("--drain-timeout", type=float, default=180.0)
    p.add_argument("--head-cpus", type=int, default=2,
                   help="logical CPUs of the head: room for every actor once the worker is gone")
    p.add_argument("--worker-cpus", type=int, default=2)
    p.add_argument("--net", default="10.200.0", help="the /24 the namespaces use (first three octets)")
    p.add_argument("--prefix", default="aiopsch", help="names of the namespaces, veths and bridge (<= 9 characters)")
    p.add_argument("--out", default="results/chaos.json")
    p.add_argument("--keep-files", action="store_true", help="keep the run folder (logs, Redis AOF, JetStream store)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    why = namespaces_available()
    if why:
        print(f"jobs.chaos: {why}", file=sys.stderr)
        return 2
    cleanup = Cleanup()
    try:
        return experiment(args, cleanup)
    finally:
        failed = cleanup.run()
        if failed:
            print(f"cleanup: {failed}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())

"""Serving benchmark: GET /api/ai/predictions/failures/{id} beside a no-op Serve deployment.

    python -m jobs.bench_serving [--hosts 1800] [--seconds 15] [--model-dir results/models/fleet-failure]

Both run in the same Serve instance with the same deployment settings, measured with
wrk (apt-get install wrk) at 8 and 32 connections, one after the other in one run.
Also times the batch endpoint with 10,000 targets. Writes results/bench_serving.json.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from jobs.results import write_json

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

_LUA = """
math.randomseed(os.time())
request = function()
  return wrk.format("GET", string.format("/api/ai/predictions/failures/host-%04d", math.random(0, {hosts} - 1)))
end
"""


def _wrk(url: str, connections: int, seconds: float, script: str | None = None,
         headers: dict[str, str] | None = None) -> dict[str, float]:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--latency", "--timeout", "10s"]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {}
    for pct, val, unit in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        lat[pct] = float(val) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: .*", out)
    return {"requests_per_s": rps, "p50_ms": lat.get("50"), "p99_ms": lat.get("99"),
            "non_2xx": int(non2xx.group(1)) if non2xx else 0, "socket_errors": errors.group(0) if errors else ""}


def _ensure_model(registry_uri: str, model_dir: Path, name: str) -> str:
    from aiops.failure.models import FailureModel
    from aiops.failure.registry import ModelRegistry

    reg = ModelRegistry(registry_uri)
    if not (model_dir / "meta.json").exists():
        raise SystemExit(f"no model in {model_dir}: run `python -m jobs.eval_fleet_failure` first (it saves the model)")
    features = FailureModel.load(model_dir).feature_names
    mv = reg.register(name, model_dir, {"pr_auc": 1.0}, features, "bench", {"horizon_s": 7200})
    reg.promote(name, mv.version, "pr_auc", 0.0, force=True)
    return mv.version


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The benchmark's command line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=1800, help="1,800 hosts with their VMs give over 10,000 targets")
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--model-dir", default="results/models/fleet-failure")
    ap.add_argument("--port", type=int, default=8792)
    ap.add_argument("--out", default="results/bench_serving.json")
    return ap.parse_args(argv)


def _start_noop(cfg: Any) -> None:
    """A no-op Serve deployment with the ingress's settings: the ceiling the GET is compared with."""
    from ray import serve

    @serve.deployment(name="noop", max_ongoing_requests=cfg.max_ongoing_requests,
                      max_queued_requests=cfg.max_queued_requests, ray_actor_options={"num_cpus": cfg.ingress_num_cpus})
    class Noop:
        async def __call__(self, request: Any) -> dict[str, bool]:
            return {"ok": True}

    serve.run(Noop.bind(), name="noop", route_prefix="/noop")


def _wait_for_model(client: Any, hosts: int, version: str, timeout_s: float = 240) -> None:
    """Until the last host's prediction comes from `version` (the deployment picked the promotion up)."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        r = client.get(f"/api/ai/predictions/failures/host-{hosts - 1:04d}")
        if r.status_code == 200 and r.json()["model_version"] == version:
            return
        time.sleep(2)
    raise SystemExit("predictions never became available")


def _measure_gets(base: str, hosts: int, seconds: float, headers: dict[str, str]) -> dict[str, Any]:
    """wrk against the no-op and the GET endpoint (random hosts) at 8 and 32 connections, and their ratio."""
    results: dict[str, Any] = {}
    lua = Path(tempfile.mkstemp(suffix=".lua")[1])
    lua.write_text(_LUA.replace("{hosts}", str(hosts)))
    for conns in (8, 32):
        results[f"noop_c{conns}"] = _wrk(f"{base}/noop", conns, seconds)
        results[f"get_c{conns}"] = _wrk(base, conns, seconds, str(lua), headers)
        results[f"ratio_c{conns}"] = results[f"get_c{conns}"]["requests_per_s"] / results[f"noop_c{conns}"]["requests_per_s"]
    return results


def _measure_batch(client: Any) -> dict[str, Any]:
    """The batch endpoint with up to 10,000 targets: five times at 2 h (snapshot), once at another horizon."""
    ids = [t["target_id"] for t in client.get("/api/ai/targets").json()["targets"]][:10_000]
    times = []
    for _ in range(5):
        s = time.perf_counter()
        r = client.post("/api/ai/predictions/failures/batch", json={"target_ids": ids, "time_horizon": "2h"})
        times.append(time.perf_counter() - s)
        assert r.status_code == 200 and len(r.json()["predictions"]) == len(ids), r.text[:300]
    s = time.perf_counter()
    r = client.post("/api/ai/predictions/failures/batch", json={"target_ids": ids, "time_horizon": "6h"})
    uncached = time.perf_counter() - s
    return {"targets": len(ids), "median_s": statistics.median(times), "max_s": max(times), "other_horizon_s": uncached}


def _print_results(results: dict[str, Any]) -> None:
    print(f"\n{'endpoint':<44}{'conns':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
    for conns in (8, 32):
        for name, key in (("no-op Serve deployment", f"noop_c{conns}"), ("GET /api/ai/predictions/failures/{id}", f"get_c{conns}")):
            row = results[key]
            print(f"{name:<44}{conns:>6}{row['requests_per_s']:>10.0f}{row['p50_ms']:>9.1f}{row['p99_ms']:>9.1f}")
        print(f"{'  ratio GET / no-op':<44}{conns:>6}{results[f'ratio_c{conns}']:>10.2f}")
    b = results["batch"]
    print(f"\nbatch of {b['targets']} targets: median {b['median_s'] * 1000:.0f} ms, max {b['max_s'] * 1000:.0f} ms "
          f"(2 h horizon, from the fleet snapshot); other horizon (restated from the snapshot): {b['other_horizon_s'] * 1000:.0f} ms")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not shutil.which("wrk"):
        raise SystemExit("wrk is required: apt-get install wrk")

    import httpx
    import ray
    from ray import serve

    from actors.system import System
    from aiops.auth import api_headers, ensure_api_token
    from aiops.settings import Settings

    reg_dir = tempfile.mkdtemp(prefix="aiops-bench-registry-")
    settings = Settings().with_overrides(**{
        "simulator.hosts": args.hosts, "simulator.vms_per_host": 6, "simulator.speedup": 1.0,  # real time: the load a live fleet puts on the box
        "serve.port": args.port, "ray.namespace": f"bench-{uuid.uuid4().hex[:6]}",
        "failure.registry_uri": reg_dir, "failure.refresh_s": 10.0,
    })
    version = _ensure_model(reg_dir, Path(args.model_dir), settings.failure.model_name)
    settings = settings.model_copy(update={"api": ensure_api_token(settings.api, settings.serve.host)[0]})  # as `aiops up`
    headers = api_headers(settings.api)
    ray.init(num_cpus=2, object_store_memory=400 * 2**20, log_to_driver=False, include_dashboard=False)
    system = System(settings).start()
    _start_noop(settings.serve)
    client = httpx.Client(base_url=system.url, timeout=30, headers=headers)
    _wait_for_model(client, args.hosts, version)
    time.sleep(settings.failure.refresh_s)  # let the fleet snapshot reach the ingress
    results: dict[str, Any] = {"args": vars(args), "model_version": version, "targets": len(client.get("/api/ai/targets").json()["targets"])}
    results.update(_measure_gets(system.url, args.hosts, args.seconds, headers))
    results["batch"] = _measure_batch(client)
    serve.delete("noop")
    system.stop()
    ray.shutdown()
    shutil.rmtree(reg_dir, ignore_errors=True)
    _print_results(results)
    print(f"wrote {write_json(args.out, results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

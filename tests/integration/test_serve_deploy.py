"""`serve deploy configs/serve.yaml` on a fresh Ray cluster of its own serves every engine with no `aiops up`
process; the process that deployed it (`serve deploy`, then a SIGKILLed `serve run`) can go away; a second
deploy finds the same actors; a killed actor resumes its loop with no driver; `aiops down` removes it all."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import API_HEADERS, free_port
from tests.integration.helpers import delete_stream
from tests.integration.ray_head import ROOT, SERVE, RayHead, ray_head  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration

# one route per engine: platform (shards), failure (predictor deployment), placement (optimiser), security (correlator)
ROUTES = ("/api/ai/targets", "/api/ai/predictions/failures/host-0001", "/api/ai/placement/plans",
          "/api/ai/security/anomalies")
ACTORS = {"feature-shard-0", "feature-shard-1", "collector-simulator", "collector-nats", "failure-monitor",
          "placement-optimizer", "security-correlator", "retrain-scheduler"}
ACTOR_IDS = ("import json, ray\nfrom actors.deploy_actors import engine_actor_names\n"
             "ns = {ns!r}\nprint(json.dumps({{n: ray.get_actor(n, namespace=ns)._actor_id.hex() "
             "for n in engine_actor_names(ns)}}))")


def _config(tmp_path: Path, port: int, redis_url: str, nats_url: str, tag: str) -> Path:
    """configs/serve.yaml as shipped, with this test's port, namespace, Redis db and NATS stream."""
    cfg = yaml.safe_load((ROOT / "configs" / "serve.yaml").read_text())
    cfg["http_options"]["port"] = port
    cfg["applications"][0]["args"]["overrides"] = {
        "serve.port": port, "ray.namespace": f"aiops-deploy-{tag}", "ray.actor_num_cpus": 0.05,
        "redis.url": redis_url, "redis.key_prefix": f"aiops-d{tag}",
        "nats.url": nats_url, "nats.stream": f"AIOPS_D{tag}", "nats.subject_prefix": f"aiopsd{tag}",
        "nats.durable": f"dur{tag}", "simulator.hosts": 10, "simulator.vms_per_host": 2, "simulator.speedup": 300.0,
        "simulator.demo": False, "failure.retrain.enabled": True,
        "failure.retrain.min_new_episodes": 10**6,  # the schedule runs and finds the Jobs API, but submits nothing
        "security.response.audit_log": str(tmp_path / "audit.jsonl")}
    path = tmp_path / "serve.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _all_routes_answer(base: str, timeout: float) -> dict[str, int]:
    deadline, codes = time.time() + timeout, {}
    while time.time() < deadline:
        try:
            codes = {p: httpx.get(base + p, headers=API_HEADERS, timeout=10).status_code for p in ("/healthz", *ROUTES)}
        except httpx.HTTPError as exc:
            codes = {"error": str(exc)}
        if codes and all(c == 200 for c in codes.values()):
            return codes
        time.sleep(2)
    raise AssertionError(f"not every engine answered 200 within {timeout} s: {codes}")


def _stats(head: RayHead, ns: str, name: str) -> dict:
    code = f"import json\nprint(json.dumps(ray.get(ray.get_actor({name!r}, namespace={ns!r}).stats.remote(), timeout=30)))"
    return json.loads(head.python(code).strip().splitlines()[-1])


def test_serve_deploy_runs_the_engine_without_a_driver(ray_head: RayHead, clean_redis, nats_url, tmp_path):
    tag = uuid.uuid4().hex[:8]
    ns, port = f"aiops-deploy-{tag}", free_port()
    base = f"http://127.0.0.1:{port}"
    cfg = _config(tmp_path, port, clean_redis, nats_url, tag)
    try:
        ray_head.serve_deploy(cfg)  # `serve deploy` returned: no process of ours is left
        _all_routes_answer(base, 240)
        assert httpx.get(base + ROUTES[0], timeout=10).status_code == 401  # the token guards the deployed API
        first = json.loads(ray_head.python(ACTOR_IDS.format(ns=ns)).strip().splitlines()[-1])
        assert ACTORS <= set(first), first
        # the builder found the cluster's Jobs API for the retraining schedule by itself
        retrain = _stats(ray_head, ns, "retrain-scheduler")
        assert retrain["jobs_api"] == ray_head.dashboard, retrain

        # `serve run` of the same config, killed outright: the engine keeps serving, with the same actors
        run = subprocess.Popen([SERVE, "run", str(cfg), "-a", ray_head.address], env=ray_head.env, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(20)
        os.killpg(run.pid, signal.SIGKILL)
        run.wait(timeout=10)
        _all_routes_answer(base, 120)
        again = json.loads(ray_head.python(ACTOR_IDS.format(ns=ns)).strip().splitlines()[-1])
        assert again == first, "a second deploy must find the running actors, not make new ones"

        # a collector killed by Ray restarts and resumes its run loop by itself (nobody calls run())
        before = _stats(ray_head, ns, "collector-simulator")["samples_stored"]
        assert before > 0
        ray_head.python(f"ray.kill(ray.get_actor('collector-simulator', namespace={ns!r}), no_restart=False)")
        deadline, after = time.time() + 90, 0
        while time.time() < deadline and after <= 0:
            time.sleep(3)
            try:
                after = _stats(ray_head, ns, "collector-simulator")["samples_stored"]
            except AssertionError:
                after = 0  # restarting
        assert after > 0, "the restarted collector did not resume its loop"
        _down(ray_head, ns, base, tmp_path, check=True)
    finally:
        _down(ray_head, ns, base, tmp_path, check=False)  # idempotent: nothing left after the checked one
        asyncio.run(delete_stream(nats_url, f"AIOPS_D{tag}"))


def _down(head: RayHead, ns: str, base: str, tmp_path: Path, check: bool) -> None:
    """`aiops down` removes the application and every engine actor of the namespace."""
    settings = tmp_path / "down.yaml"
    settings.write_text(f"ray: {{namespace: {ns}}}\n")
    argv = (sys.executable, "-m", "jobs.cli", "--config", str(settings), "down", "--address", head.address)
    if not check:  # cleanup after a failure: the head goes anyway; never hide the failure behind this one
        try:
            head.run(*argv, timeout=60)
        except subprocess.TimeoutExpired:
            pass
        return
    res = head.run(*argv)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "removed Serve application 'aiops'" in res.stdout
    left = json.loads(head.python(ACTOR_IDS.format(ns=ns)).strip().splitlines()[-1])
    assert left == {}, left
    assert httpx.get(f"{base}/healthz", timeout=10).status_code == 404  # the proxy stays; the app is gone

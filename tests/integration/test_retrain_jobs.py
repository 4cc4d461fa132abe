"""The retraining schedule against real Ray Jobs APIs.

The session's test cluster runs without a dashboard, so the Jobs API test starts its own head (`ray start
--head --block` in a subprocess, token authentication on, its own temp dir and ports), lets the scheduler
submit `jobs.train_failure --dry-run` there and waits for the job to be recorded as succeeded. The head is
stopped through its own `ray start --block` process (never `ray stop`, which would stop every cluster on the
machine), and anything left under its temp dir is ended by PID.
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.conftest import free_port

HEAD_START_S = 240.0  # a 2-core machine shared by several sessions takes ~50 s to start a head
JOB_WAIT_S = 240.0


def _end_leftovers(temp_dir: str) -> None:
    """Processes of this head only: their command line names its unique temp dir."""
    import psutil

    for proc in psutil.process_iter(["pid", "cmdline"]):
        if temp_dir in " ".join(proc.info.get("cmdline") or []):
            try:
                proc.kill()
            except psutil.Error:
                pass


@pytest.fixture(scope="module")
def jobs_head() -> Iterator[dict[str, Any]]:
    """A separate Ray head with the dashboard (Jobs API) and token auth; its address and auth header."""
    from ray.job_submission import JobSubmissionClient

    ray_bin = Path(sys.executable).with_name("ray")
    if not ray_bin.exists():
        pytest.skip(f"no `ray` command beside {sys.executable}")
    token, temp_dir = secrets.token_hex(16), f"/tmp/aiops-rt-{secrets.token_hex(3)}"  # short: socket paths <= 107
    dash = free_port()
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token, "RAY_USAGE_STATS_ENABLED": "0"}
    cmd = [str(ray_bin), "start", "--head", "--block", f"--port={free_port()}", f"--dashboard-port={dash}",
           "--include-dashboard=true", "--dashboard-host=127.0.0.1", "--num-cpus=1", f"--temp-dir={temp_dir}",
           f"--dashboard-agent-listen-port={free_port()}", f"--metrics-export-port={free_port()}", "--disable-usage-stats"]
    log = open(Path(temp_dir + ".log"), "w")
    head = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    address, headers = f"http://127.0.0.1:{dash}", {"Authorization": f"Bearer {token}"}
    try:
        deadline, last = time.monotonic() + HEAD_START_S, None
        while time.monotonic() < deadline and head.poll() is None:
            try:
                JobSubmissionClient(address, headers=headers).list_jobs()
                break
            except Exception as exc:  # noqa: BLE001 - not up yet
                last = exc
                time.sleep(2)
        else:
            pytest.skip(f"the Ray dashboard did not start here within {HEAD_START_S:.0f} s "
                        f"(exit {head.poll()}; {last}); see {temp_dir}.log")
        yield {"address": address, "headers": headers}
    finally:
        if head.poll() is None:
            os.killpg(head.pid, signal.SIGTERM)  # the process group this fixture created
            try:
                head.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(head.pid, signal.SIGKILL)
        _end_leftovers(temp_dir)
        log.close()
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_scheduler_submits_a_job_and_records_it_succeeded(jobs_head: dict[str, Any], clean_redis: str,
                                                           tmp_path: Path) -> None:
    import redis

    from actors.retrain_scheduler import RetrainScheduler
    from aiops.settings import Settings

    prefix = f"rt-{secrets.token_hex(3)}"
    r = redis.Redis.from_url(clean_redis)
    r.zadd(f"{prefix}:events:host_failed", {f'{{"n":{i}}}': 1_767_225_600 + i for i in range(3)})
    settings = Settings().with_overrides(**{
        "redis.url": clean_redis, "redis.key_prefix": prefix, "failure.registry_uri": str(tmp_path / "registry"),
        "failure.retrain.min_new_episodes": 3, "failure.retrain.entrypoint_args": ["--dry-run", "--out",
                                                                                   str(tmp_path / "dry.json")]})
    sched = RetrainScheduler(settings, jobs_head["address"], headers=jobs_head["headers"])
    st = sched.tick()
    assert st["jobs_api"] == jobs_head["address"] and st["last_job_id"], st
    assert st["last_trigger"].startswith("3 new labelled episodes")
    deadline = time.monotonic() + JOB_WAIT_S
    while time.monotonic() < deadline and st["last_job_status"] not in ("SUCCEEDED", "FAILED", "STOPPED"):
        time.sleep(2)
        st = sched.tick()
    assert st["last_job_status"] == "SUCCEEDED", st
    assert st["last_outcome"] == "dry run: checks passed" and st["last_result"]["checks"]["redis"] == "ok"
    assert st["new_episodes"] == 0 and "waiting: 0/3" in st["decision"]
    # the state survives a restart: a new scheduler on the same Redis knows the job it ran
    again = RetrainScheduler(settings, jobs_head["address"], headers=jobs_head["headers"])
    assert again.state.job_id == st["last_job_id"] and again.state.trained_from_ts is not None


def test_actor_on_a_cluster_without_dashboard_reports_jobs_api_unavailable(ray_cluster: None, tmp_path: Path) -> None:
    import ray

    from actors.names import RETRAIN_NAME
    from actors.retrain_scheduler import start_retrain_scheduler
    from tests.integration.helpers import make_settings

    settings = make_settings(**{"failure.registry_uri": str(tmp_path / "registry"), "failure.retrain.check_every_s": 0.5})
    actor = start_retrain_scheduler(settings, None)
    run = actor.run.remote()
    try:
        deadline, st = time.monotonic() + 60, {}
        while time.monotonic() < deadline and not st.get("decision"):
            st = ray.get(actor.stats.remote(), timeout=30)
            time.sleep(0.5)
        assert st["name"] == RETRAIN_NAME and "jobs API unavailable" in st["decision"]
        assert st["jobs_api"] is None and st["last_job_id"] is None and st["errors"] == 0
    finally:
        ray.get(actor.stop.remote(), timeout=30)
        ray.get(run, timeout=30)
        ray.kill(actor, no_restart=True)

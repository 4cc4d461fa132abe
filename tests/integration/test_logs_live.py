"""A request's id, from the client's X-Request-ID header, shows up in the ingress' JSON access line and in the
JSON line of the shard actor the ingress called (real `aiops up`, its own Ray cluster, logs where Ray keeps them),
and the API token is in none of the logs."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import API_HEADERS, API_TOKEN, free_port

pytestmark = pytest.mark.integration


def _json_lines(logs: Path) -> list[dict]:
    out = []
    for f in logs.glob("**/*"):
        if not f.is_file() or f.suffix not in (".err", ".out", ".log"):
            continue
        for line in f.read_text(errors="replace").splitlines():
            if line.startswith("{") and '"logger"' in line:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    return out


def test_request_id_reaches_the_ingress_log_and_the_shard_log(tmp_path: Path) -> None:
    port = free_port()
    cfg = tmp_path / "aiops.yaml"
    cfg.write_text("simulator: {hosts: 5, vms_per_host: 1}\nray: {num_cpus: 2}\nlogging: {level: INFO}\n")
    ray_tmp = Path(tempfile.mkdtemp(prefix="rl", dir="/tmp"))  # short: Ray's socket paths live under it
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_TMPDIR": str(ray_tmp)}
    proc = subprocess.Popen([sys.executable, "-m", "jobs.cli", "--config", str(cfg), "up", "--port", str(port), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
    rid = f"it-{uuid.uuid4().hex[:12]}"
    feature = f"cpu_utilization_max_{uuid.uuid4().hex[:6]}"
    logs = ray_tmp / "ray" / "session_latest" / "logs"
    answer, access, shard = None, [], []

    def found() -> tuple[list[dict], list[dict]]:
        lines = [ln for ln in _json_lines(logs) if ln.get("request_id") == rid]
        return ([ln for ln in lines if ln["logger"] == "aiops.access"],
                [ln for ln in lines if ln["logger"] == "actors.feature_shard"])

    try:
        deadline, healthy = time.time() + 300, False  # a loaded 2-core machine: minutes
        while time.time() < deadline and not healthy and proc.poll() is None:
            try:
                healthy = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
            except httpx.HTTPError:
                pass
            time.sleep(1)
        if healthy:
            answer = httpx.post(f"http://127.0.0.1:{port}/api/ai/features/definitions", timeout=30,
                                headers={**API_HEADERS, "X-Request-ID": rid},
                                json={"name": feature, "source": "cpu_utilization", "aggregation": "max",
                                      "window": "30m", "importance": 0.3})
            httpx.get(f"http://127.0.0.1:{port}/healthz", headers={"X-Request-ID": "not plain: spaces"}, timeout=10)
            deadline = time.time() + 30
            while time.time() < deadline and not all(found()):
                time.sleep(1)
            access, shard = found()
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
        lines = _json_lines(logs)
        leaked = [str(f) for f in logs.glob("**/*") if f.is_file() and API_TOKEN in f.read_text(errors="replace")]
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert answer is not None, f"the API never became healthy (exit {proc.returncode}):\n{out[-3000:]}"
    assert answer.status_code == 201 and answer.headers["x-request-id"] == rid, answer.text
    assert access and access[0]["route"] == "/api/ai/features/definitions" and access[0]["status"] == 201, out[-2000:]
    assert shard and {ln["feature"] for ln in shard} == {feature}  # each shard logged the registration under the id
    assert {ln["pid"] for ln in access}.isdisjoint({ln["pid"] for ln in shard})  # two processes: ingress, actor
    assert not any(ln.get("request_id") == "not plain: spaces" for ln in lines)  # replaced, not logged
    assert not leaked, f"API token in logs: {leaked}"

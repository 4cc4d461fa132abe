"""`aiops up` as an operator runs it: its own local Ray cluster, API up within 60 s, clean Ctrl-C."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import API_HEADERS, free_port

pytestmark = pytest.mark.integration


def test_aiops_up_serves_features_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    cfg = tmp_path / "aiops.yaml"
    cfg.write_text("simulator: {hosts: 10, vms_per_host: 2, speedup: 120}\nray: {num_cpus: 2}\n")
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "jobs.cli", "--config", str(cfg), "up", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        start = time.time()
        feats = None
        while time.time() - start < 60 and feats is None:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/ai/features/host-0001", timeout=2, headers=API_HEADERS)
                feats = r.json() if r.status_code == 200 else None
            except httpx.HTTPError:
                pass
            time.sleep(1)
        assert feats is not None, "API did not serve features within 60 s"
        assert feats["features"]["cpu_utilization_mean_5m"] is not None
        time.sleep(2)
        later = httpx.get(f"http://127.0.0.1:{port}/api/ai/features/host-0001", timeout=5, headers=API_HEADERS).json()
        assert later["as_of"] > feats["as_of"]
        anonymous = httpx.get(f"http://127.0.0.1:{port}/api/ai/features/host-0001", timeout=5)
        assert anonymous.status_code == 401 and anonymous.json()["error"] == "unauthorized"
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0, out[-2000:]
    assert "API token: from $AIOPS_API_TOKEN" in out  # conftest sets it; without it a 0600 token file is made
    assert "API docs:" in out and "/docs" in out and "Ray dashboard:" in out and "shutting down" in out
    assert "Demo (simulator.demo): an SSH attack campaign" in out  # the default schedules the first-run demo

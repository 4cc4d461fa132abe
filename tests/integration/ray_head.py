"""A fresh Ray head of a test's own, as an operator starts one (`ray start --head`), torn down by its process group.

Every port it listens on is a free one and its temp dir is its own, so it never meets another cluster on the
machine (nor does `ray.init(address="auto")` elsewhere find it: the address file is in that temp dir). Token
auth is on with a token of its own, handed to every CLI call through `env`. Teardown signals only this head's
process group and the workers it started (never `ray stop`, which stops every cluster on the machine).
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
RAY = str(Path(sys.executable).with_name("ray"))
SERVE = str(Path(sys.executable).with_name("serve"))

__all__ = ["RayHead", "ray_head", "RAY", "SERVE", "ROOT"]


@dataclass
class RayHead:
    gcs_port: int
    dashboard_port: int
    temp_dir: Path
    env: dict[str, str]
    proc: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.gcs_port}"

    @property
    def dashboard(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.env['RAY_AUTH_TOKEN']}"}

    def serve_deploy(self, config: Path, attempts: int = 3) -> None:
        """`serve deploy` against this head; a connection the dashboard dropped is tried again (the deploy
        request is idempotent), any other failure fails the test."""
        for attempt in range(attempts):
            res = self.run(str(Path(sys.executable).with_name("serve")), "deploy", str(config), "-a", self.dashboard)
            if res.returncode == 0:
                return
            if "Connection aborted" not in res.stderr or attempt == attempts - 1:
                raise AssertionError(res.stderr[-3000:])
            time.sleep(10)

    def run(self, *argv: str, timeout: float = 180) -> subprocess.CompletedProcess:
        """A command against this cluster (its token, this checkout first on the path)."""
        return subprocess.run(list(argv), env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)

    def python(self, code: str, timeout: float = 120) -> str:
        """Run `code` in a driver attached to this cluster; returns its stdout (fails the test on an error)."""
        res = self.run(sys.executable, "-c", f"import ray\nray.init(address={self.address!r}, log_to_driver=False)\n"
                       + code, timeout=timeout)
        assert res.returncode == 0, res.stderr[-3000:]
        return res.stdout


def _start(head: RayHead, num_cpus: int) -> None:
    log = open(head.temp_dir / "ray-start.log", "w")
    head.proc = subprocess.Popen(
        [RAY, "start", "--head", "--block", f"--port={head.gcs_port}", f"--dashboard-port={head.dashboard_port}",
         "--dashboard-host=127.0.0.1", f"--ray-client-server-port={free_port()}",
         f"--dashboard-agent-listen-port={free_port()}", f"--metrics-export-port={free_port()}",
         f"--num-cpus={num_cpus}", "--object-store-memory=200000000", f"--temp-dir={head.temp_dir}",
         "--disable-usage-stats"],
        env=head.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 180
    while time.time() < deadline:
        assert head.proc.poll() is None, (head.temp_dir / "ray-start.log").read_text()[-3000:]
        try:  # the Serve REST API that `serve deploy` calls answers (the dashboard loads its modules late)
            if httpx.get(f"{head.dashboard}/api/serve/applications/", timeout=5, headers=head.auth).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise AssertionError("the Ray head did not start within 180 s")


def _session_pids(temp_dir: Path) -> set[int]:
    """Processes whose command line names this head's temp dir (raylet, GCS, dashboard, workers)."""
    out = set()
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if str(temp_dir).encode() in (p / "cmdline").read_bytes():
                    out.add(int(p.name))
            except OSError:
                continue
    return out


def _stop(head: RayHead) -> None:
    pids = _session_pids(head.temp_dir)
    if head.proc is not None and head.proc.poll() is None:
        os.killpg(head.proc.pid, signal.SIGTERM)  # `ray start --block` stops what it started
        try:
            head.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(head.proc.pid, signal.SIGKILL)
    time.sleep(1)
    for pid in pids | _session_pids(head.temp_dir):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


@pytest.fixture
def ray_head() -> Iterator[RayHead]:
    temp_dir = Path(tempfile.mkdtemp(prefix="aiops-rh-", dir="/tmp"))  # short: Ray's socket paths are length-bound
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16),
           "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(ROOT)}
    env.pop("RAY_ADDRESS", None)
    head = RayHead(free_port(), free_port(), temp_dir, env)
    try:
        _start(head, num_cpus=2)
        yield head
    finally:
        _stop(head)
        shutil.rmtree(temp_dir, ignore_errors=True)

"""The plumbing of `jobs.chaos`: a two-node Ray cluster on one machine, in two network namespaces.

Layout (as root): a bridge in the root namespace holds `<net>.254`, where this run's own Redis (AOF,
fsync always) and NATS JetStream (file store) listen; the Ray head runs in namespace `<prefix>-head`
(`<net>.1`) and a Ray worker in `<prefix>-work` (`<net>.2`), each behind a veth on the bridge. Every
process of a node lives in its namespace, so `ip netns pids` is exactly "all of that node's processes"
(the worker-node fault kills them all). The services are this run's own instances on their own ports,
so restarting them (a fault) touches nothing the machine's other users rely on. Everything made here is
undone by `Cleanup.run()` (also at exit and on SIGTERM), failures included.
"""
from __future__ import annotations

import atexit
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

__all__ = ["Cleanup", "ChaosNet", "Service", "RayNode", "namespaces_available", "wait_port", "ray_env"]

REPO = Path(__file__).resolve().parents[1]


def namespaces_available() -> str | None:
    """None when this process can make network namespaces; otherwise why not."""
    if os.geteuid() != 0:
        return "needs root (ip netns)"
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2)"
    for tool in ("redis-server", "nats-server"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            return f"no {tool}"
    return None


def _run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=60)


def wait_port(host: str, port: int, timeout: float, ns: str | None = None) -> bool:
    """Wait until host:port accepts connections (from the root namespace, or from `ns`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ns is None:
            try:
                with socket.create_connection((host, port), timeout=0.5):
                    return True
            except OSError:
                pass
        elif _run(["ip", "netns", "exec", ns, sys.executable, "-c",
                   f"import socket; socket.create_connection(({host!r}, {port}), timeout=0.5)"], check=False).returncode == 0:
            return True
        time.sleep(0.3)
    return False


class Cleanup:
    """Undo steps run newest first, once, whatever happened (atexit and SIGTERM too)."""

    def __init__(self) -> None:
        self._steps: list[tuple[str, Callable[[], None]]] = []
        self._done = False
        atexit.register(self.run)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # exit -> atexit -> run()

    def push(self, what: str, step: Callable[[], None]) -> None:
        self._steps.append((what, step))

    def run(self) -> list[str]:
        """Run every step; returns the ones that failed (each is still attempted)."""
        failed = []
        while self._steps:
            what, step = self._steps.pop()
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - keep undoing the rest
                failed.append(f"{what}: {exc}")
        self._done = True
        return failed


@dataclass
class ChaosNet:
    """Bridge + two namespaces with a veth each; addresses `<net>.1` (head), `.2` (worker), `.254` (root)."""

    cleanup: Cleanup
    net: str = "10.200.0"
    prefix: str = "aiopsch"

    @property
    def head_ns(self) -> str:
        return f"{self.prefix}-head"

    @property
    def work_ns(self) -> str:
        return f"{self.prefix}-work"

    @property
    def head_ip(self) -> str:
        return f"{self.net}.1"

    @property
    def work_ip(self) -> str:
        return f"{self.net}.2"

    @property
    def root_ip(self) -> str:
        return f"{self.net}.254"

    def up(self) -> None:
        existing = _run(["ip", "-o", "addr"]).stdout
        if f" {self.net}." in existing or self.head_ns in _run(["ip", "netns", "list"]).stdout:
            raise RuntimeError(f"{self.net}.0/24 or namespace {self.head_ns} already in use; pick another --net")
        br = f"{self.prefix}-br"
        _run(["ip", "link", "add", br, "type", "bridge"])
        self.cleanup.push(f"bridge {br}", lambda: _run(["ip", "link", "del", br]))
        _run(["ip", "addr", "add", f"{self.root_ip}/24", "dev", br])
        _run(["ip", "link", "set", br, "up"])
        for ns, ip, tag in ((self.head_ns, self.head_ip, "h"), (self.work_ns, self.work_ip, "w")):
            self._namespace(br, ns, ip, tag)

    def _namespace(self, br: str, ns: str, ip: str, tag: str) -> None:
        outer, inner = f"{self.prefix}-{tag}0", f"{self.prefix}-{tag}1"
        _run(["ip", "netns", "add", ns])
        # deleting a namespace frees its veth only once the kernel drops the namespace (late, with sockets
        # lingering): kill its processes, delete the pair ourselves, then the namespace
        self.cleanup.push(f"namespace {ns}", lambda: self._delete_ns(ns, outer))
        _run(["ip", "link", "add", outer, "type", "veth", "peer", "name", inner])
        _run(["ip", "link", "set", outer, "master", br])
        _run(["ip", "link", "set", outer, "up"])
        _run(["ip", "link", "set", inner, "netns", ns])
        for argv in (["ip", "addr", "add", f"{ip}/24", "dev", inner], ["ip", "link", "set", inner, "up"],
                     ["ip", "link", "set", "lo", "up"]):
            _run(["ip", "netns", "exec", ns, *argv])

    def pids(self, ns: str) -> list[int]:
        out = _run(["ip", "netns", "pids", ns], check=False).stdout
        return [int(p) for p in out.split() if p.isdigit()]

    def kill_all(self, ns: str) -> int:
        """SIGKILL every process in the namespace (a node losing power); returns how many were signalled."""
        n = 0
        for _ in range(5):  # ray may fork while we kill
            pids = self.pids(ns)
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                    n += 1
                except ProcessLookupError:
                    pass
            time.sleep(0.3)
        return n

    def _delete_ns(self, ns: str, veth: str) -> None:
        self.kill_all(ns)
        _run(["ip", "link", "del", veth], check=False)
        _run(["ip", "netns", "del", ns], check=False)

    def exec_argv(self, ns: str, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", ns, *argv]


@dataclass
class Service:
    """A Redis or NATS server of this run's own (a temp folder, a port of its own), restartable."""

    kind: str  # "redis" | "nats"
    host: str
    port: int
    folder: Path
    cleanup: Cleanup
    proc: subprocess.Popen | None = None
    restarts: int = 0

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0" if self.kind == "redis" else f"nats://{self.host}:{self.port}"

    def _argv(self) -> list[str]:
        if self.kind == "redis":  # every acknowledged write is on disk before Redis answers it
            return ["redis-server", "--bind", self.host, "--port", str(self.port), "--dir", str(self.folder),
                    "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--protected-mode", "no"]
        exe = shutil.which("nats-server") or "/usr/sbin/nats-server"
        return [exe, "-a", self.host, "-p", str(self.port), "-js", "-sd", str(self.folder / "js")]

    def start(self) -> "Service":
        if self.proc is None:
            self.cleanup.push(f"{self.kind} server", self.stop)
        log = open(self.folder / f"{self.kind}.log", "ab")
        self.proc = subprocess.Popen(self._argv(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        if not wait_port(self.host, self.port, 30):
            raise RuntimeError(f"{self.kind} did not listen on {self.host}:{self.port} (see {self.folder})")
        return self

    def kill(self) -> None:
        """SIGKILL (a crash, not a clean shutdown)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def restart(self) -> None:
        self.kill()
        self.restarts += 1
        self.start()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def ray_env(token_path: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of every Ray process and driver of the run: token auth on, this worktree importable,
    node failure noticed in ~5 s (health checks every second, 5 misses)."""
    env = dict(os.environ)
    env.update({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token_path), "RAY_USAGE_STATS_ENABLED": "0",
                "PYTHONPATH": str(REPO), "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
                "RAY_health_check_period_ms": "1000", "RAY_health_check_failure_threshold": "5",
                "RAY_health_check_timeout_ms": "2000"})
    env.pop("RAY_ADDRESS", None)
    env.update(extra or {})
    return env


def new_token(folder: Path) -> Path:
    """A fresh Ray cluster token for this run (never the user's ~/.ray/auth_token)."""
    path = folder / "ray_token"
    path.write_text(secrets.token_hex(32))
    path.chmod(0o600)
    return path


@dataclass
class RayNode:
    """`ray start` for one node inside its namespace; stopped by killing the namespace's processes."""

    net: ChaosNet
    ns: str
    ip: str
    num_cpus: int
    temp_dir: Path
    env: dict[str, str]
    head_address: str | None = None  # None: this is the head
    extra_args: list[str] = field(default_factory=list)

    def start(self, timeout: float = 180, attempts: int = 3) -> None:
        """`ray start`, retried from scratch (the namespace's processes killed) when it fails: Ray waits a fixed
        30 s for its raylet to register, which a loaded machine can miss."""
        ray = str(Path(sys.executable).parent / "ray")
        argv = [ray, "start", f"--node-ip-address={self.ip}", f"--num-cpus={self.num_cpus}",
                f"--temp-dir={self.temp_dir}", "--object-store-memory=200000000", "--disable-usage-stats"]
        if self.head_address is None:
            argv += ["--head", "--port=6380", "--dashboard-host=0.0.0.0", "--dashboard-port=8265",
                     "--ray-client-server-port=10001"]
        else:
            argv += [f"--address={self.head_address}"]
        for attempt in range(attempts):
            out = subprocess.run(self.net.exec_argv(self.ns, argv + self.extra_args), env=self.env, capture_output=True,
                                 text=True, timeout=timeout)
            if out.returncode == 0:
                return
            self.kill()
            time.sleep(2)
        raise RuntimeError(f"ray start in {self.ns} failed ({out.returncode}): {out.stderr[-2000:] or out.stdout[-2000:]}")

    def kill(self) -> int:
        return self.net.kill_all(self.ns)


def make_run_folder(cleanup: Cleanup, keep: bool = False) -> Path:
    """A short temp folder (Ray's socket paths must stay under ~100 characters)."""
    folder = Path(tempfile.mkdtemp(prefix="aiopsch-", dir="/tmp"))
    if not keep:
        cleanup.push(f"folder {folder}", lambda: shutil.rmtree(folder, ignore_errors=True))
    return folder

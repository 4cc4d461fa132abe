"""Shared fixtures: one real Ray cluster per session, real Redis/NATS/Prometheus."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.2")

from aiops.settings import Settings  # noqa: E402

REDIS_URL = os.environ.get("AIOPS_TEST_REDIS", "redis://127.0.0.1:6379/15")
NATS_URL = os.environ.get("AIOPS_TEST_NATS", "nats://127.0.0.1:4222")
SERVE_PORT = int(os.environ.get("AIOPS_TEST_SERVE_PORT", "8765"))
# API tokens (aiops.auth): role tokens through the default api.tokens env entries, and AIOPS_API_TOKEN with
# every role. Set here for this process (clients, `aiops up` subprocesses) and handed to every Ray worker.
API_TOKEN = "test-api-token-all-roles"
API_HEADERS = {"Authorization": f"Bearer {API_TOKEN}"}
SECURITY_TOKENS = {"AIOPS_SECURITY_RESPONDER_TOKEN": "test-responder", "AIOPS_SECURITY_VIEWER_TOKEN": "test-viewer",
                   "AIOPS_SECURITY_APPROVER_TOKEN": "test-approver", "AIOPS_API_TOKEN": API_TOKEN}
os.environ.update(SECURITY_TOKENS)


# Fixtures that start Ray or talk to Redis, NATS or Prometheus: a test that uses one (directly or through
# another fixture) needs the services, so it is marked `integration` wherever it lives (`-m "not integration"`
# then runs the pure unit tests, with no services).
SERVICE_FIXTURES = frozenset({"ray_cluster", "redis_url", "clean_redis", "nats_url", "prometheus_stack"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that uses a service fixture as `integration`."""
    for item in items:
        if SERVICE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return Settings().data_dir


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    import ray

    ray.init(num_cpus=2, object_store_memory=200 * 1024 * 1024, log_to_driver=False, include_dashboard=False,
             namespace="aiops-test", runtime_env={"env_vars": SECURITY_TOKENS})
    yield
    try:
        from ray import serve

        serve.shutdown()
    finally:
        ray.shutdown()


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        pytest.fail(f"Redis is required at {REDIS_URL} (run scripts/services.sh): {exc}")
    return REDIS_URL


@pytest.fixture
def clean_redis(redis_url: str) -> str:
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    return redis_url


@pytest.fixture(scope="session")
def nats_url() -> str:
    if not _port_open("127.0.0.1", 4222):
        pytest.fail(f"NATS JetStream is required at {NATS_URL} (run scripts/services.sh)")
    return NATS_URL


@pytest.fixture(scope="session")
def prometheus_stack() -> Iterator[str]:
    """A real node exporter scraped by a real Prometheus, both on free ports."""
    prom = shutil.which("prometheus")
    exporter = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    if not prom or not exporter:
        pytest.fail("prometheus and prometheus-node-exporter are required (run scripts/services.sh)")
    ne_port, prom_port = free_port(), free_port()
    tmp = Path(tempfile.mkdtemp(prefix="aiops-prom-"))
    (tmp / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['127.0.0.1:{ne_port}']\n"
    )
    procs = [
        subprocess.Popen([exporter, f"--web.listen-address=127.0.0.1:{ne_port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen([prom, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'data'}",
                          f"--web.listen-address=127.0.0.1:{prom_port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    try:
        deadline = time.time() + 30
        while time.time() < deadline and not _port_open("127.0.0.1", prom_port):
            time.sleep(0.2)
        yield f"http://127.0.0.1:{prom_port}"
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)

"""Helpers shared by the integration tests: settings in a fresh namespace, waiting, NATS, the system fixture."""
from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from actors.system import System
from aiops.settings import Settings
from tests.conftest import SERVE_PORT

# The tests replay fixed 2026-01-01 timestamps: old data is allowed, the future bound stays on.
REPLAY_MAX_AGE_S = 20 * 365 * 86400.0

__all__ = ["REPLAY_MAX_AGE_S", "make_settings", "system_factory", "wait_for", "publish", "consumer_drained", "delete_stream",
           "wait_consumer", "nats_settings", "try_call"]


def make_settings(**overrides) -> Settings:
    ns = f"aiops-it-{uuid.uuid4().hex[:8]}"
    base = {"ray.namespace": ns, "serve.port": SERVE_PORT, "serve.app_name": "aiops-test", "simulator.hosts": 20,
            "simulator.vms_per_host": 3, "simulator.speedup": 300.0, "ray.actor_num_cpus": 0.05,
            "ingest.max_age_s": REPLAY_MAX_AGE_S,
            # each test engine audits to its own file, never the project's results/security_audit.jsonl
            "security.response.audit_log": str(Path(tempfile.gettempdir()) / f"{ns}-audit.jsonl")}
    base.update(overrides)
    return Settings().with_overrides(**base)


@pytest.fixture
def system_factory(ray_cluster):
    started: list[System] = []

    def make(settings: Settings, **kw) -> System:
        s = System(settings).start(**kw)
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


def wait_for(pred, timeout: float, every: float = 0.5, what: str = "condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def try_call(fn):
    try:
        return fn()
    except Exception:
        return None


async def publish(nats_url: str, subject_prefix: str, messages: list[tuple[str, bytes]]) -> None:
    import nats

    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    for subject, payload in messages:
        await js.publish(f"{subject_prefix}.{subject}", payload)
    await nc.close()


async def consumer_drained(nats_url: str, stream: str, durable: str) -> bool:
    import nats

    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().consumer_info(stream, durable)
        return info.num_pending == 0 and info.num_ack_pending == 0
    finally:
        await nc.close()


async def delete_stream(nats_url: str, stream: str) -> None:
    import nats

    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().delete_stream(stream)
    except Exception:
        pass
    await nc.close()


def wait_consumer(settings: Settings) -> None:
    wait_for(lambda: try_call(lambda: asyncio.run(consumer_drained(settings.nats.url, settings.nats.stream, settings.nats.durable)) or True),
          60, what="the NATS collector to create its stream and consumer")


def nats_settings(nats_url: str, redis_url: str | None, **extra) -> Settings:
    tag = uuid.uuid4().hex[:8]
    return make_settings(**{"simulator.enabled": False, "nats.url": nats_url, "nats.stream": f"AIOPS_T{tag}",
                        "nats.subject_prefix": f"aiopst{tag}", "nats.durable": f"dur{tag}", "nats.fetch_batch": 20,
                        "nats.ack_wait_s": 2.0, "redis.url": redis_url, "redis.key_prefix": f"aiops-t{tag}",
                        "redis.snapshot_every_batches": 25, **extra})

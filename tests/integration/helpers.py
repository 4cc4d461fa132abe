"""Helpers shared by the integration tests: settings in a fresh namespace, waiting, NATS, the system fixture."""
from __future__ import annotations

import asyncio
import os
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
           "wait_consumer", "nats_settings", "try_call", "register_test_model"]


def make_settings(**overrides) -> Settings:
    ns = f"aiops-it-{uuid.uuid4().hex[:8]}"
    base = {"ray.namespace": ns, "serve.port": SERVE_PORT, "serve.app_name": "aiops-test", "simulator.hosts": 20,
            "simulator.vms_per_host": 3, "simulator.speedup": 300.0, "ray.actor_num_cpus": 0.05,
            "ingest.max_age_s": REPLAY_MAX_AGE_S, "simulator.demo": False,  # tests schedule what they check
            # never the user's own MLflow store (~/.local/share/aiops); tests that register models pass their own
            "failure.registry_uri": str(Path(tempfile.gettempdir()) / f"aiops-it-registry-{os.getpid()}"),
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


def register_test_model(reg, tmp, seed: int, promote: bool = True, threshold: float | None = None) -> str:
    """Register (and promote) a small XGBoost model on the real feature names; returns its version."""
    import numpy as np
    import pandas as pd

    from aiops.failure.models import XGBoostFailureModel
    from aiops.failure.registry import data_fingerprint
    from aiops.features.definitions import load_definitions
    from aiops.settings import PROJECT_ROOT

    names = [d.name for d in load_definitions(PROJECT_ROOT / "configs" / "features.yaml")]
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(400, len(names))), columns=names)
    y = (X.iloc[:, 0] > 1).astype(int).to_numpy()
    model = XGBoostFailureModel(n_rounds=20, eta=0.3, neg_sample_rate=1.0, n_bags=2, nthread=1).fit(X, y)
    folder = model.save(tmp / f"model-{seed}")
    mv = reg.register("fleet-failure", folder, {"pr_auc": 0.5 + seed / 100, "accuracy": 0.9, "precision": 0.8, "recall": 0.9, "f1": 0.85},
                      names, data_fingerprint(X, y), {"horizon_s": 7200, "training_rows": len(X),
                                                      **({"decision_threshold": threshold} if threshold else {})})
    if promote:
        assert reg.promote("fleet-failure", mv.version, "pr_auc", 0.1).promoted
    return mv.version

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

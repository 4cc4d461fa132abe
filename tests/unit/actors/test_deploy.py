"""The Serve builder's pieces without a cluster: args -> Settings, the actor table, self-starting run loops."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import ValidationError

import actors.deploy_actors as deploy_actors
from actors.deploy import settings_from_args
from actors.deploy_actors import engine_specs, self_running
from actors.names import CORRELATOR_NAME, MONITOR_NAME, OPTIMIZER_NAME, RETRAIN_NAME, SHARD_PREFIX
from aiops.settings import ConfigError


def test_args_layer_file_then_environment_then_overrides(tmp_path: Path):
    cfg = tmp_path / "aiops.yaml"
    cfg.write_text("store: {num_shards: 3}\nnats: {url: nats://file:4222}\nredis: {url: redis://file:6379/0}\n")
    env = {"AIOPS_REDIS_URL": "redis://env:6379/1", "AIOPS_NATS_URL": ""}  # an empty variable changes nothing
    s = settings_from_args({"config": str(cfg), "overrides": {"store.num_shards": 4}}, environ=env)
    assert (s.store.num_shards, s.redis.url, s.nats.url) == (4, "redis://env:6379/1", "nats://file:4222")
    s = settings_from_args({"config": str(cfg), "overrides": {"redis.url": "redis://arg:6379/2"}}, environ=env)
    assert s.redis.url == "redis://arg:6379/2"
    assert settings_from_args(None, environ={}).serve.app_name == "aiops"


def test_bad_args_fail_the_deploy_with_the_key_named(tmp_path: Path):
    with pytest.raises(ValidationError, match="confg"):
        settings_from_args({"confg": "x.yaml"}, environ={})
    with pytest.raises(ConfigError, match="num_shards"):
        settings_from_args({"overrides": {"store.num_shards": 0}}, environ={})


def test_actor_table_orders_and_sizes_every_long_lived_actor():
    s = settings_from_args({"overrides": {"nats.url": "nats://127.0.0.1:4222", "store.num_shards": 3}}, environ={})
    specs = engine_specs(s, "http://127.0.0.1:8265")
    names = [sp.name for sp in specs]
    assert len(set(names)) == len(names)
    assert names[:3] == [f"{SHARD_PREFIX}{i}" for i in range(3)]
    assert names.index(CORRELATOR_NAME) < names.index("collector-simulator") < names.index("collector-nats")
    assert {MONITOR_NAME, OPTIMIZER_NAME, RETRAIN_NAME} <= set(names)
    assert all(0 < sp.num_cpus < 1 for sp in specs)
    loops = {sp.name for sp in specs if sp.runs}
    assert loops == {CORRELATOR_NAME, "collector-simulator", "collector-nats", MONITOR_NAME, RETRAIN_NAME}
    assert {sp.name for sp in specs if sp.needs_app} == {MONITOR_NAME}  # it calls the predictor deployment
    no_retrain = s.with_overrides(**{"failure.retrain.enabled": False})
    assert RETRAIN_NAME not in [sp.name for sp in engine_specs(no_retrain)]
    ingest_only = [sp.name for sp in engine_specs(s, engines=False)]
    assert ingest_only == names[:3] + ["collector-simulator", "collector-nats"]


class Ticker:
    """A loop that fails on its second round once, the way a collector's loop may."""

    def __init__(self) -> None:
        self.rounds = 0
        self.starts = 0
        self._stop = asyncio.Event()

    async def run(self) -> None:
        self.starts += 1
        while not self._stop.is_set():
            self.rounds += 1
            if self.rounds == 2:
                raise RuntimeError("lost the connection")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._stop.set()


def test_self_running_starts_its_loop_restarts_it_after_a_crash_and_stops(monkeypatch):
    monkeypatch.setattr(deploy_actors, "RESTART_BACKOFF_S", (0.01, 0.02))
    cls = self_running(Ticker)
    assert cls.__name__ == "Ticker"

    async def scenario() -> tuple[int, int, bool]:
        t = cls()  # constructed on a running loop, as Ray constructs an async actor
        await asyncio.sleep(0.2)
        waiting = asyncio.get_running_loop().create_task(t.run())  # a remote run() joins, never a second loop
        await asyncio.sleep(0.05)
        await t.stop()
        await asyncio.wait_for(waiting, 1)
        rounds = t.rounds
        await asyncio.sleep(0.05)
        return t.starts, rounds, t.rounds == rounds

    starts, rounds, stayed_stopped = asyncio.run(scenario())
    assert starts == 2 and rounds > 2 and stayed_stopped

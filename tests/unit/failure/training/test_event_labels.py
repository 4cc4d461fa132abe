"""The learning loop's labels come from stored failure events: remove the events and the labels go."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aiops.failure.training.event_labels import failures_from_events
from aiops.failure.training.fleet_dataset import FleetDatasetConfig, build_fleet_dataset, relabel
from aiops.failure.training.store_dataset import dataset_from_shards
from aiops.telemetry.event_store import MemoryEventStore, health_events
from aiops.telemetry.simulator import FleetSimulator

H = 4 * 3600.0
CFG = FleetDatasetConfig(hosts=5, vms_per_host=1, days=1.5, scenario_rate_per_day=1.5, attack_rate_per_day=0.0,
                         seed=3, horizon_s=H)


def _ev(ts, typ, host, **kw):
    return {"ts": ts, "type": typ, "host": host, "source": "test", **kw}


def test_failures_from_events_hosts_vms_collateral_and_recovery():
    events = [_ev(1000.0, "host_failed", "h1", reason="disk"), _ev(1000.0, "vm_crashed", "h1", vm_id="v1", reason="host_failed"),
              _ev(1000.0, "host_failed", "h1", reason="disk"),  # redelivered
              _ev(5000.0, "host_recovered", "h1"), _ev(2000.0, "vm_crashed", "h2", vm_id="v2", reason="oom_killed"),
              _ev(9000.0, "host_failed", "h3", reason="psu")]
    f = failures_from_events(events, H)
    assert f["target_id"].tolist() == ["h1", "v2", "h3"]  # the collateral VM crash is not a failure of its own
    assert f["kind"].tolist() == ["disk_failure", "memory_leak_oom", "host_failure"]
    assert f["level"].tolist() == ["host", "vm", "host"]
    assert f["recovery_ts"].iloc[0] == 5000.0 and np.isinf(f["recovery_ts"].iloc[2])
    assert (f["onset_ts"] == f["failure_ts"] - H).all()


def test_per_kind_label_horizon_labels_only_the_rows_that_can_warn():
    """A kind with a shorter label horizon gets positives only that close to its failure; rows further back are 0
    (kept, so alert episodes over them are still scored); kinds not listed use the full horizon."""
    from aiops.failure.training.fleet_dataset import label_from_events

    ts = np.arange(0.0, 20_000.0, 600.0)
    raw = pd.DataFrame({"ts": np.tile(ts, 2), "target_id": ["h1"] * ts.size + ["h2"] * ts.size,
                        "target_type": "host", "host_id": ["h1"] * ts.size + ["h2"] * ts.size})
    events = [_ev(15000.0, "host_failed", "h1", reason="thermal"), _ev(15000.0, "host_failed", "h2", reason="disk")]
    frame, _, _ = label_from_events(raw, events, H, 1e9, {"thermal_runaway": 3600.0})
    pos = frame[frame["label"] == 1].groupby("target_id")["ts"].agg(["min", "max", "count"])
    assert pos.loc["h1", "min"] >= 15000.0 - 3600.0 and pos.loc["h1", "count"] == 6
    assert pos.loc["h2", "min"] >= 15000.0 - H and pos.loc["h2", "count"] == 24
    assert len(frame[(frame["target_id"] == "h1") & (frame["ts"] < 15000.0)]) == 25  # nothing dropped
    flat, _, _ = label_from_events(raw, events, H, 1e9)
    assert int(flat["label"].sum()) == 48


def test_event_store_dedups_filters_and_queries_by_range():
    store = MemoryEventStore()
    evs = [_ev(10.0, "host_failed", "h1", reason="disk"), _ev(20.0, "vm_lifecycle", "h1"), _ev(30.0, "host_recovered", "h1")]
    assert store.append(evs) == 2 and store.append(evs) == 0  # only health events, once
    assert [e["type"] for e in store.query(0, 25)] == ["host_failed"]
    assert [e["type"] for e in store.query(0, 100, ["host_recovered"])] == ["host_recovered"]
    assert health_events([{"ts": float("nan"), "type": "host_failed", "host": "h"}]) == []


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    """A small simulated fleet replayed through the feature store; reading the ground truth fails the test."""
    mp = pytest.MonkeyPatch()
    mp.setattr(FleetSimulator, "ground_truth", lambda self: pytest.fail("training read the simulator's ground truth"))
    store = MemoryEventStore()
    try:
        ds = build_fleet_dataset(CFG, store=store)
    finally:
        mp.undo()
    return ds, store


def test_replay_labels_come_from_the_stored_events_only(replay):
    ds, store = replay
    events = store.query(ds.start_ts - 1, ds.end_ts)
    assert ds.frame["label"].sum() > 0 and len(ds.scenarios) > 0
    failed = {e["host"] for e in events if e["type"] == "host_failed"}
    positives = set(ds.frame.loc[(ds.frame["label"] == 1) & (ds.frame["target_type"] == "host"), "target_id"])
    assert positives and positives <= failed
    # remove one host's failure events: exactly that host's labels go
    victim = sorted(positives)[0]
    kept = [e for e in events if not (e["type"] == "host_failed" and e["host"] == victim)]
    relabel(ds, kept)
    left = set(ds.frame.loc[ds.frame["label"] == 1, "target_id"])
    assert victim not in left and (positives - {victim}) <= left
    relabel(ds, [])  # no events, no labels
    assert ds.frame["label"].sum() == 0 and len(ds.scenarios) == 0
    relabel(ds, events)


def test_store_source_labels_shard_history_from_stored_events():
    from aiops.failure.training.fleet_dataset import select_definitions
    from aiops.features.shard import ShardState
    from aiops.telemetry.batch import concat

    sim = FleetSimulator(CFG.simulator_settings())
    shard = ShardState(0, select_definitions(CFG.features), 8192)
    store = MemoryEventStore()
    start = sim.now
    for _ in range(int(CFG.days * 86_400 // 1800)):  # ingest as the simulator collector does
        ticks = sim.advance(1800)
        shard.ingest(concat([t.metrics for t in ticks]))
        store.append(e for t in ticks for e in t.events)
    ds = dataset_from_shards([shard], store, CFG, start + 3600, sim.now)
    assert len(ds.frame) and ds.frame["label"].sum() > 0
    assert ds.frame["target_id"].isin([h.host_id for h in sim.fleet.hosts]).any()
    empty = dataset_from_shards([shard], MemoryEventStore(), CFG, start + 3600, sim.now)
    assert empty.frame["label"].sum() == 0


def test_redis_event_store_round_trip_and_cap(redis_url: str):
    import redis

    url = redis_url  # the real Redis of the test services (marks this test integration)
    from aiops.telemetry.event_store import RedisEventStore

    client = redis.Redis.from_url(url)
    prefix = "test-learn-events"
    client.delete(*[f"{prefix}:events:{t}" for t in ("host_failed", "host_recovered")])
    store = RedisEventStore(client, prefix, max_per_type=2)
    evs = [_ev(float(i), "host_failed", f"h{i}", reason="disk") for i in range(3)] + [_ev(5.0, "host_recovered", "h1")]
    assert store.append(evs) == 4 and store.append(evs[-1:]) == 0
    got = store.query(0, 10)
    assert [e["host"] for e in got if e["type"] == "host_failed"] == ["h1", "h2"]  # capped: the newest two
    assert store.query(4, 10, ["host_recovered"])[0]["host"] == "h1"


def test_store_source_reads_a_running_engines_redis(redis_url: str):
    import redis

    url = redis_url
    from aiops.failure.training.fleet_dataset import select_definitions
    from aiops.failure.training.store_dataset import dataset_from_store
    from aiops.features.persistence import RedisShardStore
    from aiops.features.shard import ShardState
    from aiops.settings import Settings
    from aiops.telemetry.batch import concat
    from aiops.telemetry.event_store import RedisEventStore

    settings = Settings.model_validate({"redis": {"url": url, "key_prefix": "test-learn-store"}, "store": {"num_shards": 1}})
    persistence = RedisShardStore.from_url(url, 0, "test-learn-store")
    persistence.clear()
    events = RedisEventStore.from_url(url, "test-learn-store")
    redis.Redis.from_url(url).delete(*[f"test-learn-store:events:{t}" for t in ("host_failed", "host_recovered", "vm_crashed", "vm_recovered",
                                                                 "disk_replaced", "host_maintenance")])
    sim = FleetSimulator(CFG.simulator_settings())
    shard = ShardState(0, select_definitions(CFG.features), 8192, persistence, snapshot_every_batches=10)
    for _ in range(int(CFG.days * 86_400 // 1800)):  # what the engine's shard and collectors did
        ticks = sim.advance(1800)
        shard.ingest(concat([t.metrics for t in ticks]))
        events.append(e for t in ticks for e in t.events)
    ds = dataset_from_store(settings, CFG)
    assert len(ds.frame) and ds.frame["label"].sum() > 0 and ds.stats["source"] == "store"
    persistence.clear()

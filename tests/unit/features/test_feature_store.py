import math

import numpy as np
import pytest

from aiops.features.aggregations import aggregate
from aiops.features.definitions import FeatureDefinition, load_definitions, order_definitions, parse_definitions
from aiops.features.hashring import HashRing
from aiops.features.series import SeriesBuffer
from aiops.features.shard import ShardState, UnknownTarget
from aiops.settings import PROJECT_ROOT, ConfigError
from aiops.telemetry.batch import SampleBatch, records_to_batch


def _batch(target: str, metric: str, ts, values, batch_id=None, ttype="host") -> SampleBatch:
    ts = np.asarray(ts, np.float64)
    return SampleBatch((target,), (metric,), np.zeros(ts.size, np.int32), np.zeros(ts.size, np.int16), ts,
                       np.asarray(values, np.float32), {target: ttype}, batch_id)


def test_series_buffer_grows_then_wraps_in_order():
    buf = SeriesBuffer(limit=100)
    for start in range(0, 250, 10):
        buf.append(np.arange(start, start + 10, dtype=np.float64), np.arange(start, start + 10, dtype=np.float32))
    ts, v = buf.arrays()
    assert len(buf) == 100 and ts[0] == 150 and ts[-1] == 249 and np.all(np.diff(ts) == 1)
    assert buf.nbytes == 100 * 12
    wts, _ = buf.window(200, 210)
    assert wts.tolist() == list(range(201, 211))


def test_series_buffer_out_of_order_points_are_sorted_on_read():
    buf = SeriesBuffer(limit=10)
    buf.append(np.array([5.0, 6.0]), np.array([5, 6], np.float32))
    buf.append(np.array([3.0]), np.array([3], np.float32))
    assert buf.arrays()[0].tolist() == [3.0, 5.0, 6.0]


@pytest.mark.parametrize("name, expected", [
    ("mean", 2.5), ("max", 4.0), ("min", 1.0), ("sum", 10.0), ("count", 4.0), ("last", 4.0),
    ("stddev", float(np.std([1, 2, 3, 4]))), ("p95", float(np.percentile([1, 2, 3, 4], 95))),
])
def test_simple_aggregations(name, expected):
    assert aggregate(name, np.arange(4.0), np.array([1, 2, 3, 4], np.float32)) == pytest.approx(expected)


def test_trend_rate_change_spikes():
    ts = np.arange(0, 3600, 60.0)
    assert aggregate("trend", ts, (ts / 3600 * 2).astype(np.float32)) == pytest.approx(2.0, rel=1e-4)  # 2 per hour
    counter = np.cumsum(np.full(ts.size, 5.0))
    assert aggregate("rate", ts, counter.astype(np.float32), {"counter": True}) == pytest.approx(5 / 60, rel=1e-3)
    assert aggregate("rate", ts, np.ones(ts.size, np.float32), {"window_s": 3600}) == pytest.approx(ts.size / 3600)
    v = np.r_[np.ones(30), np.full(30, 2.0)].astype(np.float32)
    assert aggregate("change_rate", ts, v) == pytest.approx(1.0)
    spiky = np.ones(ts.size, np.float32)
    spiky[[10, 40]] = 50
    assert aggregate("spike_count", ts, spiky, {"k": 3, "min_scale": 0.01}) == 2
    assert math.isnan(aggregate("mean", np.empty(0), np.empty(0, np.float32)))


def test_definitions_file_is_valid_and_complete():
    defs = load_definitions(PROJECT_ROOT / "configs" / "features.yaml")
    aggs = {d.aggregation for d in defs}
    assert {"mean", "max", "min", "stddev", "p95", "p99", "rate", "count", "trend", "change_rate", "spike_count"} <= aggs
    assert len(defs) >= 11
    names = [d.name for d in defs]
    assert names.index("response_time_per_throughput_5m") > names.index("throughput_mean_5m")  # deps first


@pytest.mark.parametrize("items, msg", [
    ([{"name": "a", "source": "cpu", "aggregation": "median"}], "unknown aggregation"),
    ([{"name": "a", "aggregation": "mean"}], "source metric is required"),
    ([{"name": "a", "source": "x", "aggregation": "mean", "window": "5 minutes"}], "bad duration"),
    ([{"name": "a", "aggregation": "ratio", "dependencies": ["b", "c"]}], "unknown feature"),
    ([{"name": "a", "aggregation": "ratio", "dependencies": ["b", "b"]},
      {"name": "b", "aggregation": "ratio", "dependencies": ["a", "a"]}], "cycle"),
    ([{"name": "a", "source": "x", "aggregation": "mean", "colour": 1}], "Extra inputs"),
    ("nope", "must be a list"),
])
def test_bad_definitions_are_named(items, msg):
    with pytest.raises(ConfigError, match=msg):
        parse_definitions(items, "features.yaml")


def _defs():
    return parse_definitions([
        {"name": "cpu_mean", "source": "cpu", "aggregation": "mean", "window": "5m"},
        {"name": "cpu_max", "source": "cpu", "aggregation": "max", "window": "5m"},
        {"name": "temp_trend", "source": "temp", "aggregation": "trend", "window": "1h", "target_types": ["host"]},
        {"name": "errs", "source": "disk_read_errors", "aggregation": "sum", "window": "1h"},
        {"name": "ratio", "aggregation": "ratio", "dependencies": ["cpu_max", "cpu_mean"]},
    ], "test")


def test_shard_features_follow_the_data():
    st = ShardState(0, _defs(), 1000)
    st.ingest(_batch("h1", "cpu", np.arange(0, 600, 10.0), np.r_[np.full(30, 0.2), np.full(30, 0.8)]))
    f = st.get_features("h1")["features"]
    assert f["cpu_mean"] == pytest.approx(0.8) and f["cpu_max"] == pytest.approx(0.8)
    assert f["errs"] == 0.0 and f["temp_trend"] is None  # no error lines = 0; no temperature = unknown
    assert st.get_features("h1", window_s=600)["features"]["cpu_mean"] == pytest.approx(0.5, abs=0.02)
    st.ingest(_batch("h1", "cpu", [610.0], [0.1]))
    assert st.get_features("h1")["features"]["cpu_mean"] < 0.8  # cache invalidated by new data
    with pytest.raises(UnknownTarget):
        st.get_features("h2")


def test_vm_skips_host_only_features_and_history_is_point_in_time():
    st = ShardState(0, _defs(), 1000)
    st.ingest(_batch("vm-1", "cpu", np.arange(0, 3600, 60.0), np.linspace(0, 1, 60), ttype="vm"))
    assert "temp_trend" not in st.get_features("vm-1")["features"]
    hist = st.get_historical_features("vm-1", 600, 1800, 600)
    assert [r["ts"] for r in hist["rows"]] == [600, 1200, 1800]
    # the row at t only sees data <= t: its max equals the value at t
    for row in hist["rows"]:
        assert row["cpu_max"] == pytest.approx(np.linspace(0, 1, 60)[int(row["ts"] // 60)], abs=1e-6)
    with pytest.raises(ValueError):
        st.get_historical_features("vm-1", 0, 1e9, 1)


def test_register_definition_validates_against_set():
    st = ShardState(0, _defs(), 100)
    st.register_definition(FeatureDefinition(name="cpu_p99", source="cpu", aggregation="p99"))
    assert "cpu_p99" in [d.name for d in st.definitions]
    with pytest.raises(ConfigError):
        st.register_definition(FeatureDefinition(name="bad", aggregation="ratio", dependencies=("cpu_p99", "missing")))


class MemoryPersistence:
    def __init__(self):
        self.wal, self.snap, self.meta = [], {}, None

    def append_many(self, records):
        assert all(isinstance(r, bytes) for r in records)
        self.wal.extend(records)

    def compact(self, targets, meta):
        self.snap.update(targets)
        self.meta = meta
        self.wal.clear()

    def load(self):
        return dict(self.snap), self.meta, list(self.wal)

    def wal_length(self):
        return len(self.wal)


def test_restart_restores_everything_and_skips_redelivered_batches():
    p = MemoryPersistence()
    st = ShardState(0, _defs(), 1000, p, snapshot_every_batches=3)
    for i in range(7):
        st.ingest(_batch("h1", "cpu", [i * 10.0], [i], batch_id=f"b{i}"))
    assert len(p.wal) == 1 and "h1" in p.snap  # compacted twice, one batch in the log
    again = ShardState(0, _defs(), 1000, p, snapshot_every_batches=3)
    ts, v = again.get_raw("h1", "cpu")
    assert ts.tolist() == [i * 10.0 for i in range(7)]
    assert again.ingest(_batch("h1", "cpu", [0.0], [0], batch_id="b0")).duplicate
    assert again.ingest(_batch("h1", "cpu", [60.0], [6], batch_id="b6")).duplicate
    assert len(again.get_raw("h1", "cpu")[0]) == 7


def test_memory_per_point_is_bounded():
    st = ShardState(0, _defs(), 2000)
    batch, _ = records_to_batch([{"target_id": f"h{i}", "ts": t, "metrics": {"cpu": 0.5, "temp": 40.0}}
                                 for t in range(300) for i in range(20)])
    st.ingest(batch)
    s = st.stats()
    assert s["points_held"] == 12_000 and s["bytes_per_point"] <= 24


def test_hash_ring_is_stable_balanced_and_splits():
    ring = HashRing(4, 64)
    owners = [ring.shard_for(f"host-{i:04d}") for i in range(4000)]
    counts = np.bincount(owners, minlength=4)
    assert counts.min() > 600  # roughly even
    assert HashRing(4, 64).shard_for("host-0042") == ring.shard_for("host-0042")
    grown = HashRing(5, 64)
    moved = sum(ring.shard_for(f"host-{i:04d}") != grown.shard_for(f"host-{i:04d}") for i in range(4000))
    assert moved < 4000 * 0.35  # only ~1/5 should move
    batch, _ = records_to_batch([{"target_id": f"host-{i:04d}", "ts": 1, "metrics": {"cpu": i}} for i in range(100)])
    batch.batch_id = "nats:7"
    parts = ring.split(batch)
    assert sum(len(p) for p in parts.values()) == 100
    for shard, part in parts.items():
        assert part.batch_id == f"nats:7/{shard}"
        assert all(ring.shard_for(part.targets[t]) == shard for t in part.target_idx)


def test_baseline_deviation_is_level_minus_own_median_point_in_time():
    defs = parse_definitions([
        {"name": "lat_p95", "source": "lat", "aggregation": "p95", "window": "5m"},
        {"name": "lat_p50_6h", "source": "lat", "aggregation": "p50", "window": "6h"},
        {"name": "lat_vs_baseline", "aggregation": "difference", "dependencies": ["lat_p95", "lat_p50_6h"]},
    ], "test")
    st = ShardState(0, defs, 5000)
    ts = np.arange(0, 6 * 3600, 30.0)
    vals = np.full(ts.size, 5.0)
    vals[-10:] = 50.0  # the last 5 minutes degrade
    st.ingest(_batch("h1", "lat", ts, vals))
    f = st.get_features("h1")["features"]
    assert f["lat_p50_6h"] == 5.0 and f["lat_vs_baseline"] == pytest.approx(45.0)
    earlier = st.get_features("h1", at=ts[-20])["features"]
    assert earlier["lat_vs_baseline"] == pytest.approx(0.0)  # before the change: nothing later leaks in


def test_error_counts_over_time_tell_a_stopped_burst_from_an_escalating_storm():
    """The served 15 min / 1 h / 6 h error counts (configs/features.yaml) are what the failure model reads."""
    defs = [d for d in load_definitions(PROJECT_ROOT / "configs" / "features.yaml") if d.source == "ecc_errors"]
    assert {d.name for d in defs} >= {"ecc_errors_count_15m", "ecc_errors_count_1h", "ecc_errors_count_6h"}
    st = ShardState(0, defs, 5000)
    now = 6 * 3600.0
    burst = np.linspace(1 * 3600, 1.5 * 3600, 40)  # 40 errors five hours ago, then silence
    storm = np.concatenate([np.linspace(4 * 3600, 5 * 3600, 5), np.linspace(5.8 * 3600, now - 1, 35)])
    st.ingest(_batch("burst", "ecc_errors", burst, np.ones(burst.size)))
    st.ingest(_batch("storm", "ecc_errors", storm, np.ones(storm.size)))
    b = st.get_features("burst", at=now)["features"]
    s = st.get_features("storm", at=now)["features"]
    assert b["ecc_errors_count_6h"] == 40 and b["ecc_errors_count_1h"] == 0 and b["ecc_errors_count_15m"] == 0
    assert s["ecc_errors_count_6h"] == 40 and s["ecc_errors_count_15m"] == 35
    # point in time: an hour before the storm's last minutes, none of them is counted
    assert st.get_features("storm", at=5.5 * 3600)["features"]["ecc_errors_count_15m"] == 0

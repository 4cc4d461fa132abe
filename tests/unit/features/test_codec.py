"""The shard's stored records: numpy columns + JSON, never pickle; bad records are refused, not run."""
import pickle

import numpy as np
import pytest

from aiops.features.codec import (StoredRecordError, decode_batch, decode_meta, decode_target, encode_batch,
                                  encode_meta, encode_target)
from aiops.features.shard import ShardState
from aiops.features.definitions import parse_definitions
from aiops.telemetry.batch import SampleBatch

RAN: list[str] = []


class _Payload:
    """Unpickling this runs code: what an attacker with Redis write access would store."""

    def __reduce__(self):
        return (RAN.append, ("unpickled",))


def _batch(n: int = 5, bid: str | None = "nats:3") -> SampleBatch:
    return SampleBatch(("h1", "vm-2"), ("cpu", "mem"), np.arange(n, dtype=np.int32) % 2,
                       np.arange(n, dtype=np.int16) % 2, np.arange(n, dtype=np.float64) + 1e9,
                       np.linspace(0, 1, n, dtype=np.float32), {"h1": "host", "vm-2": "vm"}, bid)


def test_batch_round_trips_exactly():
    b = _batch()
    back = decode_batch(encode_batch(b))
    assert (back.targets, back.metrics, back.target_types, back.batch_id) == (b.targets, b.metrics, b.target_types, b.batch_id)
    for col in ("target_idx", "metric_idx", "ts", "values"):
        assert getattr(back, col).dtype == getattr(b, col).dtype
        assert np.array_equal(getattr(back, col), getattr(b, col))
    empty = decode_batch(encode_batch(SampleBatch.empty()))
    assert len(empty) == 0 and empty.batch_id is None


def test_target_and_meta_round_trip():
    series = {"cpu": (np.array([1.0, 2.0]), np.array([0.5, 0.25], np.float32)), "none": (np.empty(0), np.empty(0, np.float32))}
    ttype, back = decode_target(encode_target("vm", series))
    assert ttype == "vm" and list(back) == ["cpu", "none"]
    assert back["cpu"][0].tolist() == [1.0, 2.0] and back["cpu"][1].tolist() == [0.5, 0.25] and back["none"][0].size == 0
    assert decode_meta(encode_meta(["a", "b"])) == ["a", "b"]


@pytest.mark.parametrize("decode", [decode_batch, decode_target, decode_meta])
def test_a_pickled_record_is_refused_without_being_unpickled(decode):
    RAN.clear()
    with pytest.raises(StoredRecordError, match="tag"):
        decode(pickle.dumps(_Payload(), protocol=5))
    assert RAN == []


def test_torn_and_forged_records_are_refused():
    good = encode_batch(_batch())
    with pytest.raises(StoredRecordError):
        decode_batch(good[:-3])  # torn body
    with pytest.raises(StoredRecordError):
        decode_batch(good[:10])  # torn header
    with pytest.raises(StoredRecordError):
        decode_target(good)  # a batch is not a snapshot
    forged = _batch()
    forged.target_idx = forged.target_idx + 7  # points past the name table
    with pytest.raises(StoredRecordError, match="out of range"):
        decode_batch(encode_batch(forged))


class _Store:
    def __init__(self, snaps, meta, wal):
        self.data = (snaps, meta, wal)

    def append_many(self, records): ...
    def compact(self, targets, meta): ...
    def load(self):
        return self.data
    def wal_length(self):
        return len(self.data[2])


def test_restore_replays_good_records_and_counts_the_rest():
    RAN.clear()
    defs = parse_definitions([{"name": "cpu_mean", "source": "cpu", "aggregation": "mean", "window": "5m"}], "t")
    snaps = {"h1": encode_target("host", {"cpu": (np.array([1.0]), np.array([0.5], np.float32))}),
             "old": pickle.dumps(_Payload())}
    wal = [pickle.dumps(_Payload()), encode_batch(_batch(4, "b1")), b"", b"AWB1garbage"]
    st = ShardState(0, defs, 100, _Store(snaps, encode_meta(["b0"]), wal))
    assert RAN == []
    assert st.restore_skipped == 4 and st.stats()["restore_skipped"] == 4
    assert st.get_raw("h1", "cpu")[0].tolist() == [1.0, 1e9, 1e9 + 2]
    assert st.ingest(_batch(1, "b0")).duplicate and st.ingest(_batch(1, "b1")).duplicate

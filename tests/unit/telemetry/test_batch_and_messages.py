import json
import math

import numpy as np
import pytest

from aiops.telemetry.batch import SampleBatch, check_record, concat, count_reasons, records_to_batch
from aiops.telemetry.messages import decode_events, decode_logs, decode_metrics, prometheus_vector_to_records

GOOD = {"target_id": "host-0001", "target_type": "host", "ts": 1767225600.0, "metrics": {"cpu_utilization": 0.5, "temperature_c": 60}}


@pytest.mark.parametrize(
    "record, reason",
    [
        ({**GOOD, "extra": 1}, "unknown field"),
        ({k: v for k, v in GOOD.items() if k != "ts"}, "missing field: ts"),
        ({**GOOD, "ts": "yesterday"}, "ts must be a finite number"),
        ({**GOOD, "ts": float("inf")}, "ts must be a finite number"),
        ({**GOOD, "ts": True}, "ts must be a finite number"),
        ({**GOOD, "target_id": ""}, "target_id"),
        ({**GOOD, "target_id": "a b"}, "target_id"),
        ({**GOOD, "target_type": "router"}, "target_type"),
        ({**GOOD, "metrics": {}}, "metrics must be"),
        ({**GOOD, "metrics": {"CPU": 1.0}}, "bad metric name"),
        ({**GOOD, "metrics": {"cpu": float("nan")}}, "value must be a finite number"),
        ({**GOOD, "metrics": {"cpu": "high"}}, "value must be a finite number"),
        ({**GOOD, "metrics": {"cpu": 1e300}}, "float32 range"),
        ([1, 2], "record must be an object"),
    ],
)
def test_check_record_gives_reason(record, reason):
    assert reason in check_record(record)


def test_good_records_survive_bad_neighbours():
    records = [GOOD, {**GOOD, "ts": None}, {**GOOD, "target_id": "vm-000001", "target_type": "vm"}, "junk"]
    batch, rejected = records_to_batch(records)
    assert [r.index for r in rejected] == [1, 3]
    assert len(batch) == 4  # two good records x two metrics
    assert set(batch.targets) == {"host-0001", "vm-000001"}
    assert batch.target_types == {"host-0001": "host", "vm-000001": "vm"}
    assert count_reasons(rejected) == {"bad_timestamp": 1, "not_an_object": 1}


def test_decode_metrics_shapes_and_whole_payload_errors():
    b, rej, n = decode_metrics(json.dumps({"records": [GOOD, GOOD]}).encode())
    assert (len(b), rej, n) == (4, [], 2)
    b, rej, n = decode_metrics(json.dumps(GOOD).encode())
    assert len(b) == 2 and n == 1
    b, rej, _ = decode_metrics(b"{oops")
    assert len(b) == 0 and rej[0].reason.startswith("invalid json")
    b, rej, _ = decode_metrics(json.dumps({"records": [GOOD], "x": 1}).encode())
    assert rej[0].reason.startswith("unknown field")
    b, rej, _ = decode_metrics(json.dumps([GOOD] * 3).encode(), max_records=2)
    assert rej[0].reason.startswith("too many records")
    # NaN in JSON rejects only the record carrying it
    b, rej, n = decode_metrics(b'[{"target_id":"h1","ts":1,"metrics":{"cpu":NaN}},{"target_id":"h2","ts":1,"metrics":{"cpu":0.1}}]')
    assert len(b) == 1 and b.targets == ("h2",) and rej[0].index == 0 and n == 2


def test_concat_reencodes_names():
    a, _ = records_to_batch([GOOD])
    b, _ = records_to_batch([{**GOOD, "target_id": "host-2", "metrics": {"memory_pressure": 0.3}}])
    c = concat([a, b])
    pairs = sorted((c.targets[t], c.metrics[m], float(v)) for t, m, v in zip(c.target_idx, c.metric_idx, c.values))
    assert pairs == [("host-0001", "cpu_utilization", 0.5), ("host-0001", "temperature_c", 60.0), ("host-2", "memory_pressure", pytest.approx(0.3))]


def test_drop_non_finite_counts():
    b = SampleBatch(("h",), ("m",), np.zeros(3, np.int32), np.zeros(3, np.int16), np.array([1.0, 2.0, np.nan]),
                    np.array([1.0, np.inf, 3.0], np.float32))
    kept, bad = b.drop_non_finite()
    assert len(kept) == 1 and bad == 2


def test_decode_events_and_logs():
    good, bad = decode_events(json.dumps([{"ts": 1, "type": "api_call"}, {"type": "x"}, {"ts": "a", "type": "x"}]).encode())
    assert len(good) == 1 and [r.reason for r in bad] == ["missing field: ts", "ts must be a finite number (unix seconds)"]
    lines = "\n".join([
        "Jan  1 00:00:01 host-7 kernel: [1.0] blk_update_request: I/O error, dev sdb, sector 99 op 0x0:(READ) flags 0x0",
        "Jan  1 00:00:02 host-7 cron[22]: nothing to see",
    ]).encode()
    parsed = decode_logs(lines)
    events, ignored = parsed.events, parsed.ignored
    assert [e.kind for e in events] == ["disk_read_error"] and ignored == 1
    with pytest.raises(ValueError):
        decode_logs(b'{"host": "h", "lines": 3}')


def test_prometheus_vector_mapping():
    answer = {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"instance": "10.0.0.1:9100"}, "value": [1700000000.1, "0.25"]},
        {"metric": {"job": "x"}, "value": [1700000000.1, "1"]},
        {"metric": {"instance": "b"}, "value": [1700000000.1, "NaN"]},
    ]}}
    recs, bad = prometheus_vector_to_records(answer, "cpu_utilization", "instance", "host-{value}")
    assert recs[0] == {"target_id": "host-10.0.0.1-9100", "ts": 1700000000.1, "metrics": {"cpu_utilization": 0.25}}
    assert len(bad) == 1  # missing label; the NaN record is left to record validation
    _, rejected = records_to_batch(recs)
    assert len(rejected) == 1 and "finite" in rejected[0].reason
    recs, bad = prometheus_vector_to_records({"status": "error", "error": "parse error"}, "m", "instance", "{value}")
    assert recs == [] and "parse error" in bad[0].reason

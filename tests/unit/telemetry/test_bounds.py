"""Input bounds on the decoders: JSON depth before the recursive decoder, the timestamp skew window."""
import json
import sys

import numpy as np
import pytest

from aiops.telemetry.batch import reason_key
from aiops.telemetry.bounds import IngestSettings, TsBounds, json_too_deep
from aiops.telemetry.messages import decode_events, decode_metrics

NOW = 1_800_000_000.0


@pytest.mark.parametrize("text, deep", [
    ("[" * 100_000, True),
    ('{"a":' * 40 + "1" + "}" * 40, True),
    ('{"a":' * 30 + "1" + "}" * 30, False),
    (json.dumps({"s": "[" * 500}), False),  # brackets inside a string do not nest
    (json.dumps({"s": '\\"' + "{" * 500}), False),  # nor after an escaped quote
    (json.dumps({"records": [{"target_id": "h", "ts": 1, "metrics": {"m": 1}}] * 5000}), False),
])
def test_json_depth_counts_structure_only(text, deep):
    assert json_too_deep(text, 32) is deep
    assert json_too_deep(text.encode(), 32) is deep


def test_deep_payload_is_a_counted_rejection_even_with_a_raised_recursion_limit():
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(200_000)  # the C decoder would overflow the stack here: the scan must stop it first
    try:
        batch, rejected, _ = decode_metrics(b"[" * 100_000 + b"]" * 100_000)
    finally:
        sys.setrecursionlimit(old)
    assert len(batch) == 0 and rejected[0].reason.startswith("json nested too deeply")
    assert reason_key(rejected[0].reason) == "json_too_deep"
    assert decode_events(b'{"a":' * 50 + b"1" + b"}" * 50)[1][0].reason.startswith("json nested too deeply")


def test_timestamps_outside_the_skew_window_are_rejected_with_a_reason():
    bounds = IngestSettings(max_future_s=300, max_age_s=3600).window(now=NOW)
    recs = [{"target_id": "h1", "ts": NOW, "metrics": {"m": 1.0}},
            {"target_id": "h2", "ts": 4_070_908_800.0, "metrics": {"m": 1.0}},  # 2099
            {"target_id": "h3", "ts": NOW - 7200, "metrics": {"m": 1.0}},
            {"target_id": "h4", "ts": NOW + 299, "metrics": {"m": 1.0}}]
    batch, rejected, n = decode_metrics(json.dumps(recs).encode(), bounds=bounds)
    assert n == 4 and sorted(batch.targets) == ["h1", "h4"]
    assert [(r.index, reason_key(r.reason)) for r in rejected] == [(1, "ts_in_future"), (2, "ts_too_old")]
    assert "future" in rejected[0].reason and "old" in rejected[1].reason
    good, bad = decode_events(json.dumps([{"ts": NOW, "type": "x"}, {"ts": NOW + 1e6, "type": "x"}]).encode(), bounds)
    assert len(good) == 1 and bad[0].index == 1


def test_window_is_configurable_and_open_for_replays():
    assert IngestSettings(max_age_s=None).window(now=NOW).reason(0.0) is None
    assert IngestSettings(max_future_s=None).window(now=NOW).reason(4e9) is None
    assert IngestSettings().window(now=NOW).reason(NOW - 8 * 86400) is not None  # default: 7 days
    with pytest.raises(ValueError):
        IngestSettings(max_age_s=-1)


def test_columnar_batches_drop_samples_outside_the_window():
    batch, _, _ = decode_metrics([{"target_id": "h1", "ts": NOW + i * 1000, "metrics": {"m": 1.0}} for i in range(3)])
    kept, outside = batch.within(TsBounds(NOW - 1, NOW + 1500))
    assert np.array_equal(kept.ts, [NOW, NOW + 1000]) and [r.index for r in outside] == [2]
    assert reason_key(outside[0].reason) == "ts_in_future"

"""Chaos on a real two-node Ray cluster (network namespaces): a short `jobs.chaos` run, and the delivery ledger.

The run kills a feature shard and then the whole worker node under steady NATS ingest and HTTP load and
checks that every acknowledged sample and security event was stored, once, and that the engine served
again after each fault. It needs root and iproute2 (network namespaces); elsewhere it is skipped.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.chaos_cluster import namespaces_available

REPO = Path(__file__).resolve().parents[2]


def test_the_delivery_ledger_counts_keys_and_answers_what_it_saw(clean_redis):
    import redis

    from aiops.security.delivery_ledger import RedisDeliveryLedger

    ledger = RedisDeliveryLedger(redis.Redis.from_url(clean_redis), "aiops-ledger-test", keep_s=3600)
    ledger.record(["nats:S:1", "nats:S:2"])
    ledger.record(["nats:S:2"])
    assert ledger.seen(["nats:S:1", "nats:S:3"]) == {"nats:S:1"} and ledger.seen([]) == set()
    assert ledger.counts() == {"nats:S:1": 1, "nats:S:2": 2}
    old = RedisDeliveryLedger(ledger.client, "aiops-ledger-test", keep_s=-1)  # everything is past keep_s: trimmed
    old.record(["nats:S:4"])
    assert old.counts() == {}


@pytest.mark.integration
@pytest.mark.skipif(namespaces_available() is not None, reason=f"jobs.chaos: {namespaces_available()}")
def test_a_killed_shard_and_a_killed_worker_node_lose_no_acknowledged_sample_or_event(tmp_path):
    out = tmp_path / "chaos.json"
    env = {**os.environ, "PYTHONPATH": str(REPO), "AIOPS_CHAOS_PORT": os.environ.get("AIOPS_TEST_SERVE_PORT", "8816")}
    proc = subprocess.run([sys.executable, "-m", "jobs.chaos", "--short", "--settle", "8", "--max-recovery", "90",
                           "--net", "10.201.0", "--prefix", "aiopscht", "--out", str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    rows = {r["phase"]: r for r in report["rows"]}
    assert list(rows) == ["baseline", "feature shard", "worker node"]
    assert report["meta"]["drained"], "the collector did not acknowledge every message"
    for name, r in rows.items():
        assert r["samples_lost"] == 0 and r["events_lost"] == 0, (name, r)
        assert r["samples_acked"] > 0 and r["events_acked"] > 0, (name, r)
        assert "not injected" not in r["detail"] and "not recovered" not in r["detail"], (name, r["detail"])
    assert rows["worker node"]["ingest_back_s"] is not None and rows["feature shard"]["ingest_back_s"] is not None
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "aiopscht" not in listed  # cleaned up

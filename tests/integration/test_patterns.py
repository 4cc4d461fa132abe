"""Hostile log lines cost the NATS collector nothing: a metric published after them is stored promptly."""
from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
import ray

from tests.conftest import API_HEADERS
from tests.integration.helpers import delete_stream, nats_settings, publish, system_factory, wait_consumer, wait_for  # noqa: F401

pytestmark = pytest.mark.integration

# ~11 KB kernel lines shaped to make the old backtracking rules explode (disk read: cubic; EDAC: quadratic).
BAIT = [
    b"Jan  1 00:00:01 host-0200 kernel: blk_update_request " + b"I/O error, dev " * 740,
    b"Jan  1 00:00:01 host-0200 kernel: EDAC " + b"1 " * 5600,
    b"Jan  1 00:00:01 host-0200 kernel: critical medium error" + b" dev sda" * 1400,
]


def test_metric_after_backtracking_bait_is_stored_within_30s(system_factory, nats_url):
    settings = nats_settings(nats_url, None)
    system = system_factory(settings)
    try:
        wait_consumer(settings)
        good = {"target_id": "host-0201", "ts": time.time() - 5, "metrics": {"cpu_utilization": 0.4}}
        t0 = time.monotonic()
        asyncio.run(publish(nats_url, settings.nats.subject_prefix,
                            [("logs.host-0200", line) for line in BAIT] + [("metrics.a", json.dumps(good).encode())]))
        client = httpx.Client(base_url=system.url, timeout=10, headers=API_HEADERS)
        wait_for(lambda: client.get("/api/ai/features/host-0201").status_code == 200, 30, what="metric after the bait")
        assert time.monotonic() - t0 < 30
        stats = ray.get(system.collectors["collector-nats"].stats.remote())
        assert stats["lines_truncated"] >= 3  # each bait line cut to the cap and counted, then parsed
    finally:
        asyncio.run(delete_stream(nats_url, settings.nats.stream))

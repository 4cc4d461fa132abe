"""Hostile input against a running engine, from outside, with the all-roles token: every one is a 4xx
with a JSON reason, and the engine keeps serving (issue 10, first Done-when bullet)."""
from __future__ import annotations

from typing import Iterator

import httpx

from tests.conftest import API_HEADERS
from tests.integration.helpers import make_settings, system_factory  # noqa: F401

MIB = 1024 * 1024


def _chunks(total: int) -> Iterator[bytes]:
    """A body sent with chunked transfer encoding (no Content-Length to check up front)."""
    sent = 0
    while sent < total:
        sent += MIB
        yield b" " * MIB


def _post_chunked(client: httpx.Client, path: str, total: int) -> int | None:
    """The status of a chunked POST; None when the server closed the connection before the client finished sending."""
    try:
        return client.post(path, content=_chunks(total), headers={**API_HEADERS, "content-type": "application/json"}).status_code
    except (httpx.RemoteProtocolError, httpx.WriteError, httpx.ReadError):
        return None


def test_hostile_bodies_and_values_get_4xx_and_the_engine_keeps_serving(system_factory):  # noqa: F811
    system = system_factory(make_settings(**{"simulator.hosts": 5, "simulator.vms_per_host": 1}))
    with httpx.Client(base_url=system.url, timeout=120) as client:
        status = _post_chunked(client, "/api/ai/ingest", 40 * MIB)
        assert status in (413, None), status  # 413, or cut off at the limit: never read whole and processed
        if status is None:  # the connection was cut: ask again with a fresh one to see the reason
            with httpx.Client(base_url=system.url, timeout=120) as fresh:
                status = _post_chunked(fresh, "/api/ai/ingest", 40 * MIB)
        assert status in (413, None)

        deep = b"[" * 100_000 + b"]" * 100_000
        r = client.post("/api/ai/ingest", content=deep, headers={**API_HEADERS, "content-type": "application/json"})
        assert 400 <= r.status_code < 500 and r.json()["error"], r.text

        nan = b'{"records": [{"target_id": "host-0001", "target_type": "host", "ts": 1767225600, "metrics": {"cpu_utilization": NaN}}]}'
        r = client.post("/api/ai/ingest", content=nan, headers={**API_HEADERS, "content-type": "application/json"})
        assert 400 <= r.status_code < 500, r.text  # NaN is no JSON number: refused, never stored

        r = client.get("/api/ai/features/host-0001/history", params={"start": 0, "end": 10, "step": "0s"}, headers=API_HEADERS)
        assert 400 <= r.status_code < 500, r.text
        r = client.get("/api/ai/features/host-0001/history", params={"start": "nan", "end": 10}, headers=API_HEADERS)
        assert 400 <= r.status_code < 500, r.text

        future = {"records": [{"target_id": "host-0001", "target_type": "host", "ts": 4_080_000_000,  # April 2099
                               "metrics": {"cpu_utilization": 0.5}}]}
        r = client.post("/api/ai/ingest", json=future, headers=API_HEADERS)
        assert 400 <= r.status_code < 500, r.text
        assert "future" in r.text  # the reason says why

        assert client.get("/healthz").status_code in (200, 503)
        assert client.get("/api/ai/targets", headers=API_HEADERS).status_code == 200  # still serving

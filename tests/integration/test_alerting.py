"""Failure alerts and security incidents reach a real Alertmanager (listed active, re-sent with a moving
endsAt, then resolved) and a real JetStream stream, across a NATS restart: the sinks buffer and retry while
NATS is down, and what was stored before the restart is still there after it (file storage)."""
from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import orjson
import pytest

from actors.alerting import build_alerter, generator_base
from aiops.failure.serving.monitor import FleetMonitor
from aiops.failure.serving.service import FleetPredictions
from aiops.settings import Settings
from tests.conftest import free_port

pytestmark = pytest.mark.integration
NATS_BIN = shutil.which("nats-server") or "/usr/sbin/nats-server"


class NatsServer:
    """A nats-server with JetStream on a free port and its own store, which the test can restart."""

    def __init__(self, store: Path) -> None:
        self.port, self.store, self.proc = free_port(), store, None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen([NATS_BIN, "-js", "-sd", str(self.store), "-a", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for(lambda: _port_open(self.port), 20, "nats-server to listen")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


@pytest.fixture
def services() -> Iterator[tuple[str, NatsServer]]:
    am_bin = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if not am_bin or not Path(NATS_BIN).exists():
        pytest.fail("prometheus-alertmanager and nats-server are required (run scripts/services.sh)")
    tmp = Path(tempfile.mkdtemp(prefix="aiops-alerting-"))
    (tmp / "am.yml").write_text("route: {receiver: default}\nreceivers: [{name: default}]\n")
    port = free_port()
    am = subprocess.Popen([am_bin, f"--config.file={tmp / 'am.yml'}", f"--storage.path={tmp / 'am'}",
                           f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    nats = NatsServer(tmp / "nats")
    try:
        nats.start()
        _wait_for(lambda: _port_open(port), 20, "alertmanager to listen")
        yield f"http://127.0.0.1:{port}", nats
    finally:
        am.terminate()
        am.wait(timeout=20)
        if nats.proc and nats.proc.poll() is None:
            nats.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait_for(ok: Any, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if ok():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def _until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = await check()
        if out:
            return out
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _fleet(probs: dict[str, float]) -> FleetPredictions:
    bodies = {t: orjson.dumps({"target_id": t, "target_type": "host", "failure_probability": p, "severity":
                               "critical" if p >= 0.9 else "low", "last_updated": time.time() - 30,
                               "contributing_factors": [{"description": "disk errors rising"}],
                               "recommendations": ["drain"], "model_version": "v1"}) for t, p in probs.items()}
    return FleetPredictions("v1", 7200.0, 0.7, bodies, probs)


def _incident(iid: str, status: str) -> dict[str, Any]:
    """The record `SecurityService` keeps for an incident (kind "incident")."""
    return {"id": iid, "kind": "incident", "name": "correlated_incident", "timestamp": time.time() - 60,
            "severity": "critical", "score": 0.95, "entities": ["host:host-0003", "ip:203.0.113.9"], "targets": {},
            "description": "3 tactics", "tactics": ["credential_access", "initial_access", "lateral_movement"],
            "techniques": ["T1110"], "status": status, "incident_id": iid, "responses": []}


async def _am_alerts(am: str, name: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=5) as c:
        r = await c.get(f"{am}/api/v2/alerts", params={"filter": f'alertname="{name}"'})
        r.raise_for_status()
        return r.json()


async def _stream_events(url: str) -> list[dict[str, Any]]:
    import nats

    nc = await nats.connect(url, allow_reconnect=False)
    try:
        js = nc.jetstream()
        n = (await js.stream_info("AIOPS_ALERTS")).state.messages
        return [orjson.loads((await js.get_msg("AIOPS_ALERTS", seq)).data) | {"subject": (await js.get_msg(
            "AIOPS_ALERTS", seq)).subject} for seq in range(1, n + 1)]
    finally:
        await nc.close()


def test_failure_and_incident_alerts_reach_alertmanager_and_jetstream_across_a_nats_restart(services):
    am, nats = services
    settings = Settings().with_overrides(**{
        "nats.url": nats.url, "alerting.alertmanager_url": am, "alerting.evaluate_s": 15.0,
        "alerting.retry_initial_s": 0.1, "alerting.retry_max_s": 0.5, "alerting.request_timeout_s": 1.0,
        "failure.refresh_s": 15.0})  # endsAt 60 s ahead: a resolve that shows at once is the engine's, not a lapse
    asyncio.run(_scenario(settings, am, nats))


async def _scenario(settings: Settings, am: str, nats: NatsServer) -> None:
    rounds = [{"h1": 0.95, "h2": 0.1}, {"h1": 0.95, "h2": 0.1}, {"h1": 0.1, "h2": 0.1}]

    async def predict() -> FleetPredictions:
        return _fleet(rounds.pop(0))

    monitor = FleetMonitor(predict, build_alerter(settings, "failure", 15.0, "low"), None, 0.5,
                           api_base=generator_base(settings))
    security = build_alerter(settings, "security", 15.0, settings.alerting.incident_min_severity)
    from aiops.security.alerts import incident_alert_specs

    monitor.alerter.start()
    security.start()
    await monitor.step()
    first = await _until(lambda: _am_alerts(am, "FailurePredicted"), 10, "the failure alert in Alertmanager")
    assert [(a["labels"]["target"], a["labels"]["severity"], a["status"]["state"]) for a in first] == [("h1", "critical", "active")]
    assert first[0]["generatorURL"].endswith("/api/ai/predictions/failures/h1")
    await asyncio.sleep(1.1)
    await monitor.step()  # still active: re-sent with a later endsAt, same startsAt

    async def resent() -> list[dict[str, Any]]:
        a = await _am_alerts(am, "FailurePredicted")
        return a if a and a[0]["endsAt"] > first[0]["endsAt"] else []
    second = await resent() or await _until(resent, 10, "the re-sent failure alert")
    assert second[0]["startsAt"] == first[0]["startsAt"]
    await _until(lambda: _stream_events(nats.url), 10, "the firing event in the stream")

    nats.stop()  # NATS down: resolve the failure alert and raise an incident; Alertmanager still gets both
    await monitor.step()
    security.evaluate(incident_alert_specs([_incident("inc-1", "open"), {**_incident("inc-2", "open"), "severity": "medium"}],
                                           generator_base(settings)))
    await _until(lambda: _gone(am, "FailurePredicted"), 10, "the failure alert resolved in Alertmanager")
    inc = await _until(lambda: _am_alerts(am, "SecurityIncident"), 10, "the incident in Alertmanager")
    assert [(a["labels"]["incident_id"], a["status"]["state"]) for a in inc] == [("inc-1", "active")]  # medium stays out
    await asyncio.sleep(1.0)
    assert monitor.alerter.stream.pending() == 1 and monitor.alerter.stream.errors >= 1  # buffered, retrying
    nats.start()
    security.evaluate(incident_alert_specs([_incident("inc-1", "closed")], generator_base(settings)))
    await _until(lambda: _gone(am, "SecurityIncident"), 10, "the incident resolved in Alertmanager")

    async def all_events() -> list[dict[str, Any]]:
        evs = await _stream_events(nats.url)
        return evs if len(evs) >= 4 else []
    events = await _until(all_events, 20, "every alert event in the stream after the restart")
    by_source = {s: [(e["key"], e["status"]) for e in events if e["subject"] == f"aiops.alerts.{s}"]
                 for s in ("failure", "security")}  # each source in order; the two interleave freely
    assert len(events) == 4 and by_source == {"failure": [("h1", "firing"), ("h1", "resolved")],
                                              "security": [("inc-1", "firing"), ("inc-1", "resolved")]}
    assert all(e["endsAt"] > e["startsAt"] and e["labels"]["severity"] == "critical" for e in events)
    await monitor.alerter.stop()
    await security.stop()
    assert monitor.alerter.alertmanager.sent >= 3 and monitor.alerter.alertmanager.pending() == 0


async def _gone(am: str, name: str) -> bool:
    return not await _am_alerts(am, name)

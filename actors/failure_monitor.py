"""Actor `failure-monitor`: runs the `FleetMonitor` round every `failure.refresh_s` against the predictor
deployment, with NATS, webhook and Redis clients wired in."""
from __future__ import annotations

import asyncio
from typing import Any

from ray import serve

from actors.names import MONITOR_NAME, PREDICTOR_NAME
from aiops.failure.serving.alert_transport import AlertTransport
from aiops.failure.serving.monitor import FleetMonitor, Snapshot
from aiops.settings import Settings

__all__ = ["FailureMonitor"]


class FailureMonitor:
    """Fleet-wide predictions on a timer; alerts deduplicated per target."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        cfg = settings.failure
        transport = AlertTransport(cfg.alert_subject, _nats_connector(settings.nats.url), cfg.alert_webhook_url,
                                   _post_json)
        store = _mitigation_store(settings.redis.url, f"{settings.redis.key_prefix}:failure:mitigations")
        self.monitor = FleetMonitor(self._predict_fleet, transport, cfg.alert_threshold, cfg.alert_rearm_below, store)
        self._handle: Any | None = None
        self._stop = asyncio.Event()

    async def _predict_fleet(self) -> Any:
        if self._handle is None:
            self._handle = serve.get_deployment_handle(PREDICTOR_NAME, app_name=self.settings.serve.app_name)
        return await self._handle.predict_fleet.remote()

    async def run(self) -> None:
        while not self._stop.is_set():
            await self.monitor.step()
            try:
                await asyncio.wait_for(self._stop.wait(), self.settings.failure.refresh_s)
            except asyncio.TimeoutError:
                pass

    async def get_snapshot(self, since: int) -> Snapshot:
        return self.monitor.get_snapshot(since)

    async def record_mitigation(self, target_id: str, action: str, comment: str) -> dict[str, Any]:
        return await self.monitor.record_mitigation(target_id, action, comment)

    async def alerts(self) -> list[dict[str, Any]]:
        return list(self.monitor.sent)

    async def stats(self) -> dict[str, Any]:
        return self.monitor.stats(MONITOR_NAME)

    async def stop(self) -> None:
        self._stop.set()


def _nats_connector(url: str | None) -> Any | None:
    if not url:
        return None

    async def connect() -> Any:
        import nats

        return await nats.connect(url, connect_timeout=3)
    return connect


async def _post_json(url: str, body: Any) -> None:
    import httpx

    async with httpx.AsyncClient(timeout=5) as client:
        r = await client.post(url, json=body)
        r.raise_for_status()


def _mitigation_store(url: str | None, key: str) -> Any | None:
    if not url:
        return None

    async def store(record: bytes) -> None:
        import redis.asyncio as aioredis

        r = aioredis.Redis.from_url(url)
        await r.rpush(key, record)
        await r.aclose()
    return store

"""Actor `failure-monitor`: runs the `FleetMonitor` round every `failure.refresh_s` against the predictor
deployment, with the alert sinks (Alertmanager, JetStream) and Redis wired in."""
from __future__ import annotations

import asyncio
from typing import Any

from ray import serve

from actors.alerting import build_alerter, generator_base
from actors.names import MONITOR_NAME, PREDICTOR_NAME
from aiops.failure.serving.monitor import FleetMonitor, Snapshot
from aiops.settings import Settings

__all__ = ["FailureMonitor"]


class FailureMonitor:
    """Fleet-wide predictions on a timer; alerts deduplicated per target."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        cfg = settings.failure
        alerter = build_alerter(settings, "failure", cfg.refresh_s, settings.alerting.failure_min_severity)
        store = _mitigation_store(settings.redis.url, f"{settings.redis.key_prefix}:failure:mitigations")
        self.monitor = FleetMonitor(self._predict_fleet, alerter, cfg.alert_threshold, cfg.alert_rearm_below, store,
                                    api_base=generator_base(settings), unsupervised_threshold=cfg.unsupervised.alert_threshold)
        self._handle: Any | None = None
        self._stop = asyncio.Event()

    async def _predict_fleet(self) -> Any:
        if self._handle is None:
            self._handle = serve.get_deployment_handle(PREDICTOR_NAME, app_name=self.settings.serve.app_name)
        return await self._handle.predict_fleet.remote()

    async def run(self) -> None:
        self.monitor.alerter.start()
        while not self._stop.is_set():
            await self.monitor.step()
            try:
                await asyncio.wait_for(self._stop.wait(), self.settings.failure.refresh_s)
            except asyncio.TimeoutError:
                pass

    async def get_snapshot(self, since: int) -> Snapshot:
        return self.monitor.get_snapshot(since)

    async def risk_history(self, target_id: str, limit: int | None = None) -> list[dict[str, Any]] | None:
        """The target's recent predicted risk (None: never predicted since this actor started)."""
        return self.monitor.history.points(target_id, limit)

    async def record_mitigation(self, target_id: str, action: str, comment: str) -> dict[str, Any]:
        return await self.monitor.record_mitigation(target_id, action, comment)

    async def alerts(self) -> list[dict[str, Any]]:
        return list(self.monitor.sent)

    async def stats(self) -> dict[str, Any]:
        return self.monitor.stats(MONITOR_NAME)

    async def stop(self) -> None:
        self._stop.set()
        await self.monitor.alerter.stop()


def _mitigation_store(url: str | None, key: str) -> Any | None:
    if not url:
        return None

    async def store(record: bytes) -> None:
        import redis.asyncio as aioredis

        r = aioredis.Redis.from_url(url)
        await r.rpush(key, record)
        await r.aclose()
    return store

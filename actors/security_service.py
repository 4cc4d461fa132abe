"""Security engine on Ray: one correlator actor, fed by the collectors, read by the API.

`security-correlator` hosts the detectors, the Sigma rule pack, the graph correlator and
the response engine (aiops.security). The simulator collector sends it each tick's auth
lines and flows; the NATS collector sends raw records published on
`<prefix>.events.security.<format>` (formats: aiops.security.parsers.formats()). A timer
closes incidents whose window has passed and runs escalations. The ingress talks to it
through `SecurityProxy`, which checks API tokens locally so a 401/403 costs no actor hop.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

import ray
from fastapi import APIRouter

from aiops.settings import Settings

CORRELATOR_NAME = "security-correlator"


class SecurityCorrelator:
    def __init__(self, settings: Settings, full_sigma: bool = False) -> None:
        from aiops.security.correlator_pipeline import SecurityPipeline
        from aiops.security.correlator_service import SecurityService
        from aiops.security.events import RejectionCounter
        from aiops.security.response import ResponseEngine, load_response_config
        from aiops.security.sigma_pipeline import load_detection_pipeline
        from aiops.security.simulated_events import TickConverter

        sigma = load_detection_pipeline(full_sigma, settings)
        self.settings = settings
        self.service = SecurityService(SecurityPipeline(sigma=sigma), ResponseEngine(load_response_config()))
        self.rejections = RejectionCounter()
        self.converter = TickConverter(self.rejections)
        self.events_in = 0
        self.started = time.time()
        self._stop = asyncio.Event()

    # ---- ingestion -------------------------------------------------------
    async def ingest_ticks(self, ticks: list[Any]) -> int:
        events = [e for t in ticks for e in self.converter.convert(t)]
        self.service.ingest_events(events)
        self.events_in += len(events)
        return len(events)

    async def ingest_raw(self, fmt: str, records: list[Any]) -> dict[str, int]:
        """Raw records of one format; bad ones are counted with a reason and skipped."""
        from aiops.security.events import Rejection
        from aiops.security.parsers import formats, parse_records

        if fmt not in formats():
            for _ in records:
                self.rejections.add(Rejection(fmt, "unknown_format"))
            return {"accepted": 0, "rejected": len(records)}
        before = self.rejections.total
        events = list(parse_records(fmt, records, self.rejections))
        self.service.ingest_events(events)
        self.events_in += len(events)
        return {"accepted": len(events), "rejected": self.rejections.total - before}

    async def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.service.ingest_events([])  # closes windows, raises incidents that became complete
                self.service.response.check_escalations()
            except Exception:  # keep the timer alive; state errors surface through the API
                pass
            try:
                await asyncio.wait_for(self._stop.wait(), 0.05)
            except asyncio.TimeoutError:
                pass

    async def stop(self) -> None:
        self._stop.set()

    async def stats(self) -> dict[str, Any]:
        return {"name": CORRELATOR_NAME, "events_in": self.events_in, "anomalies": len(self.service.anomalies),
                "rejections": self.rejections.as_dict(), "uptime_s": round(time.time() - self.started, 1)}

    # ---- API (called through SecurityProxy) -------------------------------
    async def list_anomalies(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return await self.service.list_anomalies(*args, **kwargs)

    async def get_anomaly(self, anomaly_id: str) -> dict[str, Any] | None:
        return await self.service.get_anomaly(anomaly_id)

    async def incident(self, incident_id: str) -> dict[str, Any] | None:
        return await self.service.incident(incident_id)

    async def threats(self) -> dict[str, Any]:
        return await self.service.threats()

    async def respond(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        return await self.service.respond(*args, **kwargs)

    async def approve(self, response_id: str, principal: Any) -> dict[str, Any] | None:
        return await self.service.approve(response_id, principal)


def start_security_correlator(settings: Settings) -> Any:
    return ray.remote(SecurityCorrelator).options(
        name=CORRELATOR_NAME, namespace=settings.ray.namespace, num_cpus=settings.ray.actor_num_cpus,
        max_restarts=-1, max_concurrency=32, get_if_exists=True,
    ).remote(settings)


class SecurityProxy:
    """SecurityApiService for the ingress: tokens checked here, everything else in the actor."""

    def __init__(self, settings: Settings) -> None:
        from aiops.security.response import TokenAuth, load_response_config

        self.settings = settings
        self._auth = TokenAuth(load_response_config().api_tokens)
        self._actor: Any = None

    @property
    def actor(self) -> Any:
        if self._actor is None:
            self._actor = ray.get_actor(CORRELATOR_NAME, namespace=self.settings.ray.namespace)
        return self._actor

    def authenticate(self, token: str | None) -> Any:
        return self._auth.authenticate(token)

    async def list_anomalies(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return await self.actor.list_anomalies.remote(*args, **kwargs)

    async def get_anomaly(self, anomaly_id: str) -> dict[str, Any] | None:
        return await self.actor.get_anomaly.remote(anomaly_id)

    async def incident(self, incident_id: str) -> dict[str, Any] | None:
        return await self.actor.incident.remote(incident_id)

    async def threats(self) -> dict[str, Any]:
        return await self.actor.threats.remote()

    async def respond(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        return await self.actor.respond.remote(*args, **kwargs)

    async def approve(self, response_id: str, principal: Any) -> dict[str, Any] | None:
        return await self.actor.approve.remote(response_id, principal)


def build_security_routers(settings: Settings) -> list[APIRouter]:
    from aiops.api.security import make_router

    return [make_router(SecurityProxy(settings))]

"""Security engine on Ray: one correlator actor, fed by the collectors, read by the API.

`security-correlator` hosts the detectors, the Sigma rule pack, the graph correlator and
the response engine (aiops.security). Collectors parse where records arrive
(aiops.security.intake: the simulator's auth lines and platform events, and records published
on `<prefix>.events.security.<format>`, formats: aiops.security.parsers.formats()) and send
one batch of events per call with the rejections they counted, so parsing runs on the
collectors' cores and the correlator's core only correlates. A timer
closes incidents whose window has passed and runs escalations. The ingress talks to it
through `SecurityProxy`; API tokens are checked in the ingress (`aiops.api.auth`) before any actor hop.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

import ray
from fastapi import APIRouter

from actors.names import CORRELATOR_NAME
from actors.process_tuning import tune_gc
from actors.remote_errors import awaited
from aiops.logs import carries_request_id, request_kwargs
from aiops.settings import Settings

log = logging.getLogger(__name__)


def load_collector_matcher(settings: Settings) -> Any:
    """The Sigma rules a collector pre-matches with (same rules as the correlator), or None when off."""
    if not settings.security.match_in_collectors:
        return None
    from aiops.security.sigma.pipeline import load_detection_pipeline

    return load_detection_pipeline(None, settings)


@carries_request_id  # its methods take aiops_request_id=: the lines they log carry the HTTP request's id
class SecurityCorrelator:
    """The correlator actor: builds the engine from settings, runs the timer, answers the API.

    The policy (redelivery skipping, learned-state snapshots, incident alerts, what a tick does, the stats) is in
    ``aiops.security.runtime.CorrelatorRuntime``; this class only wires it.
    """

    def __init__(self, settings: Settings, full_sigma: bool | None = None) -> None:
        from aiops.security.correlation.graph import CorrelatorConfig
        from aiops.security.pipeline import SecurityPipeline
        from actors.alerting import build_alerter, generator_base
        from aiops.security.runtime import CorrelatorRuntime, IncidentAlerts, LearnedSnapshots
        from aiops.security.service import SecurityService
        from aiops.security.response.engine import ResponseEngine
        from aiops.security.sigma.pipeline import load_detection_pipeline
        from aiops.security.intel.threat_intel import load_threat_intel

        sigma = load_detection_pipeline(full_sigma, settings)
        self.settings = settings
        store, audit, learned, ledger = None, None, None, None
        if settings.redis.url:  # what operators act on and what the detectors learned survive a restart
            from aiops.security.anomaly_store import RedisAnomalyStore
            from aiops.security.learned_state import RedisLearnedStore
            from aiops.security.response.audit import AuditLog, RedisAuditStore

            store = RedisAnomalyStore.from_url(settings.redis.url, settings.redis.key_prefix)
            audit = AuditLog(RedisAuditStore.from_url(settings.redis.url, settings.redis.key_prefix))
            learned = RedisLearnedStore.from_url(settings.redis.url, settings.redis.key_prefix)
            from aiops.security.delivery_ledger import RedisDeliveryLedger  # JetStream deliveries taken, durably

            ledger = RedisDeliveryLedger.from_url(settings.redis.url, settings.redis.key_prefix, settings.redis.ttl_s)
        response = ResponseEngine(settings.security.response, audit=audit)
        # ids carry the start time, so records kept from an earlier run never collide with new ones
        ids = CorrelatorConfig(id_prefix=time.strftime("%y%m%d%H%M%S", time.gmtime()) + f"{os.getpid() % 256:02x}-")
        intel = load_threat_intel(settings.security.detection)
        self.service = SecurityService(SecurityPipeline(correlator=ids, sigma=sigma, intel=intel), response, store=store)
        snapshots = LearnedSnapshots(learned, self.service.pipeline, settings.security.learned_snapshot_s)
        snapshots.restore()
        # open incidents at or above alerting.incident_min_severity, re-sent every alerting.evaluate_s
        self.alerter = build_alerter(settings, "security", settings.alerting.evaluate_s,
                                     settings.alerting.incident_min_severity)
        alerts = IncidentAlerts(self.alerter, generator_base(settings), settings.alerting.evaluate_s)
        self.runtime = CorrelatorRuntime(self.service, snapshots, intel, alerts, ledger=ledger)
        self.rejections = self.runtime.rejections
        self._stop = asyncio.Event()
        tune_gc()

    # ---- ingestion -------------------------------------------------------
    async def ingest_events(self, events: list[Any], rejected: dict[tuple[str, str], int] | None = None,
                            samples: list[Any] | None = None, arrived_at: float | None = None,
                            keyed: list[tuple[str, bool, list[Any]]] | None = None) -> int:
        """Events parsed by a collector (aiops.security.intake), with the rejections it counted.

        ``keyed`` carries events per delivery: ``(key, redelivered, events)``, the key naming the
        message (e.g. ``nats:<stream>:<seq>``). A redelivered message whose key was processed before
        (its ack came too late) is skipped, so it is correlated once; keys are remembered only once
        the batch went through. ``arrived_at`` (epoch seconds) is when the batch entered the platform
        (e.g. its JetStream timestamp); incident latency is measured from it.
        """
        return self.runtime.ingest(events, rejected, samples, arrived_at, keyed)

    def snapshot_learned(self) -> int:
        """Save what the detectors learned (bytes written; 0 without Redis)."""
        return self.runtime.learned.save()

    def evaluate_alerts(self) -> int:
        """Push the open incidents now (and resolve those that closed); returns how many are firing."""
        return self.runtime.alerts.evaluate(self.service) if self.runtime.alerts is not None else 0

    async def run(self) -> None:
        """The timer: one ``CorrelatorRuntime.tick`` every 50 ms until stopped (alert sinks run alongside)."""
        self.alerter.start()
        while not self._stop.is_set():
            self.runtime.tick()
            try:
                await asyncio.wait_for(self._stop.wait(), 0.05)
            except asyncio.TimeoutError:
                pass

    async def stop(self) -> None:
        self._stop.set()
        await self.alerter.stop()
        self.snapshot_learned()  # a clean stop keeps the latest baselines

    async def stats(self) -> dict[str, Any]:
        return {"name": CORRELATOR_NAME, **self.runtime.stats()}

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
        out = await self.service.respond(*args, **kwargs)
        log.info("response requested: %s", (out or {}).get("status"), extra={"response_id": (out or {}).get("response_id")})
        return out

    async def approve(self, response_id: str, principal: Any) -> dict[str, Any] | None:
        out = await self.service.approve(response_id, principal)
        log.info("response %s approved: %s", response_id, (out or {}).get("status"), extra={"response_id": response_id})
        return out

    async def list_suppressions(self) -> list[dict[str, Any]]:
        return await self.service.list_suppressions()

    async def list_responses(self, status: str | None, limit: int) -> list[dict[str, Any]]:
        return await self.service.list_responses(status, limit)

    async def audit_trail(self, limit: int) -> list[dict[str, Any]]:
        return await self.service.audit_trail(limit)

    async def add_suppression(self, entry: dict[str, Any], principal: Any) -> dict[str, Any]:
        out = await self.service.add_suppression(entry, principal)
        log.info("suppression %s added", out.get("id"), extra={"suppression_id": out.get("id")})
        return out

    async def remove_suppression(self, sid: str, principal: Any) -> dict[str, Any] | None:
        out = await self.service.remove_suppression(sid, principal)
        log.info("suppression %s removed: %s", sid, out is not None, extra={"suppression_id": sid})
        return out


def start_security_correlator(settings: Settings) -> Any:
    return ray.remote(SecurityCorrelator).options(
        name=CORRELATOR_NAME, namespace=settings.ray.namespace, num_cpus=settings.ray.actor_num_cpus,
        max_restarts=-1, max_concurrency=32, get_if_exists=True,
    ).remote(settings)


class SecurityProxy:
    """SecurityApiService for the ingress: every call goes to the correlator actor."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._actor: Any = None

    @property
    def actor(self) -> Any:
        if self._actor is None:
            self._actor = ray.get_actor(CORRELATOR_NAME, namespace=self.settings.ray.namespace)
        return self._actor

    async def list_anomalies(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return await awaited(self.actor.list_anomalies.remote(*args, **kwargs))

    async def get_anomaly(self, anomaly_id: str) -> dict[str, Any] | None:
        return await awaited(self.actor.get_anomaly.remote(anomaly_id))

    async def incident(self, incident_id: str) -> dict[str, Any] | None:
        return await awaited(self.actor.incident.remote(incident_id))

    async def threats(self) -> dict[str, Any]:
        return await awaited(self.actor.threats.remote())

    async def respond(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        return await awaited(self.actor.respond.remote(*args, **kwargs, **request_kwargs()))

    async def approve(self, response_id: str, principal: Any) -> dict[str, Any] | None:
        return await awaited(self.actor.approve.remote(response_id, principal, **request_kwargs()))

    async def list_suppressions(self) -> list[dict[str, Any]]:
        return await awaited(self.actor.list_suppressions.remote())

    async def add_suppression(self, entry: dict[str, Any], principal: Any) -> dict[str, Any]:
        return await awaited(self.actor.add_suppression.remote(entry, principal, **request_kwargs()))

    async def remove_suppression(self, sid: str, principal: Any) -> dict[str, Any] | None:
        return await awaited(self.actor.remove_suppression.remote(sid, principal, **request_kwargs()))

    async def metric_families(self) -> list[Any]:
        """The correlator's counters for /metrics (``up`` = 0 when it does not answer in 5 s)."""
        from aiops.api.security_metrics import security_metric_families

        try:
            stats = await asyncio.wait_for(self.actor.stats.remote(), 5.0)
        except Exception:  # noqa: BLE001 - not running or not answering: that is what the scrape reports
            self._actor = None
            stats = None
        return security_metric_families(stats)


def build_security_routers(settings: Settings) -> tuple[list[APIRouter], Any]:
    """The security API routers and the /metrics source that goes with them."""
    from aiops.api.security import make_router

    proxy = SecurityProxy(settings)
    return [make_router(proxy)], proxy.metric_families

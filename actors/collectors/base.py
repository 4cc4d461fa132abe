"""Base of the collector actors: stats, recent events, stop, and handing security records on.

Each collector is an async Ray actor whose run() loop is started once and runs until stop();
stats() answers concurrently. Parsing lives in aiops.telemetry (and aiops.security for security
records); collectors only move data and count.
"""
from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

import ray

from actors.names import CORRELATOR_NAME
from actors.router import ShardRouter
from actors.security_service import load_collector_matcher
from aiops.security.intake import SecurityIntake
from aiops.settings import Settings
from aiops.telemetry.batch import Rejection
from aiops.telemetry.counters import CollectorStats
from aiops.telemetry.event_store import EventStore, RedisEventStore

__all__ = ["Collector", "RECENT_EVENTS", "start_collector"]

RECENT_EVENTS = 10_000


class Collector:
    """Base of the collector actors: stats, recent events, stop, and the hand-over of security records."""

    kind = "collector"

    def __init__(self, name: str, settings: Settings, router: ShardRouter | None = None) -> None:
        self.settings = settings
        self.router = router or ShardRouter(settings)
        self.stats_ = CollectorStats(name, self.kind)
        self.recent_events: deque[dict[str, Any]] = deque(maxlen=RECENT_EVENTS)
        self._stop = asyncio.Event()
        self.intake = SecurityIntake()  # security records are parsed (and Sigma-matched) where they arrive
        self._security: Any = None
        self._matcher_task: asyncio.Future | None = None
        self._matcher_failed = False
        self._event_store: EventStore | None = (RedisEventStore.from_url(settings.redis.url, settings.redis.key_prefix)
                                                if settings.redis.url else None)

    def _correlator(self) -> Any | None:
        """The security correlator's handle (looked up once; None when it is not running)."""
        if self._security is None:
            try:
                self._security = ray.get_actor(CORRELATOR_NAME, namespace=self.settings.ray.namespace)
            except ValueError:
                return None
        return self._security

    def _load_matcher(self) -> None:
        """Load the Sigma rules in the background (the full SigmaHQ set takes 15-35 s, longer than a
        JetStream ack wait); until they are loaded, or if loading failed (reported once in stats),
        events go unmatched and the correlator matches them itself."""
        if self.intake.matcher is not None or not self.settings.security.match_in_collectors:
            return
        if self._matcher_task is None:
            self._matcher_task = asyncio.get_running_loop().create_task(
                asyncio.to_thread(load_collector_matcher, self.settings))
        elif self._matcher_task.done() and not self._matcher_failed:
            if self._matcher_task.exception() is None:
                self.intake.matcher = self._matcher_task.result()
            else:
                self._matcher_failed = True
                self.stats_.error(f"security rules: {self._matcher_task.exception()}")

    def _take_rejections(self) -> tuple[dict, list]:
        """Rejections the intake counted since the last hand-over (also counted in this collector's stats)."""
        rejected, samples = self.intake.rejections.take()
        if rejected:
            self.stats_.rejections["bad_security_record"] += sum(rejected.values())
        return rejected, samples

    async def _send_security(self, parse: Any, required: bool = False) -> None:
        """Parse with ``parse(intake)`` and hand the events to the correlator in one call (best effort,
        never at the expense of the caller's metrics; errors are counted). ``required``: the operator
        asked for this source to be correlated, so a missing correlator is a counted rejection."""
        actor = self._correlator()
        if actor is None:
            if required:
                self.stats_.reject([Rejection(0, "no security correlator running")])
            return
        try:
            self._load_matcher()
            events = parse(self.intake)
            rejected, samples = self._take_rejections()
            await actor.ingest_events.remote(events, rejected, samples, time.time())
            self.stats_.events += len(events)
        except Exception as exc:
            self._security = None  # look the actor up again (it may have been replaced)
            self.stats_.error(f"security: {exc}")

    def _keep_events(self, events: list[dict[str, Any]]) -> None:
        """Recent events in memory; health events (the failure model's labels) also durably, when Redis is set."""
        self.recent_events.extend(events)
        self.stats_.events += len(events)
        if self._event_store is None or not events:
            return
        try:
            self._event_store.append(events)
        except Exception as exc:  # Redis away: count it, the telemetry path goes on
            self.stats_.error(f"event store: {exc}")

    async def stats(self) -> dict[str, Any]:
        return self.stats_.as_dict()

    async def events(self, limit: int = 100) -> list[dict[str, Any]]:
        return list(self.recent_events)[-limit:]

    async def stop(self) -> None:
        self._stop.set()

    async def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopped; returns False once stop() was called."""
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
            return False
        except asyncio.TimeoutError:
            return True


def start_collector(cls: type, settings: Settings, name: str) -> Any:
    """Create a named, restartable collector actor with a fractional CPU."""
    return ray.remote(cls).options(
        name=name, namespace=settings.ray.namespace, num_cpus=settings.ray.actor_num_cpus,
        max_restarts=-1, max_concurrency=64,
    ).remote(name, settings)

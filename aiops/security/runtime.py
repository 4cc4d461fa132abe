"""What the security correlator hosts, without Ray: ingestion bookkeeping, the periodic tick, the stats.

The correlator actor only wires these together and runs the timer loop. Keeping the policy
here (skip a redelivered message once, save learned state every ``learned_snapshot_s``, push
incident alerts every ``alerting.evaluate_s``, what a tick does, what the stats report) lets it
be tested without a cluster.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, Callable, Iterable, Protocol, Sequence

import psutil

from aiops.alerting.alerter import Alerter
from aiops.security.alerts import incident_alert_specs
from aiops.security.delivery_ledger import DeliveryLedger
from aiops.security.events import RejectionCounter, SecurityEvent
from aiops.security.pipeline import SecurityPipeline
from aiops.security.service import SecurityService

__all__ = ["SEEN_KEYS", "LearnedStore", "LearnedSnapshots", "IncidentAlerts", "CorrelatorRuntime"]

SEEN_KEYS = 100_000  # delivery keys remembered for redelivery detection


class LearnedStore(Protocol):
    """Where learned detector state is kept (``aiops.security.learned_state.RedisLearnedStore``)."""

    def save(self, pipe: SecurityPipeline) -> int: ...
    def restore(self, pipe: SecurityPipeline) -> bool: ...


class LearnedSnapshots:
    """Restores learned state once and saves it every ``every_s``; a failure is reported, never raised.

    A bad snapshot means a warm-up and Redis away means no save: neither may stop correlation,
    so errors land in ``error`` (shown by the stats) instead.
    """

    def __init__(self, store: LearnedStore | None, pipeline: SecurityPipeline, every_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.pipeline = pipeline
        self.every_s = every_s
        self.clock = clock
        self.last = clock()
        self.restored = False
        self.error: str | None = None

    def restore(self) -> bool:
        """Load the latest snapshot into the pipeline (False without a store or a snapshot)."""
        if self.store is None:
            return False
        try:
            self.restored = self.store.restore(self.pipeline)
        except Exception as exc:  # noqa: BLE001 - a bad snapshot means a warm-up, never a dead actor
            self.error = f"restore: {type(exc).__name__}: {exc}"[:300]
        return self.restored

    def save(self) -> int:
        """Save now (bytes written; 0 without a store or when the save failed)."""
        self.last = self.clock()
        if self.store is None:
            return 0
        try:
            return self.store.save(self.pipeline)
        except Exception as exc:  # noqa: BLE001 - Redis away: keep correlating, report it
            self.error = f"save: {type(exc).__name__}: {exc}"[:300]
            return 0

    def due(self) -> bool:
        """A store is configured and ``every_s`` passed since the last save."""
        return self.store is not None and self.clock() - self.last >= self.every_s

    def save_if_due(self) -> int:
        """Save when due (bytes written, else 0)."""
        return self.save() if self.due() else 0


class IncidentAlerts:
    """Open incidents sent to the alert sinks every ``every_s``; closed ones resolve by leaving the set."""

    def __init__(self, alerter: Alerter, api_base: str, every_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.alerter = alerter
        self.api_base = api_base  # base of each alert's generatorURL
        self.every_s = every_s
        self.clock = clock
        self.last = float("-inf")  # the first tick evaluates

    def due(self) -> bool:
        """``every_s`` passed since the last evaluation."""
        return self.clock() - self.last >= self.every_s

    def evaluate(self, service: SecurityService) -> int:
        """Push the open incidents (and resolve those that closed); returns how many are firing."""
        self.last = self.clock()
        service.close_expired()  # an incident whose window passed is resolved, read by the API or not
        return len(self.alerter.evaluate(incident_alert_specs(service.anomalies.values(), self.api_base)).firing)


class CorrelatorRuntime:
    """The service plus what its host counts: events and batches in, busy time, redeliveries, rejections."""

    def __init__(self, service: SecurityService, learned: LearnedSnapshots, intel: Any = None,
                 alerts: IncidentAlerts | None = None, seen_keys: int = SEEN_KEYS,
                 ledger: DeliveryLedger | None = None) -> None:
        self.service = service
        self.learned = learned
        self.alerts = alerts
        self.intel = intel  # aiops.security.intel.threat_intel.ThreatIntel or None
        self.rejections = RejectionCounter()
        self.events_in = 0
        self.batches_in = 0
        self.busy_s = 0.0  # seconds spent correlating (utilisation = busy_s / uptime)
        self.redeliveries_skipped = 0
        self.started = time.time()
        self._seen_keys: OrderedDict[str, None] = OrderedDict()
        self._max_seen = seen_keys
        self.ledger = ledger  # durable keys taken (survives a restart); None: memory only
        self._unrecorded: list[str] = []  # correlated, not yet in the ledger (Redis was away)

    def _fresh(self, keyed: Iterable[tuple[str, bool, list[Any]]]) -> tuple[list[str], list[Any]]:
        """Keys and events of the deliveries not seen before (a redelivery of a processed key is skipped)."""
        keyed = list(keyed)
        durable: set[str] = set()
        unknown = [k for k, again, _ in keyed if again and k not in self._seen_keys]
        if self.ledger is not None and unknown:  # a restarted correlator knows what its predecessor took
            durable = self.ledger.seen(unknown)
        keys: list[str] = []
        fresh: list[Any] = []
        for key, redelivered, evs in keyed:
            if redelivered and (key in self._seen_keys or key in durable):
                self.redeliveries_skipped += 1
                continue
            keys.append(key)
            fresh.extend(evs)
        fresh.sort(key=lambda e: e.timestamp)
        return keys, fresh

    def _remember(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._seen_keys[key] = None
        while len(self._seen_keys) > self._max_seen:
            self._seen_keys.popitem(last=False)

    def ingest(self, events: list[SecurityEvent], rejected: dict[tuple[str, str], int] | None = None,
               samples: list[Any] | None = None, arrived_at: float | None = None,
               keyed: list[tuple[str, bool, list[Any]]] | None = None) -> int:
        """Correlate one collector batch; returns the number of events taken (see the actor's docstring).

        Keys are remembered only once the batch went through, so a batch that failed is retried whole.
        """
        keys: list[str] = []
        if keyed:
            keys, fresh = self._fresh(keyed)
            events = list(events) + fresh
        if rejected:
            self.rejections.merge(rejected, samples or ())
        arrived = None
        if arrived_at is not None:  # epoch seconds -> this process's perf_counter
            arrived = time.perf_counter() - max(0.0, time.time() - arrived_at)
        t0 = time.perf_counter()
        self.service.ingest_events(events, arrived)
        self.busy_s += time.perf_counter() - t0
        self._remember(keys)
        self.events_in += len(events)
        self.batches_in += 1
        self._record(keys)
        return len(events)

    def _record(self, keys: Sequence[str]) -> None:
        """Write the keys taken to the ledger; raises when it cannot, so the collector does not ack (the
        redelivery is skipped in memory and the keys are written with the next batch that gets through)."""
        if self.ledger is None or not (keys or self._unrecorded):
            return
        todo = list(dict.fromkeys([*self._unrecorded, *keys]))
        try:
            self.ledger.record(todo)
        except Exception:
            self._unrecorded = todo[-self._max_seen:]
            raise
        self._unrecorded = []

    def tick(self) -> None:
        """One timer step: close passed windows, run escalations, push alerts and save learned state when due.

        Never raises: the timer must outlive a bad step (state errors surface through the API).
        """
        try:
            self.service.ingest_events([])  # closes windows, raises incidents that became complete
            self.service.check_escalations()
            if self.alerts is not None and self.alerts.due():
                self.alerts.evaluate(self.service)
            self.learned.save_if_due()
        except Exception:  # noqa: BLE001
            pass

    def stats(self) -> dict[str, Any]:
        """Counters for /metrics and ``aiops status`` (the actor adds its name)."""
        svc = self.service
        return {"events_in": self.events_in, "batches_in": self.batches_in,
                "anomalies": len(svc.anomalies), "rejections": self.rejections.as_dict(),
                "incident_latency": svc.latency_summary(), "busy_s": round(self.busy_s, 3),
                "redeliveries_skipped": self.redeliveries_skipped, "ledger_unrecorded": len(self._unrecorded),
                "responses_restored": svc.response.restored, "audit_failures": svc.response.audit_failures,
                "audit_rows_skipped": svc.response.audit.skipped_at_start, "learned_restored": self.learned.restored,
                "learned_error": self.learned.error, "event_errors": dict(svc.event_errors),
                "store_errors": svc.store_errors, "store_last_error": svc.store_last_error,
                "network_ready": svc.pipeline.network.ready,
                "rss_mb": round(psutil.Process().memory_info().rss / 2**20, 1),
                "intel_indicators": len(self.intel) if self.intel is not None else 0,
                "alerting": self.alerts.alerter.stats() if self.alerts is not None else {},
                "intel_errors": len(self.intel.errors) if self.intel is not None else 0,
                "uptime_s": round(time.time() - self.started, 1)}

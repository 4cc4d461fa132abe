"""The correlator's host policy without Ray: redeliveries skipped once, learned-state timer, tick, stats."""
from __future__ import annotations

from typing import Any

from aiops.security.events import LogSource, SecurityEvent
from aiops.security.pipeline import SecurityPipeline
from aiops.security.runtime import CorrelatorRuntime, LearnedSnapshots
from aiops.security.service import SecurityService

T0 = 1_767_225_600.0
SSH = LogSource(product="linux", service="sshd")


def _event(i: int = 0) -> SecurityEvent:
    return SecurityEvent(timestamp=T0 + i, source="auth", logsource=SSH, host="h1", user="admin", src_ip="203.0.113.7",
                         action="ssh_login", outcome="success")


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class Store:
    """A learned-state store that records saves and can be told to fail."""

    def __init__(self, snapshot: bool = True, fail: Exception | None = None) -> None:
        self.saves = 0
        self.snapshot = snapshot
        self.fail = fail

    def save(self, pipe: SecurityPipeline) -> int:
        if self.fail:
            raise self.fail
        self.saves += 1
        return 42

    def restore(self, pipe: SecurityPipeline) -> bool:
        if self.fail:
            raise self.fail
        return self.snapshot


def _runtime(store: Any = None, clock: Clock | None = None, every_s: float = 60.0, **kw: Any) -> CorrelatorRuntime:
    svc = SecurityService()
    return CorrelatorRuntime(svc, LearnedSnapshots(store, svc.pipeline, every_s, clock or Clock()), **kw)


def test_a_redelivered_key_is_skipped_once_and_first_deliveries_never():
    rt = _runtime()
    assert rt.ingest([], keyed=[("nats:S:1", False, [_event(1)]), ("nats:S:2", False, [_event(2)])]) == 2
    assert rt.ingest([], keyed=[("nats:S:2", True, [_event(2)]), ("nats:S:3", False, [_event(3)])]) == 1
    assert rt.ingest([], keyed=[("nats:S:1", False, [_event(1)])]) == 1  # a recreated stream restarts at 1
    assert rt.events_in == 4 and rt.batches_in == 3 and rt.redeliveries_skipped == 1


def test_seen_keys_are_bounded_oldest_first():
    rt = _runtime(seen_keys=2)
    for k in range(3):
        rt.ingest([], keyed=[(f"k{k}", False, [_event(k)])])
    assert rt.ingest([], keyed=[("k0", True, [_event(0)])]) == 1  # forgotten, so correlated again
    assert rt.ingest([], keyed=[("k2", True, [_event(2)])]) == 0 and rt.redeliveries_skipped == 1


def test_rejections_and_arrival_time_are_counted():
    rt = _runtime()
    rt.ingest([_event()], rejected={("sshd", "unparsed"): 3}, arrived_at=T0)
    assert rt.rejections.as_dict() == {"sshd:unparsed": 3} and rt.events_in == 1 and rt.busy_s >= 0.0


def test_learned_state_is_saved_every_period_by_the_tick():
    clock, store = Clock(), Store()
    rt = _runtime(store, clock, every_s=60.0)
    rt.tick()
    assert store.saves == 0
    clock.t += 60.0
    rt.tick()
    assert store.saves == 1
    clock.t += 30.0
    rt.tick()
    assert store.saves == 1  # the period restarts from the last save
    assert rt.learned.save() == 42 and store.saves == 2


def test_without_a_store_nothing_is_saved_or_restored():
    clock = Clock()
    snaps = LearnedSnapshots(None, SecurityPipeline(), 1.0, clock)
    clock.t += 10
    assert not snaps.due() and snaps.save_if_due() == 0 and snaps.save() == 0 and snaps.restore() is False


def test_store_failures_are_reported_not_raised():
    snaps = LearnedSnapshots(Store(fail=ConnectionError("redis away")), SecurityPipeline(), 1.0, Clock())
    assert snaps.restore() is False and snaps.error == "restore: ConnectionError: redis away"
    assert snaps.save() == 0 and snaps.error == "save: ConnectionError: redis away"
    ok = LearnedSnapshots(Store(), SecurityPipeline(), 1.0, Clock())
    assert ok.restore() is True and ok.restored and ok.error is None


def test_a_failing_tick_keeps_the_timer_alive():
    rt = _runtime()

    def boom(*_: Any) -> None:
        raise RuntimeError("bad state")

    rt.service.ingest_events = boom  # type: ignore[method-assign]
    rt.tick()  # does not raise


def test_stats_report_the_counters_the_metrics_and_status_read():
    class Intel(list):
        errors = ["bad feed"]

    rt = _runtime(Store(), intel=Intel([1, 2, 3]))
    rt.learned.restore()
    rt.ingest([_event()], rejected={("sshd", "unparsed"): 2})
    stats = rt.stats()
    assert {"events_in", "batches_in", "anomalies", "rejections", "incident_latency", "busy_s", "redeliveries_skipped",
            "ledger_unrecorded", "responses_restored", "audit_failures", "audit_rows_skipped", "learned_restored", "learned_error",
            "event_errors", "store_errors", "store_last_error", "network_ready", "rss_mb", "intel_indicators", "alerting",
            "intel_errors", "uptime_s"} == set(stats)
    assert stats["events_in"] == 1 and stats["learned_restored"] and stats["learned_error"] is None
    assert stats["intel_indicators"] == 3 and stats["intel_errors"] == 1 and stats["rss_mb"] > 0


def test_open_incidents_are_alerted_every_period_and_the_stats_show_it():
    from aiops.alerting.alerter import Alerter
    from aiops.security.runtime import IncidentAlerts

    clock = Clock()
    svc = SecurityService()
    svc.anomalies["inc-1"] = {"id": "inc-1", "kind": "incident", "status": "open", "severity": "high", "timestamp": T0,
                              "description": "d", "entities": ["host:h1"], "tactics": [], "techniques": []}
    svc.anomalies["inc-2"] = {"id": "inc-2", "kind": "incident", "status": "closed", "severity": "high", "timestamp": T0}
    alerts = IncidentAlerts(Alerter("security", 60.0, "medium"), "http://api", 30.0, clock)
    rt = CorrelatorRuntime(svc, LearnedSnapshots(None, svc.pipeline, 60.0, clock), alerts=alerts)
    rt.tick()  # the first tick evaluates at once
    assert alerts.alerter.evaluations == 1 and alerts.alerter.firing == 1
    clock.t += 10.0
    rt.tick()
    assert alerts.alerter.evaluations == 1  # not due yet
    clock.t += 20.0
    rt.tick()
    assert rt.stats()["alerting"]["evaluations"] == 2 and rt.stats()["alerting"]["firing"] == 1


class Ledger:
    """An in-memory delivery ledger that can be told to fail (Redis away)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.fail = False

    def seen(self, keys: Any) -> set[str]:
        if self.fail:
            raise ConnectionError("ledger away")
        return {k for k in keys if k in self.counts}

    def record(self, keys: Any) -> None:
        if self.fail:
            raise ConnectionError("ledger away")
        for k in keys:
            self.counts[k] = self.counts.get(k, 0) + 1


def test_a_restarted_correlator_skips_what_its_predecessor_recorded():
    ledger = Ledger()
    first = _runtime(ledger=ledger)
    first.ingest([], keyed=[("nats:S:1", False, [_event(1)]), ("nats:S:2", False, [_event(2)])])
    again = _runtime(ledger=ledger)  # the actor restarted: its memory is empty
    assert again.ingest([], keyed=[("nats:S:2", True, [_event(2)]), ("nats:S:3", False, [_event(3)])]) == 1
    assert ledger.counts == {"nats:S:1": 1, "nats:S:2": 1, "nats:S:3": 1} and again.redeliveries_skipped == 1


def test_a_ledger_failure_raises_and_the_redelivery_records_the_keys_once():
    import pytest

    ledger = Ledger()
    rt = _runtime(ledger=ledger)
    ledger.fail = True
    with pytest.raises(ConnectionError):  # the collector must not ack
        rt.ingest([], keyed=[("nats:S:1", False, [_event(1)])])
    assert rt.stats()["ledger_unrecorded"] == 1
    ledger.fail = False
    assert rt.ingest([], keyed=[("nats:S:1", True, [_event(1)])]) == 0  # correlated already: skipped in memory
    assert ledger.counts == {"nats:S:1": 1} and rt.stats()["ledger_unrecorded"] == 0

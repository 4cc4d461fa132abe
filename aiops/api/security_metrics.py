"""Prometheus families for the security correlator, built from its ``stats()`` at scrape time.

Counters live in the actor (a restart resets them; ``rate()`` treats that as a counter reset).
``aiops_security_busy_seconds`` is time spent correlating: its rate is the correlator's utilisation,
the signal to add capacity before incident latency grows. Alert rules in
configs/prometheus/aiops-alerts.yml use these names.
"""
from __future__ import annotations

from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily


def security_metric_families(stats: dict[str, Any] | None) -> list[Any]:
    """Families for one correlator's stats; ``None`` (not answering) exports only ``up`` = 0."""
    up = GaugeMetricFamily("aiops_security_correlator_up", "1 when the security correlator answered the scrape")
    up.add_metric([], 0 if stats is None else 1)
    if stats is None:
        return [up]
    fams: list[Any] = [up]

    def counter(name: str, doc: str, value: float) -> None:
        c = CounterMetricFamily(name, doc)
        c.add_metric([], value)
        fams.append(c)

    counter("aiops_security_events", "Security events correlated", stats.get("events_in", 0))
    counter("aiops_security_batches", "Event batches handed to the correlator", stats.get("batches_in", 0))
    counter("aiops_security_busy_seconds", "Seconds spent correlating (rate = utilisation)", stats.get("busy_s", 0.0))
    counter("aiops_security_redeliveries_skipped", "Redelivered messages already correlated, skipped",
            stats.get("redeliveries_skipped", 0))
    counter("aiops_security_store_errors", "Failed write-throughs of anomaly records", stats.get("store_errors", 0))
    rej = CounterMetricFamily("aiops_security_rejections", "Security records rejected, by source and reason",
                              labels=["source", "reason"])
    for key, n in (stats.get("rejections") or {}).items():
        source, _, reason = key.partition(":")
        rej.add_metric([source, reason], n)
    errs = CounterMetricFamily("aiops_security_event_errors", "Events a detector failed on, by source and error",
                               labels=["source", "error"])
    for key, n in (stats.get("event_errors") or {}).items():
        source, _, err = key.partition(":")
        errs.add_metric([source, err], n)
    fams += [rej, errs]
    anomalies = GaugeMetricFamily("aiops_security_anomalies", "Anomaly and incident records held")
    anomalies.add_metric([], stats.get("anomalies", 0))
    ready = GaugeMetricFamily("aiops_security_network_detector_ready", "1 once the flow detector has its baseline")
    ready.add_metric([], 1 if stats.get("network_ready") else 0)
    fams += [anomalies, ready]
    lat = stats.get("incident_latency") or {}
    if lat.get("n"):
        q = GaugeMetricFamily("aiops_security_incident_latency_seconds",
                              "Arrival of an event to the incident update it caused, over the last 10,000 updates",
                              labels=["quantile"])
        q.add_metric(["0.5"], lat["p50_s"])
        q.add_metric(["0.99"], lat["p99_s"])
        q.add_metric(["1"], lat["max_s"])
        fams.append(q)
    return fams

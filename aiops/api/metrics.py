"""Prometheus exposition for the API: live counters gathered from shards and collectors.

Counters live in the actors that own them (a restart resets an actor's counter, which
Prometheus' rate() handles as a counter reset); the ingress gathers them per scrape.
Request latency is a real histogram kept in the ingress process.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

from prometheus_client import CollectorRegistry, Counter as PCounter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

__all__ = ["LATENCY_BUCKETS", "ApiMetrics"]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _LiveStats:
    """Adapter that turns the latest stats snapshot into metric families at scrape time."""

    def __init__(self) -> None:
        self.shards: list[dict[str, Any] | None] = []
        self.collectors: list[dict[str, Any]] = []
        self.extra: list[Any] = []  # metric families from the engines, gathered per scrape

    def collect(self) -> Iterable[Any]:
        ingested = CounterMetricFamily("aiops_points_ingested", "Samples stored by feature shards", labels=["shard"])
        points = GaugeMetricFamily("aiops_shard_points", "Samples held in shard ring buffers", labels=["shard"])
        sbytes = GaugeMetricFamily("aiops_shard_buffer_bytes", "Bytes of shard ring buffers", labels=["shard"])
        targets = GaugeMetricFamily("aiops_shard_targets", "Targets held per shard", labels=["shard"])
        up = GaugeMetricFamily("aiops_shard_up", "1 when the shard answered the last scrape", labels=["shard"])
        dup = CounterMetricFamily("aiops_duplicate_batches_skipped", "Redelivered batches skipped", labels=["shard"])
        for i, s in enumerate(self.shards):
            up.add_metric([str(i)], 0 if s is None else 1)
            if s is None:
                continue
            ingested.add_metric([str(i)], s["points_ingested"])
            points.add_metric([str(i)], s["points_held"])
            sbytes.add_metric([str(i)], s["buffer_bytes"])
            targets.add_metric([str(i)], s["targets"])
            dup.add_metric([str(i)], s["duplicates_skipped"])
        rej = CounterMetricFamily("aiops_collector_rejections", "Input rejected by collectors, by reason",
                                  labels=["collector", "reason"])
        stored = CounterMetricFamily("aiops_collector_samples_stored", "Samples stored via a collector", labels=["collector"])
        errors = CounterMetricFamily("aiops_collector_errors", "Collector errors (connect, shard calls)", labels=["collector"])
        rate = GaugeMetricFamily("aiops_collector_samples_per_second", "Ingestion rate over the last minute", labels=["collector"])
        for c in self.collectors:
            stored.add_metric([c["name"]], c["samples_stored"])
            errors.add_metric([c["name"]], c["errors"])
            rate.add_metric([c["name"]], c["samples_per_s"])
            for reason, n in c["rejections"].items():
                rej.add_metric([c["name"], reason], n)
        yield from (ingested, points, sbytes, targets, up, dup, rej, stored, errors, rate)
        yield from self.extra


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.live = _LiveStats()
        self.registry.register(self.live)
        self.latency = Histogram("aiops_http_request_duration_seconds", "API request latency", ["route", "method", "status"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.rejections = PCounter("aiops_ingest_rejections", "Records rejected by the HTTP ingest endpoint, by reason",
                                   ["source", "reason"], registry=self.registry)
        self.accepted = PCounter("aiops_ingest_samples_accepted", "Samples accepted by the HTTP ingest endpoint",
                                 ["source"], registry=self.registry)

    def count_rejections(self, reasons: Counter, source: str = "http") -> None:
        for reason, n in reasons.items():
            self.rejections.labels(source, reason).inc(n)

    def render(self, shards: list[dict[str, Any] | None], collectors: list[dict[str, Any]], extra: list[Any] = ()) -> bytes:
        self.live.shards, self.live.collectors, self.live.extra = shards, collectors, list(extra)
        return generate_latest(self.registry)

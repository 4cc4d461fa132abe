"""Collector actors, one module per kind: simulator, NATS JetStream, Prometheus, log files.

Names resolve lazily, so importing the package does not import Ray, NATS or httpx.
"""
from __future__ import annotations

from aiops.lazy_exports import lazy_exports

__all__ = ["Collector", "RECENT_EVENTS", "start_collector", "SimulatorCollector", "NatsCollector",
           "PrometheusCollector", "LogTailer"]

__getattr__, __dir__ = lazy_exports(__name__, {
    "Collector": ".base", "RECENT_EVENTS": ".base", "start_collector": ".base",
    "SimulatorCollector": ".simulator", "NatsCollector": ".jetstream",
    "PrometheusCollector": ".prometheus", "LogTailer": ".logs",
})

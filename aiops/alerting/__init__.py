"""Alerting, Ray-free: one severity vocabulary, alert state per source following Alertmanager's client
contract (re-send while active, endsAt, resolve), and delivery off the caller's loop with bounded retry
to Alertmanager and a durable JetStream stream. Clients are injected (actors/alerting.py wires real ones)."""
from __future__ import annotations

from aiops.lazy_exports import lazy_exports

_EXPORTS = {
    "Alerter": ".alerter",
    "AlertBoard": ".board",
    "AlertSpec": ".board",
    "Evaluation": ".board",
    "iso": ".board",
    "AlertingSettings": ".config",
    "AlertmanagerSink": ".delivery",
    "Backoff": ".delivery",
    "StreamSink": ".delivery",
    "SEVERITIES": ".severity",
    "Severity": ".severity",
    "at_least": ".severity",
    "severity_rank": ".severity",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

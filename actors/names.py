"""Every Ray actor, Serve deployment and application name, defined once.

These are the names the Ray dashboard shows and the names actors look each other up by, so they
live here and nowhere else.
"""
from __future__ import annotations

__all__ = ["INGRESS_NAME", "COLLECTOR_PREFIX", "SIMULATOR_COLLECTOR_NAME", "PREDICTOR_NAME", "MONITOR_NAME",
           "OPTIMIZER_NAME", "CORRELATOR_NAME", "RETRAIN_NAME", "SHARD_PREFIX", "shard_name", "collector_name"]

INGRESS_NAME = "aiops-api"
COLLECTOR_PREFIX = "collector-"
SIMULATOR_COLLECTOR_NAME = "collector-simulator"
PREDICTOR_NAME = "failure-predictor"
MONITOR_NAME = "failure-monitor"
OPTIMIZER_NAME = "placement-optimizer"
CORRELATOR_NAME = "security-correlator"
RETRAIN_NAME = "retrain-scheduler"
SHARD_PREFIX = "feature-shard-"


def shard_name(shard_id: int) -> str:
    """Name of feature shard `shard_id` (feature-shard-0, feature-shard-1, ...)."""
    return f"{SHARD_PREFIX}{shard_id}"


def collector_name(kind: str) -> str:
    """Name of the collector of one kind (collector-simulator, collector-nats, ...)."""
    return f"{COLLECTOR_PREFIX}{kind}"

"""Prometheus gauges about the served failure model and the fleet snapshot (the alert rules read them)."""
from __future__ import annotations

from typing import Any, Mapping

__all__ = ["failure_metric_families"]


def failure_metric_families(info: Mapping[str, Any] | None, targets_predicted: int) -> list[Any]:
    """Deployed model (and its held-out quality) plus how many targets the latest snapshot covers."""
    from prometheus_client.core import GaugeMetricFamily

    fams = []
    deployed = GaugeMetricFamily("aiops_failure_model_deployed", "1 when a failure model is loaded", labels=["version"])
    deployed.add_metric([info["version"] if info else "none"], 1 if info else 0)
    fams.append(deployed)
    if info:
        for key in ("accuracy", "precision", "recall", "f1_score"):
            if info.get(key) is not None:
                g = GaugeMetricFamily(f"aiops_failure_model_{key}", f"Held-out {key} of the deployed failure model",
                                      labels=["version"])
                g.add_metric([info["version"]], float(info[key]))
                fams.append(g)
    n = GaugeMetricFamily("aiops_failure_targets_predicted", "Targets in the latest fleet-wide prediction snapshot")
    n.add_metric([], targets_predicted)
    fams.append(n)
    return fams

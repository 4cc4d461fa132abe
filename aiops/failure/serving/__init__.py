"""Serving failure predictions, Ray-free: the model core and horizon maths, the model source that follows the
registry, the prediction cache, the fleet snapshot and monitor policy, and alerts."""
from __future__ import annotations

from aiops.lazy_exports import lazy_exports

_EXPORTS = {
    "alert_thresholds": ".alerts",
    "AlertBook": ".alerts",
    "failure_alert_specs": ".alerts",
    "DEFAULT_ALERT_THRESHOLD": ".alerts",
    "cache_key": ".cache",
    "PredictionCache": ".cache",
    "DEFAULT_LRU_SIZE": ".cache",
    "severity": ".horizon",
    "rescale_horizon": ".horizon",
    "at_horizon": ".horizon",
    "at_horizon_json": ".horizon",
    "time_to_failure": ".horizon",
    "TTF_MIN_PROBABILITY": ".horizon",
    "SEVERITY": ".horizon",
    "count_vms": ".inventory",
    "VmCounts": ".inventory",
    "DEFAULT_INVENTORY_REFRESH_S": ".inventory",
    "failure_metric_families": ".metrics",
    "load_model_folder": ".model_source",
    "ModelSource": ".model_source",
    "model_info": ".model_source",
    "FleetMonitor": ".monitor",
    "RiskHistory": ".risk_history",
    "Prediction": ".predictor",
    "describe_factor": ".predictor",
    "FailurePredictorCore": ".predictor",
    "FleetPredictions": ".service",
    "PredictionService": ".service",
    "require_prediction": ".service",
    "SnapshotReplica": ".snapshot",
    "HealthFallback": ".fallback",
    "history_window": ".fallback",
    "UnsupervisedCore": ".unsupervised",
    "is_unsupervised": ".unsupervised",
    "unsupervised_version": ".unsupervised",
    "UNSUPERVISED_PREFIX": ".unsupervised",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

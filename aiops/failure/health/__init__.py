"""Label-free health scores: streaming anomaly detectors, simple baselines and the pyod ensemble."""
from __future__ import annotations

from aiops.lazy_exports import lazy_exports

_EXPORTS = {
    "windowed_gaussian": ".baselines",
    "rolling_knn_distance": ".baselines",
    "HealthScorer": ".scorer",
    "FleetHealth": ".fleet",
    "fit_fleet_health": ".fleet",
    "HealthEnsemble": ".scorer",
    "rolling_health": ".scorer",
    "METHODS": ".scorer",
    "StreamParams": ".stream",
    "knn_nonconformity": ".stream",
    "conformal_surprise": ".stream",
    "rolling_robust_z": ".stream",
    "spatial_novelty": ".stream",
    "anomaly_likelihood": ".stream",
    "likelihood_to_score": ".stream",
    "raw_surprise": ".stream",
    "stream_scores": ".stream",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

"""Failure prediction: models/, training/, serving/, health/ and evaluation/ subpackages, the model registry,
the failure.yaml configuration and the domain's errors. Heavy parts load on first use."""
from __future__ import annotations

from aiops.lazy_exports import lazy_exports

_EXPORTS = {
    "NoModel": ".errors",
    "UnknownTarget": ".errors",
    "ModelRegistry": ".registry",
    "ModelVersion": ".registry",
    "PromotionDecision": ".registry",
    "RegistryError": ".registry",
    "data_fingerprint": ".registry",
    "FailureConfig": ".config",
    "load_failure_config": ".config",
    "TrainConfig": ".config",
    "load_train_config": ".config",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

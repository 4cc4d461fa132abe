"""Which model a replica serves: follow the registry's production pointer (or a pinned version), polled at
most every `poll_s`, and swap a new version in place without a restart.

Loading the files is injected (`load`), so the policy is tested without xgboost or a real registry; the
horizon and operating point come from the version's registry metadata.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Sequence

from aiops.features.definitions import FeatureDefinition
from aiops.failure.errors import NO_MODEL_MESSAGE, NoModel
from aiops.failure.registry import ModelRegistry, ModelVersion
from aiops.failure.serving.predictor import FailurePredictorCore

__all__ = ["LoadedModel", "load_model_folder", "ModelSource", "model_info"]

LoadedModel = tuple[Any, Any | None]  # (failure model, survival model or None)
FITTING_MESSAGE = ("no failure model is promoted and the label-free health score is not fitted yet (it needs a few "
                   "minutes of telemetry); retry shortly, or train one with `python -m jobs.train_failure`")


def load_model_folder(folder: Path, device: str = "cpu") -> LoadedModel:
    """The failure model in a fetched registry folder, and its survival model when one was saved beside it."""
    from aiops.failure.models import FailureModel

    model = FailureModel.load(folder)
    survival = None
    if (folder / "survival" / "meta.json").exists():
        from aiops.failure.models.survival import SurvivalModel

        survival = SurvivalModel.load(folder / "survival")
    if device == "cuda":
        for b in [*getattr(model, "boosters", []), *([survival.booster] if survival else [])]:
            b.set_param({"device": "cuda"})
    return model, survival


class ModelSource:
    """The current `FailurePredictorCore`, kept in step with the registry."""

    def __init__(self, registry: ModelRegistry, name: str, pin: str, poll_s: float, default_horizon_s: float,
                 definitions: Sequence[FeatureDefinition], vms_on_host: Callable[[str], int],
                 load: Callable[[Path], LoadedModel], clock: Callable[[], float] = time.monotonic,
                 on_change: Callable[[], None] | None = None, fallback: Callable[[], Any | None] | None = None) -> None:
        self.registry = registry
        self.name = name
        self.pin = pin
        self.poll_s = poll_s
        self.default_horizon_s = default_horizon_s
        self.definitions = definitions
        self.vms_on_host = vms_on_host
        self._load = load
        self._clock = clock
        self._on_change = on_change  # e.g. drop cached answers of the old version
        self.fallback = fallback  # the core served while nothing is promoted (None: not fitted yet)
        self._checked = 0.0
        self.core: FailurePredictorCore | None = None
        self.meta: ModelVersion | None = None

    def pin_version(self, pin: str) -> bool:
        """Serve `pin` ("production" follows promotions) from now on; True when the model changed."""
        self.pin = pin
        return self.refresh(force=True)

    def refresh(self, force: bool = False) -> bool:
        """Poll the registry (at most every `poll_s` unless forced); True when a new version was loaded."""
        now = self._clock()
        if not force and now - self._checked < self.poll_s:
            return False
        self._checked = now
        mv = self.registry.production(self.name) if self.pin == "production" else self.registry.get(self.name, self.pin)
        if mv is None and self.core is not None:  # rolled back to nothing: the fallback serves again
            self.core, self.meta = None, None
            if self._on_change is not None:
                self._on_change()
            return True
        if mv is None or (self.meta is not None and mv.version == self.meta.version):
            return False
        model, survival = self._load(self.registry.fetch(self.name, mv.version))
        self.core = FailurePredictorCore(model, mv.version, self.horizon_of(mv), self.definitions, self.vms_on_host,
                                         survival, float(mv.meta.get("survival_unit_s", 3600.0)))
        self.meta = mv
        if self._on_change is not None:
            self._on_change()
        return True

    def horizon_of(self, mv: ModelVersion) -> float:
        """The horizon a version was trained for (its registry metadata), else the configured default."""
        return float(mv.meta.get("horizon_s", self.default_horizon_s))

    def need_core(self) -> FailurePredictorCore | Any:
        """The model to predict with (polling first): the promoted one, else the fallback's (the label-free
        health score) once it is fitted; NoModel while neither is."""
        self.refresh()
        if self.core is not None:
            return self.core
        fallback = self.fallback() if self.fallback is not None else None
        if fallback is None:
            raise NoModel(NO_MODEL_MESSAGE if self.fallback is None else FITTING_MESSAGE)
        return fallback

    @property
    def decision_threshold(self) -> float | None:
        """The operating point training chose for the served version (alerts follow it unless configured)."""
        return None if self.meta is None else self.meta.meta.get("decision_threshold")


def model_info(mv: ModelVersion, device: str, replica: str) -> dict[str, Any]:
    """The /models/failure-prediction answer for a served version (registry metadata plus where it runs)."""
    m = mv.meta
    metrics = m.get("metrics", {})
    return {"id": f"{mv.name}:{mv.version}", "type": m.get("model_type", "xgboost"),
            "version": mv.version, "accuracy": metrics.get("accuracy"), "precision": metrics.get("precision"),
            "recall": metrics.get("recall"), "f1_score": metrics.get("f1"), "last_trained": m.get("created_at"),
            "decision_threshold": m.get("decision_threshold"),
            "training_data_size": m.get("training_rows"), "features": m.get("features", []),
            "performance_metrics": {**metrics, "device": device, "horizon_s": m.get("horizon_s"), "replica": replica}}

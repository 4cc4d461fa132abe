"""Errors the failure domain raises on purpose (the API maps their kinds to HTTP statuses)."""
from __future__ import annotations

from aiops.errors import NotFoundError, UnavailableError

__all__ = ["NoModel", "NO_MODEL_MESSAGE", "UnknownTarget", "UnsafeArtefact", "RETRAIN_HINT"]

NO_MODEL_MESSAGE = "no failure model is deployed yet: train and promote one with `python -m jobs.train_failure`"
RETRAIN_HINT = "retrain and register it with `python -m jobs.train_failure` (artefacts are never unpickled)"


class NoModel(UnavailableError):
    """No model is deployed yet (nothing promoted in the registry); serving works again once one is."""

    def __init__(self, message: str = NO_MODEL_MESSAGE) -> None:
        super().__init__(message)


class UnknownTarget(NotFoundError):
    """No telemetry was ever received for the target, so there are no features to predict from."""

    def __init__(self, target_id: str) -> None:
        super().__init__(f"unknown target {target_id!r}: no telemetry received for it")
        self.target_id = target_id


class UnsafeArtefact(UnavailableError):
    """A stored model artefact is refused: its SHA-256 differs from the registry's, it is in an older
    pickle-based format, or it holds types that are not allowed; nothing of it was executed."""

"""An ingress replica's copy of the monitor's fleet snapshot: GETs are answered from it without an actor hop.

The snapshot holds each target's serialised prediction at the model's own horizon (from the model's
registry metadata, carried with the snapshot); a request for another horizon is restated from it
(`at_horizon_json`) instead of running the model again.
"""
from __future__ import annotations

from typing import Iterable

from aiops.failure.serving.horizon import at_horizon_json
from aiops.failure.serving.unsupervised import is_unsupervised

__all__ = ["SnapshotReplica"]


class SnapshotReplica:
    """Latest snapshot this replica has seen; `default_horizon_s` stands in until the monitor names one."""

    def __init__(self, default_horizon_s: float) -> None:
        self.default_horizon_s = default_horizon_s
        self.bodies: dict[str, bytes] = {}
        self.version = -1
        self.model_version: str | None = None
        self.horizon_s: float | None = None

    def __len__(self) -> int:
        return len(self.bodies)

    def apply(self, version: int, model_version: str | None, horizon_s: float | None,
              bodies: dict[str, bytes] | None) -> None:
        """Take the monitor's answer to `get_snapshot(self.version)` (bodies None: nothing new)."""
        if bodies is None:
            return
        self.bodies, self.version, self.model_version, self.horizon_s = bodies, version, model_version, horizon_s

    @property
    def trained_horizon_s(self) -> float:
        """The horizon the snapshot's probabilities refer to."""
        return self.horizon_s or self.default_horizon_s

    def get(self, target_id: str) -> bytes | None:
        """The target's served prediction, if the snapshot has it."""
        return self.bodies.get(target_id)

    def lookup(self, target_ids: Iterable[str], horizon_s: float) -> tuple[list[bytes], list[str]]:
        """(predictions at `horizon_s` for the ids in the snapshot, ids it lacks), in request order."""
        trained = self.trained_horizon_s
        if is_unsupervised(self.model_version):
            horizon_s = trained  # a health risk has no horizon to restate
        hits, rest = [], []
        for t in target_ids:
            body = self.bodies.get(t)
            if body is None:
                rest.append(t)
            else:
                hits.append(at_horizon_json(body, trained, horizon_s))
        return hits, rest

"""`FailureApi` for the ingress: GETs from a local `SnapshotReplica` of the monitor's snapshot (JSON bytes),
kept current by a background follower; anything else from the predictor deployment."""
from __future__ import annotations

import asyncio
import time
from typing import Any

import ray

from actors.names import MONITOR_NAME
from actors.remote_errors import awaited
from aiops.failure.serving.metrics import failure_metric_families
from aiops.failure.serving.service import require_prediction
from aiops.failure.serving.snapshot import SnapshotReplica
from aiops.settings import Settings

__all__ = ["FailureService"]


class FailureService:
    """What the failure routes call inside each ingress replica."""

    def __init__(self, settings: Settings, predictor: Any) -> None:
        self.settings = settings
        self.predictor = predictor
        self.snapshot = SnapshotReplica(settings.failure.horizon_s)
        self._task: asyncio.Task | None = None

    def _monitor(self) -> Any | None:
        try:
            return ray.get_actor(MONITOR_NAME, namespace=self.settings.ray.namespace)
        except ValueError:
            return None

    async def _follow(self) -> None:
        while True:
            mon = self._monitor()
            if mon is not None:
                try:
                    self.snapshot.apply(*await mon.get_snapshot.remote(self.snapshot.version))
                except Exception:
                    pass
            await asyncio.sleep(min(1.0, self.settings.failure.refresh_s / 2))

    def _ensure_follower(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._follow())

    async def predict(self, target_id: str) -> bytes:
        """The snapshot's answer, else the predictor's; UnknownTarget for a target without telemetry."""
        self._ensure_follower()
        hit = self.snapshot.get(target_id)
        if hit is not None:
            return hit
        return require_prediction(target_id, await awaited(self.predictor.predict_one.remote(target_id)))

    async def predict_many(self, target_ids: list[str], horizon_s: float, include: bool) -> tuple[list[bytes], list[str], str | None]:
        self._ensure_follower()
        if include and len(self.snapshot):
            hits, rest = self.snapshot.lookup(target_ids, horizon_s)
            if not rest:
                return hits, [], self.snapshot.model_version
            more, missing, version = await awaited(self.predictor.predict_many.remote(rest, horizon_s, include))
            return hits + more, missing, version
        return await awaited(self.predictor.predict_many.remote(target_ids, horizon_s, include))

    async def model_info(self) -> dict[str, Any] | None:
        return await awaited(self.predictor.model_info.remote())

    async def metric_families(self) -> list[Any]:
        """Model quality and fleet-prediction gauges for /metrics (alert rules use them)."""
        self._ensure_follower()
        try:
            info = await asyncio.wait_for(self.predictor.model_info.remote(), 5)
        except Exception:
            info = None
        return failure_metric_families(info, len(self.snapshot))

    async def record_mitigation(self, target_id: str, action: str, comment: str) -> dict[str, Any]:
        mon = self._monitor()
        if mon is None:
            return {"target_id": target_id, "action": action, "comment": comment, "ts": time.time(), "recorded": False}
        return await mon.record_mitigation.remote(target_id, action, comment)

"""Predictions on request, Ray-free: feature vectors in, serialised predictions (bytes) out.

The replica's model comes from a `ModelSource`, features from injected async look-ups (the shard router
in production), answers are cached per (version, target, horizon, features) in a `PredictionCache`, and
host recommendations count VMs from a `VmCounts` refreshed in the background of misses.
"""
from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Mapping, Sequence

import orjson

from aiops.failure.errors import UnknownTarget
from aiops.failure.serving.cache import PredictionCache, cache_key
from aiops.failure.serving.inventory import VmCounts
from aiops.failure.serving.model_source import ModelSource, model_info

__all__ = ["FleetPredictions", "PredictionService", "require_prediction"]

Vector = Mapping[str, Any]


def require_prediction(target_id: str, body: bytes | None) -> bytes:
    """A single-target answer, or UnknownTarget (404) when the feature store knows nothing of the target:
    batched look-ups answer None per unknown id, one request's caller gets the domain error."""
    if body is None:
        raise UnknownTarget(target_id)
    return body


class FleetPredictions:
    """One fleet-wide round: the model version and its metadata, and per target its probability and bytes."""

    def __init__(self, model_version: str, horizon_s: float, decision_threshold: float | None,
                 bodies: Mapping[str, bytes], probabilities: Mapping[str, float]) -> None:
        self.model_version = model_version
        self.horizon_s = horizon_s
        self.decision_threshold = decision_threshold
        self.bodies = dict(bodies)
        self.probabilities = dict(probabilities)


class PredictionService:
    """What a predictor replica answers; the Serve deployment only wires it up."""

    def __init__(self, source: ModelSource, cache: PredictionCache, vm_counts: VmCounts,
                 get_features: Callable[[str], Awaitable[Vector | None]],
                 get_features_many: Callable[[list[str]], Awaitable[list[Vector | None]]],
                 all_features: Callable[[], Awaitable[list[Vector]]]) -> None:
        self.source = source
        self.cache = cache
        self.vm_counts = vm_counts
        self._get_features = get_features
        self._get_features_many = get_features_many
        self._all_features = all_features

    async def predict_vectors(self, vectors: Sequence[Vector], horizon_s: float | None, include: bool,
                              with_probabilities: bool = False) -> list[bytes] | tuple[list[bytes], list[float | None]]:
        """Serialised predictions for `vectors` (cached ones reused); with_probabilities adds each fresh
        prediction's probability (None for a cache hit) so a caller need not decode the bytes."""
        core = self.source.need_core()
        horizon = horizon_s or core.horizon_s
        keys = [cache_key(v, horizon, core.version) for v in vectors]
        out = await self.cache.get_many(keys)
        probs: list[float | None] = [None] * len(vectors)
        misses = [i for i, body in enumerate(out) if body is None]
        if misses:
            await self.vm_counts.refresh()
            fresh = {}
            for i, p in zip(misses, core.predict([vectors[i] for i in misses], horizon, include)):
                out[i], probs[i] = p.to_json(), p.failure_probability
                fresh[keys[i]] = (p.last_updated, out[i])
            await self.cache.put_many(fresh)
        bodies = [o for o in out if o is not None]
        return (bodies, probs) if with_probabilities else bodies

    async def predict_one(self, target_ids: list[str]) -> list[bytes | None]:
        """One answer per id (None for an unknown target), for a batch of single-target requests."""
        vecs = await asyncio.gather(*(self._get_features(t) for t in target_ids))
        known = [v for v in vecs if v is not None]
        bodies = await self.predict_vectors(known, None, True) if known else []
        by_id = {v["target_id"]: b for v, b in zip(known, bodies)}
        return [by_id.get(t) for t in target_ids]

    async def predict_many(self, target_ids: list[str], horizon_s: float, include: bool) -> tuple[list[bytes], list[str], str]:
        """Predictions for the known ids at `horizon_s`, the unknown ids, and the model version."""
        core = self.source.need_core()
        vecs = await self._get_features_many(target_ids)
        found = [v for v in vecs if v is not None]
        missing = [t for t, v in zip(target_ids, vecs) if v is None]
        return await self.predict_vectors(found, horizon_s, include), missing, core.version

    async def predict_fleet(self) -> FleetPredictions:
        """Every target the feature store knows, at the model's own horizon."""
        core = self.source.need_core()
        vectors = await self._all_features()
        bodies, probs = await self.predict_vectors(vectors, None, True, with_probabilities=True)
        ids = [v["target_id"] for v in vectors]
        probabilities = {t: (p if p is not None else float(orjson.loads(b)["failure_probability"]))
                         for t, b, p in zip(ids, bodies, probs)}
        return FleetPredictions(core.version, core.horizon_s, self.source.decision_threshold,
                                dict(zip(ids, bodies)), probabilities)

    def model_info(self, device: str, replica: str) -> dict[str, Any] | None:
        """The served version's description (None before any model is deployed)."""
        self.source.refresh()
        return None if self.source.meta is None else model_info(self.source.meta, device, replica)

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
        prediction's probability (None for a cache hit) so a caller need not decode the bytes. A vector the
        model cannot score (the label-free fallback before its target type is fitted) is left out."""
        out, probs = await self._aligned(self.source.need_core(), vectors, horizon_s, include)
        kept = [i for i, body in enumerate(out) if body is not None]
        bodies = [out[i] for i in kept]
        return (bodies, [probs[i] for i in kept]) if with_probabilities else bodies  # type: ignore[misc]

    async def _aligned(self, core: Any, vectors: Sequence[Vector], horizon_s: float | None,
                       include: bool) -> tuple[list[bytes | None], list[float | None]]:
        horizon = horizon_s or core.horizon_s
        keys = [cache_key(v, horizon, core.version) for v in vectors]
        out = await self.cache.get_many(keys)
        probs: list[float | None] = [None] * len(vectors)
        misses = [i for i, body in enumerate(out) if body is None]
        if misses:
            await self.vm_counts.refresh()
            made = {p.target_id: p for p in core.predict([vectors[i] for i in misses], horizon, include)}
            fresh = {}
            for i in misses:
                p = made.get(vectors[i]["target_id"])
                if p is not None:
                    out[i], probs[i] = p.to_json(), p.failure_probability
                    fresh[keys[i]] = (p.last_updated, out[i])
            await self.cache.put_many(fresh)
        return out, probs

    async def predict_one(self, target_ids: list[str]) -> list[bytes | None]:
        """One answer per id (None for an unknown target), for a batch of single-target requests."""
        vecs = await asyncio.gather(*(self._get_features(t) for t in target_ids))
        known = [v for v in vecs if v is not None]
        bodies = (await self._aligned(self.source.need_core(), known, None, True))[0] if known else []
        by_id = {v["target_id"]: b for v, b in zip(known, bodies)}
        return [by_id.get(t) for t in target_ids]

    async def predict_many(self, target_ids: list[str], horizon_s: float, include: bool) -> tuple[list[bytes], list[str], str]:
        """Predictions for the known ids at `horizon_s`, the unknown ids, and the model version."""
        core = self.source.need_core()
        vecs = await self._get_features_many(target_ids)
        found = [v for v in vecs if v is not None]
        missing = [t for t, v in zip(target_ids, vecs) if v is None]
        bodies, _ = await self._aligned(core, found, horizon_s, include)
        missing += [v["target_id"] for v, b in zip(found, bodies) if b is None]
        return [b for b in bodies if b is not None], missing, core.version

    async def predict_fleet(self) -> FleetPredictions:
        """Every target the feature store knows (that the model can score), at the model's own horizon."""
        core = self.source.need_core()
        vectors = await self._all_features()
        out, probs = await self._aligned(core, vectors, None, True)
        probabilities = {v["target_id"]: (p if p is not None else float(orjson.loads(b)["failure_probability"]))
                         for v, b, p in zip(vectors, out, probs) if b is not None}
        bodies = {v["target_id"]: b for v, b in zip(vectors, out) if b is not None}
        threshold = None if core is not self.source.core else self.source.decision_threshold
        return FleetPredictions(core.version, core.horizon_s, threshold, bodies, probabilities)

    def model_info(self, device: str, replica: str) -> dict[str, Any] | None:
        """The served version's description: the promoted model's, else the label-free fallback's (which says
        it is unsupervised and what its score means); None before either exists."""
        self.source.refresh()
        if self.source.meta is not None:
            return model_info(self.source.meta, device, replica)
        fallback = self.source.fallback() if self.source.fallback is not None else None
        return None if fallback is None else fallback.describe(device, replica)

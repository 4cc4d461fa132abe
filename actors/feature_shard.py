"""Ray actor wrapping one feature-store shard (aiops.features.shard.ShardState).

Restartable: a restart re-runs __init__, which restores the shard from Redis when
persistence is configured. Definitions registered at runtime are kept in Redis too.
"""
from __future__ import annotations

import logging
from typing import Any, Sequence

import ray

from aiops.features.definitions import FeatureDefinition
from aiops.features.persistence import RedisShardStore
from aiops.features.shard import ShardState, UnknownTarget
from aiops.logs import carries_request_id
from aiops.settings import Settings
from aiops.telemetry.batch import SampleBatch

__all__ = ["FeatureShard", "FeatureShardActor", "definitions_key"]

log = logging.getLogger(__name__)


def definitions_key(settings: Settings) -> str:
    """Redis hash of the definitions registered at runtime (shared by all shards, survives restarts)."""
    return f"{settings.redis.key_prefix}:feature-definitions"


@carries_request_id  # every method takes aiops_request_id=: its log lines carry the HTTP request's id
class FeatureShard:
    """Actor body; kept as a plain class so tests can run it without Ray."""

    def __init__(self, shard_id: int, settings: Settings, definitions: Sequence[FeatureDefinition]) -> None:
        """`definitions`: the configured set (loaded once by the caller); a restart re-runs this with them."""
        self._settings = settings
        defs = {d.name: d for d in definitions}
        persistence = None
        self._redis = None
        if settings.redis.url:
            persistence = RedisShardStore.from_url(settings.redis.url, shard_id, settings.redis.key_prefix, settings.redis.ttl_s)
            self._redis = persistence.client
            for raw in self._redis.hvals(definitions_key(settings)):
                d = FeatureDefinition.model_validate_json(raw)
                defs[d.name] = d
        self.state = ShardState(shard_id, defs.values(), settings.store.max_points_per_series, persistence,
                                settings.redis.snapshot_every_batches)

    def ingest_many(self, batches: list[SampleBatch]) -> dict[str, int]:
        results = self.state.ingest_many(batches)
        out = {"accepted": sum(r.accepted for r in results), "rejected": sum(r.rejected for r in results),
               "duplicates": sum(r.duplicate for r in results)}
        if out["rejected"]:
            log.debug("shard %d rejected %d samples", self.state.shard_id, out["rejected"], extra=out)
        return out

    def get_features(self, target_id: str, window_s: float | None = None, at: float | None = None) -> dict[str, Any] | None:
        try:
            return self.state.get_features(target_id, window_s, at)
        except UnknownTarget:
            return None

    def get_features_many(self, target_ids: list[str]) -> list[dict[str, Any] | None]:
        return [self.get_features(t) for t in target_ids]

    def all_features(self) -> list[dict[str, Any]]:
        return self.state.all_features()

    def get_historical_features(self, target_id: str, start: float, end: float, step_s: float,
                                window_s: float | None = None) -> dict[str, Any] | None:
        try:
            return self.state.get_historical_features(target_id, start, end, step_s, window_s)
        except UnknownTarget:
            return None

    def get_raw(self, target_id: str, metric: str, start: float, end: float) -> tuple[list[float], list[float]] | None:
        try:
            ts, v = self.state.get_raw(target_id, metric, start, end)
        except UnknownTarget:
            return None
        return ts.tolist(), v.tolist()

    def register_definition(self, definition: FeatureDefinition) -> None:
        self.state.register_definition(definition)
        if self._redis is not None:
            self._redis.hset(definitions_key(self._settings), definition.name, definition.model_dump_json())
        log.info("shard %d registered feature definition %s", self.state.shard_id, definition.name,
                 extra={"shard": self.state.shard_id, "feature": definition.name})

    def definitions(self) -> list[dict[str, Any]]:
        return [d.model_dump() for d in self.state.definitions]

    def list_targets(self) -> list[dict[str, Any]]:
        return self.state.list_targets()

    def stats(self) -> dict[str, Any]:
        return self.state.stats()

    def compact(self) -> None:
        self.state.compact()

    def ping(self) -> bool:
        return True


FeatureShardActor = ray.remote(max_restarts=-1, max_task_retries=0)(FeatureShard)

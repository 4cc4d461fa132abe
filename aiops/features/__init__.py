"""Feature store core: definitions, aggregations, series buffers, shard state, hashing, persistence.

Names resolve on first use (no numpy or redis import for a caller that needs none).
"""
from __future__ import annotations

from aiops.lazy_exports import lazy_exports

__all__ = [
    "DefinitionError", "FeatureDefinition", "parse_duration", "order_definitions", "parse_definitions",
    "parse_definition", "check_definition_set", "load_definitions", "AGGREGATIONS", "DERIVED", "aggregate",
    "SeriesBuffer", "MAX_HISTORY_STEPS", "UnknownTarget", "Persistence", "TargetState", "IngestResult",
    "ShardState", "HashRing", "RedisShardStore",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "DefinitionError": ".definitions",
    "FeatureDefinition": ".definitions",
    "parse_duration": ".definitions",
    "order_definitions": ".definitions",
    "parse_definitions": ".definitions",
    "parse_definition": ".definitions",
    "check_definition_set": ".definitions",
    "load_definitions": ".definitions",
    "AGGREGATIONS": ".aggregations",
    "DERIVED": ".aggregations",
    "aggregate": ".aggregations",
    "SeriesBuffer": ".series",
    "MAX_HISTORY_STEPS": ".shard",
    "UnknownTarget": ".shard",
    "Persistence": ".shard",
    "TargetState": ".shard",
    "IngestResult": ".shard",
    "ShardState": ".shard",
    "HashRing": ".hashring",
    "RedisShardStore": ".persistence",
})

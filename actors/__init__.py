"""Thin Ray wrappers around the core, one role each, with their dependencies injected.

Names resolve on first use, so importing the package does not import Ray. Actor and deployment
names live in `actors.names`; the engines' actors live in their own modules.
"""
from __future__ import annotations

from aiops.lazy_exports import lazy_exports

__all__ = [
    "INGRESS_NAME", "COLLECTOR_PREFIX", "SIMULATOR_COLLECTOR_NAME", "PREDICTOR_NAME", "MONITOR_NAME",
    "OPTIMIZER_NAME", "CORRELATOR_NAME", "SHARD_PREFIX", "shard_name", "collector_name", "init_ray",
    "validate_settings", "System", "FeatureShard", "FeatureShardActor", "definitions_key", "ShardRouter",
    "RayPlatformService", "check_redis", "check_nats", "AIOpsIngress", "EngineRoutes", "EngineMount",
    "build_app", "start_serve", "failure_routes", "placement_routes", "security_routes", "ENGINE_MOUNTS",
    "build_engine_app", "YOUNG_THRESHOLD", "tune_gc", "DeployArgs", "settings_from_args", "prepare_settings",
    "deploy_engine", "teardown", "ActorSpec", "engine_specs", "start_actors", "stop_actors",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "INGRESS_NAME": ".names",
    "COLLECTOR_PREFIX": ".names",
    "SIMULATOR_COLLECTOR_NAME": ".names",
    "PREDICTOR_NAME": ".names",
    "MONITOR_NAME": ".names",
    "OPTIMIZER_NAME": ".names",
    "CORRELATOR_NAME": ".names",
    "SHARD_PREFIX": ".names",
    "shard_name": ".names",
    "collector_name": ".names",
    "init_ray": ".system",
    "validate_settings": ".system",
    "System": ".system",
    "FeatureShard": ".feature_shard",
    "FeatureShardActor": ".feature_shard",
    "definitions_key": ".feature_shard",
    "ShardRouter": ".router",
    "RayPlatformService": ".platform_service",
    "check_redis": ".platform_service",
    "check_nats": ".platform_service",
    "AIOpsIngress": ".serve_app",
    "EngineRoutes": ".serve_app",
    "EngineMount": ".serve_app",
    "build_app": ".serve_app",
    "start_serve": ".serve_app",
    "failure_routes": ".engines",
    "placement_routes": ".engines",
    "security_routes": ".engines",
    "ENGINE_MOUNTS": ".engines",
    "build_engine_app": ".engines",
    "YOUNG_THRESHOLD": ".process_tuning",
    "tune_gc": ".process_tuning",
    "DeployArgs": ".deploy",
    "settings_from_args": ".deploy",
    "prepare_settings": ".deploy",
    "deploy_engine": ".deploy",
    "teardown": ".deploy",
    "ActorSpec": ".deploy_actors",
    "engine_specs": ".deploy_actors",
    "start_actors": ".deploy_actors",
    "stop_actors": ".deploy_actors",
})

"""Serve deployment `failure-predictor`: wires a `PredictionService` (model source, cache, VM counts,
shard router) into model replicas, with the label-free `HealthFallback` fitting in the background until a
supervised model is promoted.

It follows promotions without restart (the model source polls the registry pointer;
`user_config={"model_version": "v0003"}` pins a version through `reconfigure`), answers on-demand
requests through `@serve.batch`, predicts the whole fleet in one call, and uses a GPU when the replica
is given one (`failure.predictor_num_gpus`).
"""
from __future__ import annotations

import functools
import os
import uuid
from typing import Any

import ray
from ray import serve

from actors.names import PREDICTOR_NAME, SIMULATOR_COLLECTOR_NAME
from actors.router import ShardRouter
from aiops.features.definitions import load_definitions
from aiops.failure.registry import ModelRegistry
from aiops.failure.serving.cache import PredictionCache
from aiops.failure.serving.fallback import HealthFallback
from aiops.failure.serving.inventory import VmCounts
from aiops.failure.serving.model_source import ModelSource, load_model_folder
from aiops.failure.serving.service import FleetPredictions, PredictionService
from aiops.logs import configure_logging
from aiops.settings import Settings

__all__ = ["FailurePredictor", "predictor_deployment"]


def _device() -> str:
    try:
        return "cuda" if ray.get_gpu_ids() else "cpu"
    except Exception:
        return "cpu"


def _serve_request_id() -> str | None:
    """The request id Serve carries from the ingress into this replica (X-Request-ID), also passed on to shards."""
    from ray.serve.context import _get_serve_request_context

    return _get_serve_request_context().request_id or None


class FailurePredictor:
    """One model replica; every decision lives in `PredictionService` and what it is given."""

    def __init__(self, settings: Settings) -> None:
        configure_logging(settings.logging.level, request_id_source=_serve_request_id)  # the ingress' request id
        cfg = settings.failure
        self.device = _device()
        self.instance = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"  # tells a reload in place from a restarted replica
        redis = None
        if settings.redis.url:
            import redis.asyncio as aioredis

            redis = aioredis.Redis.from_url(settings.redis.url, socket_timeout=2)
        cache = PredictionCache(cfg.cache_ttl_s, redis)
        vm_counts = VmCounts(functools.partial(_simulator_inventory, settings.ray.namespace))
        router = ShardRouter(settings)
        self.fallback = HealthFallback(cfg.unsupervised, cfg.health, cfg.horizon_s, router.list_targets,
                                       router.get_historical, vm_counts)
        source = ModelSource(ModelRegistry(cfg.registry_uri), cfg.model_name, cfg.model_version, cfg.registry_poll_s,
                             cfg.horizon_s, load_definitions(settings.store.features_file), vm_counts,
                             functools.partial(load_model_folder, device=self.device), on_change=cache.clear,
                             fallback=self.fallback.core)
        self.service = PredictionService(source, cache, vm_counts, router.get_features, router.get_features_many,
                                         router.all_features)
        source.refresh(force=True)

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        """Serve's user_config: pin a model version ("production" follows promotions)."""
        source = self.service.source
        source.pin_version(str(user_config.get("model_version", source.pin)))

    @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.005)
    async def predict_one(self, target_ids: list[str]) -> list[bytes | None]:
        self.fallback.ensure_running()
        return await self.service.predict_one(target_ids)

    async def predict_many(self, target_ids: list[str], horizon_s: float, include: bool) -> tuple[list[bytes], list[str], str]:
        self.fallback.ensure_running()
        return await self.service.predict_many(target_ids, horizon_s, include)

    async def predict_fleet(self) -> FleetPredictions:
        self.fallback.ensure_running()
        return await self.service.predict_fleet()

    async def model_info(self) -> dict[str, Any] | None:
        self.fallback.ensure_running()
        return self.service.model_info(self.device, self.instance)

    async def stats(self) -> dict[str, Any]:
        """The replica's served version and its VM-inventory refreshes (errors counted, last one kept)."""
        meta = self.service.source.meta
        return {"name": PREDICTOR_NAME, "replica": self.instance, "device": self.device,
                "model_version": None if meta is None else meta.version, "inventory": self.service.vm_counts.stats(),
                "unsupervised": self.fallback.stats()}


async def _simulator_inventory(namespace: str) -> dict[str, Any] | None:
    """The simulator's VM inventory; None without a simulator (real fleets report placement elsewhere)."""
    try:
        sim = ray.get_actor(SIMULATOR_COLLECTOR_NAME, namespace=namespace)
    except ValueError:
        return None
    return await sim.inventory.remote()


def predictor_deployment(settings: Settings) -> Any:
    """The predictor as a Serve deployment with the configured replicas and resources."""
    cfg = settings.failure
    return serve.deployment(
        FailurePredictor, name=PREDICTOR_NAME, num_replicas=cfg.predictor_replicas,
        max_ongoing_requests=settings.serve.max_ongoing_requests, max_queued_requests=settings.serve.max_queued_requests,
        ray_actor_options={"num_cpus": cfg.predictor_num_cpus, "num_gpus": cfg.predictor_num_gpus},
        user_config={"model_version": cfg.model_version}, health_check_period_s=10, graceful_shutdown_timeout_s=5,
    )

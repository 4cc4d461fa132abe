"""Failure prediction on Ray: model replicas (Serve), a fleet monitor (alerts), the API service.

- `FailurePredictor` (Serve deployment `failure-predictor`): loads the production model
  from the registry, follows promotions without restart (polls the registry pointer;
  `user_config={"model_version": "v0003"}` pins a version through `reconfigure`),
  answers on-demand requests through `@serve.batch`, and predicts the whole fleet
  in one call. It uses a GPU when the replica is given one (`failure.predictor_num_gpus`).
- `FailureMonitor` (actor `failure-monitor`): every `refresh_s` asks for fleet-wide
  predictions, keeps the snapshot and raises deduplicated alerts (NATS + webhook).
- `FailureService`: what the API routes call; it serves GETs from an in-replica copy
  of the monitor's snapshot, so the hot path makes no extra actor hop.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
import uuid
from collections import OrderedDict
from typing import Any

import orjson
import ray
from ray import serve

from actors.router import ShardRouter
from aiops.api.failure import NoModel
from aiops.features.definitions import load_definitions
from aiops.inference.alerts import AlertBook, alert_thresholds, alertmanager_payload
from aiops.inference.failure import FailurePredictorCore, at_horizon
from aiops.models.registry import ModelRegistry, ModelVersion
from aiops.settings import Settings

PREDICTOR_NAME = "failure-predictor"
MONITOR_NAME = "failure-monitor"
_LRU = 50_000


def _device() -> str:
    try:
        return "cuda" if ray.get_gpu_ids() else "cpu"
    except Exception:
        return "cpu"


class FailurePredictor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cfg = settings.failure
        self.registry = ModelRegistry(self.cfg.registry_uri)
        self.router = ShardRouter(settings)
        self.definitions = load_definitions(settings.store.features_file)
        self.pin = self.cfg.model_version
        self.core: FailurePredictorCore | None = None
        self.meta: ModelVersion | None = None
        self.device = _device()
        self.instance = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"  # tells a reload in place from a restarted replica
        self._checked = 0.0
        self._lru: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._vm_counts: dict[str, int] = {}
        self._redis = None
        if settings.redis.url:
            import redis.asyncio as aioredis

            self._redis = aioredis.Redis.from_url(settings.redis.url, socket_timeout=2)
        self._refresh(force=True)

    # ---- model lifecycle -------------------------------------------------
    def reconfigure(self, user_config: dict[str, Any]) -> None:
        self.pin = str(user_config.get("model_version", self.pin))
        self._refresh(force=True)

    def _refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked < self.cfg.registry_poll_s:
            return
        self._checked = now
        name = self.cfg.model_name
        mv = self.registry.production(name) if self.pin == "production" else self.registry.get(name, self.pin)
        if mv is None or (self.meta is not None and mv.version == self.meta.version):
            return
        from aiops.failure.models import FailureModel

        folder = self.registry.fetch(name, mv.version)
        model = FailureModel.load(folder)
        survival = None
        if (folder / "survival" / "meta.json").exists():
            from aiops.failure.survival import SurvivalModel

            survival = SurvivalModel.load(folder / "survival")
        if self.device == "cuda":
            for b in [*getattr(model, "boosters", []), *([survival.booster] if survival else [])]:
                b.set_param({"device": "cuda"})
        self.core = FailurePredictorCore(model, mv.version, float(mv.meta.get("horizon_s", self.cfg.horizon_s)),
                                         self.definitions, lambda h: self._vm_counts.get(h, 0), survival,
                                         float(mv.meta.get("survival_unit_s", 3600.0)))
        self.meta = mv
        self._lru.clear()

    def _need_core(self) -> FailurePredictorCore:
        self._refresh()
        if self.core is None:
            raise NoModel()
        return self.core

    async def _refresh_inventory(self) -> None:
        if self._vm_counts:
            return
        try:
            sim = ray.get_actor("collector-simulator", namespace=self.settings.ray.namespace)
            inv = await sim.inventory.remote()
            counts: dict[str, int] = {}
            for vm in inv["vms"]:
                counts[vm["host_id"]] = counts.get(vm["host_id"], 0) + 1
            self._vm_counts = counts
        except ValueError:
            pass  # no simulator: real fleets report VM placement through the control plane

    # ---- predictions -----------------------------------------------------
    @staticmethod
    def _key(vec: dict[str, Any], horizon: float, version: str) -> str:
        h = hashlib.blake2b(json.dumps(vec["features"], sort_keys=True).encode(), digest_size=8).hexdigest()
        return f"aiops:failpred:{version}:{vec['target_id']}:{horizon:.0f}:{h}"

    async def _predict_vectors(self, vectors: list[dict[str, Any]], horizon_s: float | None, include: bool) -> list[dict[str, Any]]:
        core = self._need_core()
        horizon = horizon_s or core.horizon_s
        out: list[dict[str, Any] | None] = [None] * len(vectors)
        keys = [self._key(v, horizon, core.version) for v in vectors]
        misses = []
        for i, k in enumerate(keys):
            hit = self._lru.get(k)
            if hit is not None and time.time() - hit["last_updated"] < self.cfg.cache_ttl_s:
                out[i] = hit
            else:
                misses.append(i)
        if misses and self._redis is not None:
            try:
                cached = await self._redis.mget([keys[i] for i in misses])
                for i, raw in zip(list(misses), cached):
                    if raw:
                        out[i] = json.loads(raw)
                misses = [i for i in misses if out[i] is None]
            except Exception:
                pass  # Redis is a cache: a miss is never an error
        if misses:
            await self._refresh_inventory()
            preds = core.predict([vectors[i] for i in misses], horizon, include)
            fresh = {}
            for i, p in zip(misses, preds):
                d = p.as_dict()
                out[i] = d
                self._lru[keys[i]] = d
                fresh[keys[i]] = json.dumps(d)
            while len(self._lru) > _LRU:
                self._lru.popitem(last=False)
            if self._redis is not None and fresh:
                try:
                    pipe = self._redis.pipeline(transaction=False)
                    for k, v in fresh.items():
                        pipe.set(k, v, ex=int(self.cfg.cache_ttl_s))
                    await pipe.execute()
                except Exception:
                    pass
        return [o for o in out if o is not None]

    @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.005)
    async def predict_one(self, target_ids: list[str]) -> list[dict[str, Any] | None]:
        vecs = await asyncio.gather(*(self.router.get_features(t) for t in target_ids))
        known = [v for v in vecs if v is not None]
        preds = {p["target_id"]: p for p in await self._predict_vectors(known, None, True)} if known else {}
        return [preds.get(t) for t in target_ids]

    async def predict_many(self, target_ids: list[str], horizon_s: float, include: bool) -> tuple[list[dict], list[str], str]:
        core = self._need_core()
        vecs = await self.router.get_features_many(target_ids)
        found = [v for v in vecs if v is not None]
        missing = [t for t, v in zip(target_ids, vecs) if v is None]
        return await self._predict_vectors(found, horizon_s, include), missing, core.version

    async def predict_fleet(self) -> tuple[str, list[dict[str, Any]]]:
        core = self._need_core()
        vectors = await self.router.all_features()
        return core.version, await self._predict_vectors(vectors, None, True)

    async def model_info(self) -> dict[str, Any] | None:
        self._refresh()
        if self.meta is None:
            return None
        m = self.meta.meta
        metrics = m.get("metrics", {})
        return {"id": f"{self.meta.name}:{self.meta.version}", "type": m.get("model_type", "xgboost"),
                "version": self.meta.version, "accuracy": metrics.get("accuracy"), "precision": metrics.get("precision"),
                "recall": metrics.get("recall"), "f1_score": metrics.get("f1"), "last_trained": m.get("created_at"),
                "decision_threshold": m.get("decision_threshold"),
                "training_data_size": m.get("training_rows"), "features": m.get("features", []),
                "performance_metrics": {**metrics, "device": self.device, "horizon_s": m.get("horizon_s"),
                                        "replica": self.instance}}


def predictor_deployment(settings: Settings) -> Any:
    cfg = settings.failure
    return serve.deployment(
        FailurePredictor, name=PREDICTOR_NAME, num_replicas=cfg.predictor_replicas,
        max_ongoing_requests=settings.serve.max_ongoing_requests, max_queued_requests=settings.serve.max_queued_requests,
        ray_actor_options={"num_cpus": cfg.predictor_num_cpus, "num_gpus": cfg.predictor_num_gpus},
        user_config={"model_version": cfg.model_version}, health_check_period_s=10, graceful_shutdown_timeout_s=5,
    )


class FailureMonitor:
    """Fleet-wide predictions on a timer; alerts deduplicated per target."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cfg = settings.failure
        self.book = AlertBook(*alert_thresholds(self.cfg.alert_threshold, self.cfg.alert_rearm_below, None))
        self.snapshot: dict[str, dict[str, Any]] = {}
        self.snapshot_json: dict[str, bytes] = {}  # serialised once here, served as-is by every ingress replica
        self.version = 0
        self.model_version: str | None = None
        self.mitigations: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.errors = 0
        self.last_error: str | None = None
        self._stop = asyncio.Event()
        self._nc = None

    async def run(self) -> None:
        handle = serve.get_deployment_handle(PREDICTOR_NAME, app_name=self.settings.serve.app_name)
        while not self._stop.is_set():
            try:
                version, preds = await handle.predict_fleet.remote()
                if version != self.model_version:  # a promotion: alert at the new model's operating point
                    info = await handle.model_info.remote()
                    self.book.set_thresholds(*alert_thresholds(self.cfg.alert_threshold, self.cfg.alert_rearm_below,
                                                               (info or {}).get("decision_threshold")))
                self.snapshot = {p["target_id"]: p for p in preds}
                self.snapshot_json = {t: orjson.dumps(p) for t, p in self.snapshot.items()}
                self.model_version = version
                self.version += 1
                await self._alert(self.book.update(preds))
            except NoModel:
                pass
            except Exception as exc:
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {str(exc)[:300]}"
            try:
                await asyncio.wait_for(self._stop.wait(), self.cfg.refresh_s)
            except asyncio.TimeoutError:
                pass

    async def _alert(self, new: list[dict[str, Any]]) -> None:
        if not new:
            return
        self.sent.extend(new)
        del self.sent[:-1000]
        if self.settings.nats.url:
            try:
                import nats

                if self._nc is None or self._nc.is_closed:
                    self._nc = await nats.connect(self.settings.nats.url, connect_timeout=3)
                for a in new:
                    await self._nc.publish(self.cfg.alert_subject, json.dumps(a).encode())
            except Exception as exc:
                self.errors += 1
                self.last_error = f"nats: {exc}"
        if self.cfg.alert_webhook_url:
            import httpx

            try:
                async with httpx.AsyncClient(timeout=5) as client:
                    r = await client.post(self.cfg.alert_webhook_url, json=alertmanager_payload(new))
                    r.raise_for_status()
            except Exception as exc:
                self.errors += 1
                self.last_error = f"webhook: {exc}"

    async def get_snapshot(self, since: int) -> tuple[int, str | None, dict[str, bytes] | None]:
        return (self.version, self.model_version, None if since == self.version else self.snapshot_json)

    async def record_mitigation(self, target_id: str, action: str, comment: str) -> dict[str, Any]:
        rec = {"target_id": target_id, "action": action, "comment": comment, "ts": time.time(),
               "prediction": (self.snapshot.get(target_id) or {}).get("failure_probability")}
        self.mitigations.append(rec)
        if self.settings.redis.url:
            import redis.asyncio as aioredis

            r = aioredis.Redis.from_url(self.settings.redis.url)
            await r.rpush(f"{self.settings.redis.key_prefix}:failure:mitigations", json.dumps(rec))
            await r.aclose()
        self.book.mitigated(target_id)
        return rec

    async def alerts(self) -> list[dict[str, Any]]:
        return list(self.sent)

    async def stats(self) -> dict[str, Any]:
        return {"name": MONITOR_NAME, "snapshot_version": self.version, "targets": len(self.snapshot), "alert_threshold": self.book.threshold,
                "alerts_sent": len(self.sent), "errors": self.errors, "last_error": self.last_error,
                "model_version": self.model_version}

    async def stop(self) -> None:
        self._stop.set()


class FailureService:
    """FailureApi for the ingress: GETs from a local copy of the monitor's snapshot (JSON bytes),
    anything else from the predictor deployment."""

    def __init__(self, settings: Settings, predictor: Any) -> None:
        self.settings = settings
        self.predictor = predictor
        self._snapshot: dict[str, bytes] = {}
        self._model_version: str | None = None
        self._horizon: float | None = None  # the horizon the snapshot's model was trained for
        self._horizon_of: str | None = None
        self._version = -1
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
                    version, model_version, snap = await mon.get_snapshot.remote(self._version)
                    if snap is not None:
                        self._snapshot, self._version, self._model_version = snap, version, model_version
                        if model_version != self._horizon_of:
                            info = await self.predictor.model_info.remote()
                            self._horizon = (info or {}).get("performance_metrics", {}).get("horizon_s")
                            self._horizon_of = model_version
                except Exception:
                    pass
            await asyncio.sleep(min(1.0, self.settings.failure.refresh_s / 2))

    def _ensure_follower(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._follow())

    async def predict(self, target_id: str) -> dict[str, Any] | bytes | None:
        self._ensure_follower()
        hit = self._snapshot.get(target_id)
        if hit is not None:
            return hit
        return await self.predictor.predict_one.remote(target_id)

    async def predict_many(self, target_ids: list[str], horizon_s: float, include: bool) -> tuple[list[Any], list[str], str | None]:
        self._ensure_follower()
        if include and self._snapshot:
            trained = self._trained_horizon()
            if horizon_s == trained:
                hits = [self._snapshot[t] for t in target_ids if t in self._snapshot]
            else:  # P(fail within h) follows from P(fail within H): no need to run the model again
                hits = [orjson.dumps(at_horizon(orjson.loads(self._snapshot[t]), trained, horizon_s))
                        for t in target_ids if t in self._snapshot]
            rest = [t for t in target_ids if t not in self._snapshot]
            if not rest:
                return hits, [], self._model_version
            more, missing, version = await self.predictor.predict_many.remote(rest, horizon_s, include)
            return hits + [orjson.dumps(p) for p in more], missing, version
        return await self.predictor.predict_many.remote(target_ids, horizon_s, include)

    def _trained_horizon(self) -> float:
        return self._horizon or self.settings.failure.horizon_s

    async def model_info(self) -> dict[str, Any] | None:
        return await self.predictor.model_info.remote()

    async def metric_families(self) -> list[Any]:
        """Model quality and fleet-prediction gauges for /metrics (alert rules use them)."""
        from prometheus_client.core import GaugeMetricFamily

        self._ensure_follower()
        fams = []
        try:
            info = await asyncio.wait_for(self.predictor.model_info.remote(), 5)
        except Exception:
            info = None
        deployed = GaugeMetricFamily("aiops_failure_model_deployed", "1 when a failure model is loaded", labels=["version"])
        deployed.add_metric([info["version"] if info else "none"], 1 if info else 0)
        fams.append(deployed)
        if info:
            for key in ("accuracy", "precision", "recall", "f1_score"):
                if info.get(key) is not None:
                    g = GaugeMetricFamily(f"aiops_failure_model_{key}", f"Held-out {key} of the deployed failure model",
                                          labels=["version"])
                    g.add_metric([info["version"]], float(info[key]))
                    fams.append(g)
        n = GaugeMetricFamily("aiops_failure_targets_predicted", "Targets in the latest fleet-wide prediction snapshot")
        n.add_metric([], len(self._snapshot))
        fams.append(n)
        return fams

    async def record_mitigation(self, target_id: str, action: str, comment: str) -> dict[str, Any]:
        mon = self._monitor()
        if mon is None:
            return {"target_id": target_id, "action": action, "comment": comment, "ts": time.time(), "recorded": False}
        return await mon.record_mitigation.remote(target_id, action, comment)

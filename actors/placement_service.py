"""Placement on Ray: fleet inventory from the running engine, the optimiser actor, the routers.

- ``RayFleetSource`` builds a ``FleetSnapshot`` from the ``collector-simulator`` actor's
  ``inventory()``, the feature shards (``ShardRouter``) and the ``failure-monitor``
  snapshot, with the VM moves applied by the control plane on top.
- ``CachedFleet`` refreshes that snapshot every ``refresh_s`` seconds and hands out the
  same ``Inventory`` object in between (scoring caches derived arrays per snapshot).
- ``PlacementOptimizer`` (actor ``placement-optimizer``, fractional CPU, threaded) runs the
  NSGA-II plans and evacuations (time-boxed), keeps the plans and hosts the simulated
  control plane of the embedded fleet, so every API replica applies through one place.
- ``build_placement_routers(settings)`` gives the Serve ingress the recommendation /
  factors / feedback router and the plan / evacuation / apply router.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

import ray
from fastapi import APIRouter

from actors.router import ShardRouter
from aiops.api.placement import make_router
from aiops.api.placement_plan import (ApprovalRequired, EvacuationRequest, NoFeasiblePlan, PlanNotFound, PlanRequest,
                                      PlanService, make_plan_router)
from aiops.failure.serving.alerts import DEFAULT_ALERT_THRESHOLD
from aiops.placement.optimise.constraints import InvalidPlacementRequest, NoFeasibleNode
from aiops.placement.feedback import FeedbackStore, InMemoryFeedbackStore
from aiops.placement.feedback_redis import RedisFeedbackStore
from aiops.placement.inventory.fleet import (FleetSnapshot, SimulatedControlPlane, apply_state, build_fleet_snapshot,
                                             failure_probabilities, vm_records)
from aiops.placement.inventory.model import Inventory
from aiops.placement.optimise.nsga import optimise_batch
from aiops.placement.recommend import PlacementService
from aiops.settings import Settings

OPTIMIZER_NAME = "placement-optimizer"
SIMULATOR_NAME = "collector-simulator"
MONITOR_NAME = "failure-monitor"
DEFAULT_REFRESH_S = 5.0
MAX_PLAN_SECONDS = 20.0


class RayFleetSource:
    """One fresh ``FleetSnapshot`` from the running engine (blocking; call off the event loop)."""

    def __init__(self, settings: Settings, control_state: Callable[[], dict[str, Any] | None] | None = None,
                 timeout_s: float = 10.0) -> None:
        self.settings = settings
        self.router = ShardRouter(settings)
        self.control_state = control_state or self._optimizer_state
        self.timeout_s = timeout_s

    def _actor(self, name: str) -> Any | None:
        try:
            return ray.get_actor(name, namespace=self.settings.ray.namespace)
        except ValueError:
            return None

    def _optimizer_state(self) -> dict[str, Any] | None:
        opt = self._actor(OPTIMIZER_NAME)
        return None if opt is None else ray.get(opt.control_state.remote(), timeout=self.timeout_s)

    def raw_inventory(self) -> dict[str, Any]:
        sim = self._actor(SIMULATOR_NAME)
        if sim is None:
            raise RuntimeError(f"no inventory source: actor {SIMULATOR_NAME!r} is not running "
                               "(a real fleet reports hosts and VMs through its control plane)")
        return ray.get(sim.inventory.remote(), timeout=self.timeout_s)

    def features(self, target_ids: list[str]) -> dict[str, dict[str, Any] | None]:
        """Feature vectors, one call per shard (the same grouping as ShardRouter.get_features_many)."""
        by_shard: dict[int, list[str]] = {}
        for t in target_ids:
            by_shard.setdefault(self.router.ring.shard_for(t), []).append(t)
        refs = {s: self.router.shards[s].get_features_many.remote(ids) for s, ids in by_shard.items()}
        out: dict[str, dict[str, Any] | None] = {}
        for s, ref in refs.items():
            for t, v in zip(by_shard[s], ray.get(ref, timeout=self.timeout_s)):
                out[t] = v
        return out

    def failure(self) -> tuple[dict[str, float], str | None]:
        mon = self._actor(MONITOR_NAME)
        if mon is None:
            return {}, None
        try:
            _, model_version, snap = ray.get(mon.get_snapshot.remote(-1), timeout=self.timeout_s)
        except Exception:
            return {}, None
        return failure_probabilities(snap), model_version

    def fetch(self) -> FleetSnapshot:
        raw = self.raw_inventory()
        state = self.control_state()
        vms = apply_state(vm_records(raw), state)
        ids = [h["host_id"] for h in raw["hosts"]] + list(vms)
        vectors = self.features(ids)
        failure, model_version = self.failure()
        now = max((float(v["as_of"]) for v in vectors.values() if v and v.get("as_of") is not None), default=time.time())
        return build_fleet_snapshot(raw, vectors, failure, now, seed=self.settings.simulator.seed, vms=vms,
                                    model_version=model_version, cordoned=(state or {}).get("cordoned", ()))


class CachedFleet:
    """Snapshot refreshed at most every ``refresh_s``; the same objects in between."""

    def __init__(self, fetch: Callable[[], FleetSnapshot], refresh_s: float = DEFAULT_REFRESH_S) -> None:
        self.fetch = fetch
        self.refresh_s = refresh_s
        self._snap: FleetSnapshot | None = None
        self._at = 0.0
        self._lock = threading.Lock()
        self.refreshes = 0
        self.last_error: str | None = None

    def snapshot(self) -> FleetSnapshot:
        with self._lock:
            if self._snap is None or time.monotonic() - self._at >= self.refresh_s:
                try:
                    self._snap = self.fetch()
                    self.refreshes += 1
                    self.last_error = None
                except Exception as exc:
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    if self._snap is None:
                        raise
                self._at = time.monotonic()   # a failed refresh keeps the last snapshot until the next period
            return self._snap

    def inventory(self) -> Inventory:
        return self.snapshot().inventory

    def invalidate(self) -> None:
        with self._lock:
            self._at = 0.0


def feedback_store(settings: Settings) -> FeedbackStore:
    """Redis when configured (weights shared by replicas and kept across restarts), else in memory."""
    if settings.redis.url:
        return RedisFeedbackStore(settings.redis.url, settings.redis.key_prefix)
    return InMemoryFeedbackStore()


class PlacementOptimizer:
    """Named actor: plans (NSGA-II, time-boxed), evacuations, approved apply, simulated control plane."""

    def __init__(self, settings: Settings, refresh_s: float = DEFAULT_REFRESH_S, max_seconds: float = MAX_PLAN_SECONDS) -> None:
        self.settings = settings
        self.max_seconds = max_seconds
        self.control_plane = SimulatedControlPlane()
        self.source = RayFleetSource(settings, control_state=self.control_plane.state)
        self.fleet = CachedFleet(self._fetch, refresh_s)
        self.service = PlanService(self.fleet.snapshot, self.control_plane, optimiser=self._optimise,
                                   risk_threshold=settings.failure.alert_threshold or DEFAULT_ALERT_THRESHOLD, on_applied=self.fleet.invalidate)
        self.plans_made = 0
        self.optimiser_seconds = 0.0

    def _fetch(self) -> FleetSnapshot:
        if not self.control_plane.base:
            self.control_plane.load(vm_records(self.source.raw_inventory()).values())
        return self.source.fetch()

    def _optimise(self, prob: Any, **kw: Any) -> Any:
        kw["time_limit_s"] = min(float(kw.get("time_limit_s", 3.0)), self.max_seconds)
        res = optimise_batch(prob, **kw)
        self.plans_made += 1
        self.optimiser_seconds += res.seconds
        return res

    @staticmethod
    def _call(fn: Callable[[], Any]) -> tuple:
        """Domain errors travel back as data so the API answers them with the right 4xx."""
        try:
            return ("ok", fn())
        except NoFeasibleNode as exc:
            return ("no_feasible_node", str(exc), {"total_nodes": exc.total_nodes, "rejections": exc.rejections})
        except NoFeasiblePlan as exc:
            return ("no_feasible_plan", str(exc), exc.details)
        except InvalidPlacementRequest as exc:
            return ("invalid", str(exc), None)
        except PlanNotFound as exc:
            return ("not_found", exc.args[0], None)
        except ApprovalRequired as exc:
            return ("approval", str(exc), None)

    def plan(self, req: dict[str, Any]) -> tuple:
        return self._call(lambda: self.service.plan(PlanRequest.model_validate(req)))

    def evacuate(self, req: dict[str, Any]) -> tuple:
        return self._call(lambda: self.service.evacuate(EvacuationRequest.model_validate(req)))

    def get_plan(self, plan_id: str) -> tuple:
        return self._call(lambda: self.service.get_plan(plan_id))

    def apply(self, plan_id: str, approve: bool) -> tuple:
        return self._call(lambda: self.service.apply(plan_id, approve))

    def control_state(self) -> dict[str, Any]:
        return self.control_plane.state()

    def control_log(self) -> list[dict[str, Any]]:
        return list(self.control_plane.log)

    def stats(self) -> dict[str, Any]:
        return {"name": OPTIMIZER_NAME, "plans_made": self.plans_made, "optimiser_seconds": round(self.optimiser_seconds, 3),
                "fleet_refreshes": self.fleet.refreshes, "last_error": self.fleet.last_error,
                "control_plane_version": self.control_plane.version}

    def ping(self) -> bool:
        return True

    def stop(self) -> None:
        return None


def start_placement_optimizer(settings: Settings) -> Any:
    """Create (or attach to) the named optimiser actor; threaded so state reads never wait on a plan."""
    return ray.remote(PlacementOptimizer).options(
        name=OPTIMIZER_NAME, namespace=settings.ray.namespace, num_cpus=settings.ray.actor_num_cpus,
        max_concurrency=8, max_restarts=-1, get_if_exists=True,
    ).remote(settings)


class PlanProxy:
    """``PlanApi`` for the router: forwards to the optimiser actor and re-raises its domain errors."""

    def __init__(self, settings: Settings, timeout_s: float = MAX_PLAN_SECONDS + 60) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self._actor: Any | None = None

    def actor(self) -> Any:
        if self._actor is None:
            try:
                self._actor = ray.get_actor(OPTIMIZER_NAME, namespace=self.settings.ray.namespace)
            except ValueError:
                self._actor = start_placement_optimizer(self.settings)
        return self._actor

    def _unwrap(self, ref: Any) -> Any:
        out = ray.get(ref, timeout=self.timeout_s)
        kind = out[0]
        if kind == "ok":
            return out[1]
        msg, details = out[1], out[2] if len(out) > 2 else None
        if kind == "no_feasible_node":
            raise NoFeasibleNode(details["total_nodes"], details["rejections"])
        if kind == "no_feasible_plan":
            raise NoFeasiblePlan(msg, details or {})
        if kind == "invalid":
            raise InvalidPlacementRequest(msg)
        if kind == "not_found":
            raise PlanNotFound(msg)
        if kind == "approval":
            raise ApprovalRequired(msg)
        raise RuntimeError(f"{OPTIMIZER_NAME}: {out}")

    def plan(self, req: PlanRequest) -> dict[str, Any]:
        return self._unwrap(self.actor().plan.remote(req.model_dump()))

    def evacuate(self, req: EvacuationRequest) -> dict[str, Any]:
        return self._unwrap(self.actor().evacuate.remote(req.model_dump()))

    def get_plan(self, plan_id: str) -> dict[str, Any]:
        return self._unwrap(self.actor().get_plan.remote(plan_id))

    def apply(self, plan_id: str, approve: bool) -> dict[str, Any]:
        return self._unwrap(self.actor().apply.remote(plan_id, approve))


def build_placement_routers(settings: Settings, refresh_s: float = DEFAULT_REFRESH_S) -> list[APIRouter]:
    """Routers for the Serve ingress: recommendations/factors/feedback and plans/evacuations/apply.

    Nothing is fetched here: the inventory is loaded on the first request (route handlers
    are sync, so FastAPI runs them in worker threads where blocking ray.get is fine).
    """
    fleet = CachedFleet(RayFleetSource(settings).fetch, refresh_s)
    service = PlacementService(fleet.inventory, store=feedback_store(settings))
    return [make_router(service), make_plan_router(PlanProxy(settings))]


class PlacementIngress:
    """A stand-alone Serve ingress with the platform and placement routers (tests, demos)
    until the main ingress mounts ``build_placement_routers``."""

    def __init__(self, settings: Settings, refresh_s: float = DEFAULT_REFRESH_S) -> None:
        self.settings = settings
        self.refresh_s = refresh_s

    def __serve_build_asgi_app__(self) -> Any:
        from actors.serve_app import RayPlatformService
        from aiops.api.app import create_app

        return create_app(RayPlatformService(self.settings), self.settings.serve,
                          build_placement_routers(self.settings, self.refresh_s))


def build_placement_app(settings: Settings, refresh_s: float = DEFAULT_REFRESH_S, name: str = "aiops-placement-api") -> Any:
    """Serve application of ``PlacementIngress``; run it with ``serve.run(app, name=..., route_prefix=...)``."""
    from ray import serve

    ingress = serve.deployment(serve.ingress()(PlacementIngress), name=name, num_replicas=1,
                               ray_actor_options={"num_cpus": settings.serve.ingress_num_cpus},
                               graceful_shutdown_timeout_s=5)
    return ingress.bind(settings, refresh_s)

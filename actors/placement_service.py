"""Placement on Ray: fleet inventory from the running engine, the optimiser actor, the routers.

- ``RayFleetSource`` builds a ``FleetSnapshot`` from the ``collector-simulator`` actor's
  ``inventory()``, the feature shards (``ShardRouter``) and the ``failure-monitor``
  snapshot, with the VM moves applied by the control plane on top.
- ``CachedFleet`` (``aiops.placement.inventory.cache``) refreshes that snapshot every ``refresh_s``
  seconds and hands out the same ``Inventory`` object in between.
- ``PlacementOptimizer`` (actor ``placement-optimizer``, fractional CPU, threaded) runs the
  NSGA-II plans and evacuations (time-boxed), keeps the plans and hosts the simulated
  control plane of the embedded fleet, so every API replica applies through one place.
- ``build_placement_routers(settings)`` gives the Serve ingress the recommendation /
  factors / feedback router and the plan / evacuation / apply router.

Domain errors raised in the optimiser travel back as exceptions (Ray wraps them; ``PlanProxy``
unwraps them once) and the API's error table answers them. The stand-alone placement ingress
is in ``actors.placement_ingress``.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import asdict
from typing import Any, Callable

import ray
from ray.exceptions import RayActorError, RayTaskError
from fastapi import APIRouter

from actors.names import MONITOR_NAME, OPTIMIZER_NAME, SIMULATOR_COLLECTOR_NAME
from actors.remote_errors import reraise_domain_cause
from actors.router import ShardRouter
from aiops.api.placement import make_plan_router, make_router
from aiops.placement.closed_loop import AutoEvacuator
from aiops.failure.serving.alerts import DEFAULT_ALERT_THRESHOLD
from aiops.placement.errors import InventoryUnavailable
from aiops.placement.evacuation import EvacuationQuery
from aiops.placement.plan import PlanQuery, PlanService
from aiops.placement.feedback import FeedbackStore, InMemoryFeedbackStore
from aiops.placement.feedback_redis import RedisFeedbackStore
from aiops.placement.inventory import SimulatedControlPlane, apply_state
from aiops.placement.inventory import (FleetSnapshot, build_fleet_snapshot,
                                             failure_probabilities, vm_records)
from aiops.placement.inventory import DEFAULT_REFRESH_S, CachedFleet
from aiops.placement.optimise.nsga import optimise_batch
from aiops.placement.recommend import PlacementService
from aiops.failure.serving.unsupervised import is_unsupervised
from aiops.logs import carries_request_id, request_kwargs
from aiops.settings import Settings

MAX_PLAN_SECONDS = 20.0
log = logging.getLogger(__name__)


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
        sim = self._actor(SIMULATOR_COLLECTOR_NAME)
        if sim is None:
            raise InventoryUnavailable(f"no inventory source: actor {SIMULATOR_COLLECTOR_NAME!r} is not running "
                                       "(a real fleet reports hosts and VMs through its control plane)")
        return ray.get(sim.inventory.remote(), timeout=self.timeout_s)

    def features(self, target_ids: list[str]) -> dict[str, dict[str, Any] | None]:
        """Feature vectors by target, one call per shard (``ShardRouter.get_features_many``)."""
        answers = asyncio.run(asyncio.wait_for(self.router.get_features_many(target_ids), self.timeout_s))
        return dict(zip(target_ids, answers))

    def failure(self) -> tuple[dict[str, float], str | None]:
        mon = self._actor(MONITOR_NAME)
        if mon is None:
            return {}, None
        try:
            _, model_version, _, snap = ray.get(mon.get_snapshot.remote(-1), timeout=self.timeout_s)
        except Exception:
            return {}, None
        return failure_probabilities(snap, alarmed_only=is_unsupervised(model_version)), model_version

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


def feedback_store(settings: Settings) -> FeedbackStore:
    """Redis when configured (weights shared by replicas and kept across restarts), else in memory."""
    if settings.redis.url:
        return RedisFeedbackStore(settings.redis.url, settings.redis.key_prefix)
    return InMemoryFeedbackStore()


@carries_request_id  # its methods take aiops_request_id=: the lines they log carry the HTTP request's id
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
        pl = settings.placement
        self.auto = AutoEvacuator(self.service, self.control_plane, pl.auto_evacuate_threshold or self.service.risk_threshold,
                                  pl.evacuation_hold_s) if pl.auto_evacuate else None
        self._stop = threading.Event()
        if self.auto is not None:
            threading.Thread(target=self._auto_loop, name="auto-evacuate", daemon=True).start()

    def _auto_loop(self) -> None:
        """``placement.auto_evacuate``: every interval, evacuate the hosts at risk (the policy is AutoEvacuator's)."""
        while not self._stop.wait(self.settings.placement.auto_evacuate_interval_s):
            try:
                self.auto_evacuate_round()
            except Exception as exc:  # no inventory yet, a shard restarting: next round
                self.fleet.last_error = f"auto-evacuate: {exc}"
                log.warning("auto-evacuate round failed: %s", exc, exc_info=True)

    def auto_evacuate_round(self) -> list[dict[str, Any]]:
        """One automatic evacuation round over the current snapshot (risk from the failure monitor)."""
        if self.auto is None:
            return []
        snap = self.fleet.snapshot()
        return [asdict(r) for r in self.auto.round(float(snap.inventory.now), snap.failure, up=set(snap.failure))]

    def auto_evacuations(self) -> list[dict[str, Any]]:
        return [asdict(r) for r in self.auto.history] if self.auto else []

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

    def plan(self, req: PlanQuery) -> dict[str, Any]:
        return self.service.plan(req)

    def evacuate(self, req: EvacuationQuery) -> dict[str, Any]:
        return self.service.evacuate(req)

    def get_plan(self, plan_id: str) -> dict[str, Any]:
        return self.service.get_plan(plan_id)

    def list_plans(self, status: str | None, limit: int) -> list[dict[str, Any]]:
        return self.service.list_plans(status, limit)

    def apply(self, plan_id: str, approve: bool) -> dict[str, Any]:
        out = self.service.apply(plan_id, approve)
        log.info("plan %s apply (approve=%s): %s", plan_id, approve, out.get("status"), extra={"plan_id": plan_id})
        return out

    def control_state(self) -> dict[str, Any]:
        return self.control_plane.state()

    def control_log(self) -> list[dict[str, Any]]:
        return list(self.control_plane.log)

    def stats(self) -> dict[str, Any]:
        return {"name": OPTIMIZER_NAME, "plans_made": self.plans_made, "optimiser_seconds": round(self.optimiser_seconds, 3),
                "fleet_refreshes": self.fleet.refreshes, "last_error": self.fleet.last_error,
                "control_plane_version": self.control_plane.version,
                "auto_evacuations": len(self.auto.history) if self.auto else None}

    def ping(self) -> bool:
        return True

    def stop(self) -> None:
        self._stop.set()


def start_placement_optimizer(settings: Settings) -> Any:
    """Create (or attach to) the named optimiser actor; threaded so state reads never wait on a plan."""
    return ray.remote(PlacementOptimizer).options(
        name=OPTIMIZER_NAME, namespace=settings.ray.namespace, num_cpus=settings.ray.actor_num_cpus,
        max_concurrency=8, max_restarts=-1, get_if_exists=True,
    ).remote(settings)


class OptimizerNotRunning(InventoryUnavailable):
    """No placement optimiser actor (yet): HTTP 503 with Retry-After."""


class PlanProxy:
    """``PlanApi`` for the router: forwards to the optimiser actor and re-raises its domain errors unwrapped."""

    def __init__(self, settings: Settings, timeout_s: float = MAX_PLAN_SECONDS + 60) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self._actor: Any | None = None

    def actor(self) -> Any:
        """The optimiser, looked up, never created here: an actor is fate-shared with the process that created
        it, so an optimiser made by an ingress replica died for good with that replica (seen under chaos: every
        plan request 503 after an ingress or node loss). `System` creates it; until then this is a 503."""
        if self._actor is None:
            try:
                self._actor = ray.get_actor(OPTIMIZER_NAME, namespace=self.settings.ray.namespace)
            except ValueError:
                raise OptimizerNotRunning("the placement optimiser is not running yet; retry shortly") from None
        return self._actor

    def _get(self, ref: Any) -> Any:
        """The actor's answer; its domain errors (wrapped by Ray) are re-raised as themselves."""
        try:
            return ray.get(ref, timeout=self.timeout_s)
        except RayTaskError as exc:
            reraise_domain_cause(exc)
            raise
        except RayActorError:
            self._actor = None  # looked up again next time: it may have been replaced
            raise

    def plan(self, req: PlanQuery) -> dict[str, Any]:
        return self._get(self.actor().plan.remote(req, **request_kwargs()))

    def evacuate(self, req: EvacuationQuery) -> dict[str, Any]:
        return self._get(self.actor().evacuate.remote(req, **request_kwargs()))

    def get_plan(self, plan_id: str) -> dict[str, Any]:
        return self._get(self.actor().get_plan.remote(plan_id))

    def list_plans(self, status: str | None, limit: int) -> list[dict[str, Any]]:
        return self._get(self.actor().list_plans.remote(status, limit))

    def apply(self, plan_id: str, approve: bool) -> dict[str, Any]:
        return self._get(self.actor().apply.remote(plan_id, approve, **request_kwargs()))


def build_placement_routers(settings: Settings, refresh_s: float = DEFAULT_REFRESH_S) -> list[APIRouter]:
    """Routers for the Serve ingress: recommendations/factors/feedback and plans/evacuations/apply.

    Nothing is fetched here: the inventory is loaded on the first request (route handlers
    are sync, so FastAPI runs them in worker threads where blocking ray.get is fine).
    """
    fleet = CachedFleet(RayFleetSource(settings).fetch, refresh_s)
    service = PlacementService(fleet.inventory, settings.placement.factors, store=feedback_store(settings))
    tenant = settings.placement.default_tenant
    return [make_router(service, tenant), make_plan_router(PlanProxy(settings), tenant)]

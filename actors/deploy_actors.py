"""The engine's long-lived actors: one table of what runs, created or found by name, and removed by name.

Shared by the Serve application builder (`actors.deploy.app`: detached actors that outlive whoever
deployed them), `aiops up` (the same builder) and the tests and benchmarks (`actors.system.System`:
actors owned by the test driver, gone with it). Every actor is named in the engine's namespace,
restartable (`max_restarts=-1`) and takes a fractional CPU; a second start finds the running ones
(`get_if_exists`). Actors with a `run()` loop start it themselves on construction (`self_running`),
so a restarted actor resumes its loop with no driver watching it.

What a restart restores (its `__init__` re-runs): shards reload their series and runtime feature
definitions from Redis; the NATS collector re-binds its durable JetStream consumer (unacked messages are
redelivered); the correlator reloads anomalies, the response audit and the detectors' learned state
from Redis; the retraining schedule reloads its state from Redis; the failure monitor keeps mitigations
in Redis and recomputes predictions on its next round; the placement optimiser's plans and the
simulator's fleet are in memory and start again (docs/ARCHITECTURE.md, "Deployment").
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Iterable

import ray

from actors.names import (COLLECTOR_PREFIX, CORRELATOR_NAME, MONITOR_NAME, OPTIMIZER_NAME, RETRAIN_NAME,
                          SHARD_PREFIX, collector_name, shard_name)
from aiops.settings import Settings

__all__ = ["ActorSpec", "engine_specs", "app_running", "self_running", "start_actors", "engine_actor_names", "stop_actors"]

RESTART_BACKOFF_S = (1.0, 30.0)  # a crashed run() loop is started again after 1 s, doubling up to 30 s


@dataclass(frozen=True)
class ActorSpec:
    """One long-lived actor: its name, class, constructor arguments and Ray options."""

    name: str
    cls: type
    args: tuple[Any, ...]
    num_cpus: float
    max_concurrency: int | None = None
    # Ray re-sends a call that was in flight when the actor died only where the call is safe to repeat:
    # reads (stats, events, inventory) on collectors. Ingestion, plans and mitigations are not retried by
    # Ray; their callers see the error (JetStream redelivers what was not acknowledged).
    max_task_retries: int = 0
    runs: bool = False  # has an async run() loop, started on construction
    needs_app: bool = False  # the loop calls the Serve application: it starts once the application is running


def _collector_classes(settings: Settings) -> list[type]:
    from actors.collectors import LogTailer, NatsCollector, PrometheusCollector, SimulatorCollector

    kinds: list[type] = []
    if settings.simulator.enabled:
        kinds.append(SimulatorCollector)
    if settings.nats.url:
        kinds.append(NatsCollector)
    if settings.prometheus.url and settings.prometheus.queries:
        kinds.append(PrometheusCollector)
    if settings.logs:
        kinds.append(LogTailer)
    return kinds


def shard_specs(settings: Settings) -> list[ActorSpec]:
    """The feature-store shards (the definitions file is read once here, handed to every shard)."""
    from actors.feature_shard import FeatureShard
    from aiops.features.definitions import load_definitions

    definitions = load_definitions(settings.store.features_file)
    return [ActorSpec(shard_name(i), FeatureShard, (i, settings, definitions), settings.ray.actor_num_cpus)
            for i in range(settings.store.num_shards)]


def collector_specs(settings: Settings) -> list[ActorSpec]:
    """One collector per configured source (simulator, NATS, Prometheus, log files)."""
    return [ActorSpec(collector_name(cls.kind), cls, (collector_name(cls.kind), settings), settings.ray.actor_num_cpus,
                      max_concurrency=64, max_task_retries=3, runs=True) for cls in _collector_classes(settings)]


def engine_specs(settings: Settings, jobs_address: str | None = None, engines: bool = True) -> list[ActorSpec]:
    """Every long-lived actor, in start order: shards, the correlator (before the collectors, whose first
    security records look for it), collectors, then the failure monitor, placement optimiser and retraining
    schedule. `engines=False`: shards and collectors only (ingestion benchmarks)."""
    if not engines:
        return [*shard_specs(settings), *collector_specs(settings)]
    from actors.failure_monitor import FailureMonitor
    from actors.placement_service import PlacementOptimizer
    from actors.retrain_scheduler import RetrainScheduler
    from actors.security_service import SecurityCorrelator

    cpus = settings.ray.actor_num_cpus
    specs = [*shard_specs(settings),
             ActorSpec(CORRELATOR_NAME, SecurityCorrelator, (settings,), cpus, max_concurrency=32, runs=True),
             *collector_specs(settings),
             ActorSpec(MONITOR_NAME, FailureMonitor, (settings,), cpus, max_concurrency=16, runs=True, needs_app=True),
             ActorSpec(OPTIMIZER_NAME, PlacementOptimizer, (settings,), cpus, max_concurrency=8)]
    if settings.failure.retrain.enabled:
        specs.append(ActorSpec(RETRAIN_NAME, RetrainScheduler, (settings, jobs_address),
                               settings.failure.retrain.num_cpus, max_concurrency=4, runs=True))
    return specs


async def app_running(app_name: str, every_s: float = 1.0) -> None:
    """Return once the Serve application `app_name` is running (the builder creates the actors before Serve
    deploys the application it returns, so a loop that calls the application waits for it here)."""
    from ray import serve

    while True:
        try:
            app = (await asyncio.to_thread(serve.status)).applications.get(app_name)
            if app is not None and app.status == "RUNNING":
                return
        except Exception:  # noqa: BLE001 - Serve not up yet: ask again
            pass
        await asyncio.sleep(every_s)


def self_running(cls: type, app_name: str | None = None) -> type:
    """`cls` whose construction starts its async `run()` loop on the actor's event loop (Ray runs an async
    actor's `__init__` there), and starts it again after a crash, until `stop()`. A restarted actor re-runs
    `__init__`, so its loop comes back with no driver to call `run()`; `run()` called remotely waits on the
    loop already running instead of starting a second one. `app_name`: first wait until that Serve
    application is running."""

    class SelfRunning(cls):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._halted = False
            self._loop_task = asyncio.get_running_loop().create_task(self._keep_running())

        async def _keep_running(self) -> None:
            if app_name is not None:
                await app_running(app_name)
            delay = RESTART_BACKOFF_S[0]
            while not self._halted:
                try:
                    await super().run()
                except Exception as exc:  # noqa: BLE001 - the loop must come back; stats show why it stopped
                    record = getattr(getattr(self, "stats_", None), "error", None)
                    if record is not None:
                        record(f"run loop: {type(exc).__name__}: {exc}"[:300])
                if self._halted:
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, RESTART_BACKOFF_S[1])

        async def run(self) -> None:
            await asyncio.shield(self._loop_task)

        async def stop(self) -> None:
            self._halted = True
            await super().stop()

    SelfRunning.__name__ = SelfRunning.__qualname__ = cls.__name__  # the name the Ray dashboard shows
    SelfRunning.__doc__ = cls.__doc__
    return SelfRunning


def start_actors(specs: Iterable[ActorSpec], namespace: str, detached: bool, app_name: str, autorun: bool = True,
                 ready_timeout_s: float = 300.0) -> dict[str, Any]:
    """Create each actor, or find it when one of that name is alive (a second deploy changes nothing), and
    wait until the shards are constructed (everything else reaches them; the others finish starting while
    the API comes up, and find each other by name). `detached`: the actors outlive the process that created
    them (the Serve builder runs in a short-lived task). `autorun=False`: run() loops are left to the caller."""
    handles: dict[str, Any] = {}
    for spec in specs:
        cls = self_running(spec.cls, app_name if spec.needs_app else None) if spec.runs and autorun else spec.cls
        options: dict[str, Any] = {"name": spec.name, "namespace": namespace, "num_cpus": spec.num_cpus,
                                   "max_restarts": -1, "max_task_retries": spec.max_task_retries,
                                   "get_if_exists": True}
        if spec.max_concurrency:
            options["max_concurrency"] = spec.max_concurrency
        if detached:
            options["lifetime"] = "detached"
        handles[spec.name] = ray.remote(cls).options(**options).remote(*spec.args)
    ray.get([h.__ray_ready__.remote() for n, h in handles.items() if n.startswith(SHARD_PREFIX)], timeout=ready_timeout_s)
    return handles


def engine_actor_names(namespace: str) -> list[str]:
    """The engine's actors alive in `namespace` (by their names; anything else there is left alone)."""
    fixed = {CORRELATOR_NAME, MONITOR_NAME, OPTIMIZER_NAME, RETRAIN_NAME}
    names = [a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if a["namespace"] == namespace]
    return sorted(n for n in names if n in fixed or n.startswith((SHARD_PREFIX, COLLECTOR_PREFIX)))


def stop_actors(handles: dict[str, Any], stop_timeout_s: float = 10.0) -> list[str]:
    """Stop the loops, all at once and for at most `stop_timeout_s` (a clean stop saves the correlator's
    learned state), then kill each actor for good; returns the names killed."""
    refs = []
    for handle in handles.values():
        try:
            refs.append(handle.stop.remote())
        except AttributeError:  # no stop() (shards): nothing to drain
            continue
    if refs:
        ray.wait(refs, num_returns=len(refs), timeout=stop_timeout_s)
    for handle in handles.values():
        try:
            ray.kill(handle, no_restart=True)
        except Exception:  # noqa: BLE001 - gone already
            pass
    return list(handles)

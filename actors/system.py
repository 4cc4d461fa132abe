"""Starts, supervises and stops the whole engine on a Ray cluster.

Used by `aiops up`, the benchmarks and the integration tests, so all three run the
same actors with the same names (feature-shard-N, collector-*, aiops-api).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import ray
from ray import serve

from actors.collectors import LogTailer, NatsCollector, PrometheusCollector, SimulatorCollector, start_collector
from actors.engines import build_engine_app
from actors.failure_monitor import FailureMonitor
from actors.feature_shard import FeatureShardActor
from actors.names import CORRELATOR_NAME, MONITOR_NAME, OPTIMIZER_NAME, RETRAIN_NAME, collector_name, shard_name
from actors.placement_service import start_placement_optimizer
from actors.retrain_scheduler import start_retrain_scheduler
from actors.security_service import start_security_correlator
from actors.serve_app import start_serve
from aiops.features.definitions import load_definitions
from aiops.logs import worker_runtime_env
from aiops.security.parsers import formats as security_formats
from aiops.settings import ConfigError, Settings

__all__ = ["init_ray", "validate_settings", "System"]


def validate_settings(settings: Settings) -> None:
    """Start-up checks that need other packages than the settings' own (run before anything starts).

    `logs[].security` names a security log format, which the security package owns; checking it
    here keeps `aiops.settings` free of imports from the engines."""
    known = security_formats()
    for i, src in enumerate(settings.logs):
        if src.security is not None and src.security not in known:
            raise ConfigError(f"logs.{i}.security: unknown security log format {src.security!r}; known: {known}")


def init_ray(settings: Settings, **overrides: Any) -> Any:
    """Start a local cluster or attach to one (settings.ray.address)."""
    if ray.is_initialized():
        return None
    cfg = settings.ray
    kwargs: dict[str, Any] = {"namespace": cfg.namespace, "log_to_driver": False,
                              # every worker logs JSON lines (aiops.logs, redacted) at the configured level
                              "runtime_env": worker_runtime_env(settings.logging.level)}
    if cfg.address:
        kwargs["address"] = cfg.address
    else:
        kwargs.update(num_cpus=cfg.num_cpus, object_store_memory=cfg.object_store_memory,
                      include_dashboard=True, dashboard_host="127.0.0.1")
    kwargs.update(overrides)
    return ray.init(**kwargs)


@dataclass
class System:
    settings: Settings
    shards: list[Any] = field(default_factory=list)
    collectors: dict[str, Any] = field(default_factory=dict)
    _runs: dict[str, Any] = field(default_factory=dict)
    url: str | None = None
    jobs_address: str | None = None  # the Ray dashboard (Jobs API) the retraining schedule submits to

    def start_shards(self) -> None:
        s = self.settings
        definitions = load_definitions(s.store.features_file)
        self.shards = [
            FeatureShardActor.options(name=shard_name(i), namespace=s.ray.namespace, num_cpus=s.ray.actor_num_cpus,
                                      get_if_exists=True).remote(i, s, definitions)
            for i in range(s.store.num_shards)
        ]
        ray.get([sh.ping.remote() for sh in self.shards], timeout=120)

    def start_collectors(self, run: bool = True) -> None:
        s = self.settings
        kinds: list[type] = []
        if s.simulator.enabled:
            kinds.append(SimulatorCollector)
        if s.nats.url:
            kinds.append(NatsCollector)
        if s.prometheus.url and s.prometheus.queries:
            kinds.append(PrometheusCollector)
        if s.logs:
            kinds.append(LogTailer)
        wanted = [(collector_name(cls.kind), cls) for cls in kinds]
        for name, cls in wanted:
            self.collectors[name] = start_collector(cls, s, name)
        if run:
            for name, _ in wanted:
                self._runs[name] = self.collectors[name].run.remote()

    def start_monitors(self) -> None:
        """Engine loops that need the Serve app (fleet-wide failure predictions and alerts)."""
        s = self.settings
        name = MONITOR_NAME
        self.collectors[name] = ray.remote(FailureMonitor).options(
            name=name, namespace=s.ray.namespace, num_cpus=s.ray.actor_num_cpus, max_restarts=-1, max_concurrency=16,
        ).remote(s)
        self._runs[name] = self.collectors[name].run.remote()
        self.collectors[OPTIMIZER_NAME] = start_placement_optimizer(s)
        if s.failure.retrain.enabled:
            self.collectors[RETRAIN_NAME] = start_retrain_scheduler(s, self.jobs_address)
            self._runs[RETRAIN_NAME] = self.collectors[RETRAIN_NAME].run.remote()

    def start_security(self) -> None:
        """The security correlator, before the collectors: their first security records find it."""
        self.collectors[CORRELATOR_NAME] = start_security_correlator(self.settings)
        self._runs[CORRELATOR_NAME] = self.collectors[CORRELATOR_NAME].run.remote()

    def start(self, serve_api: bool = True, run_collectors: bool = True) -> "System":
        validate_settings(self.settings)
        self.start_shards()
        if serve_api:
            self.start_security()
        self.start_collectors(run_collectors)
        if serve_api:
            self.url = start_serve(self.settings, build_engine_app(self.settings))
            self.start_monitors()
        return self

    def supervise(self) -> list[str]:
        """Restart the run loop of any collector whose actor restarted; returns their names."""
        restarted = []
        ready, _ = ray.wait(list(self._runs.values()), timeout=0, num_returns=len(self._runs)) if self._runs else ([], [])
        for name, ref in list(self._runs.items()):
            if ref in ready:
                try:
                    ray.get(ref)
                except Exception:
                    pass
                self._runs[name] = self.collectors[name].run.remote()
                restarted.append(name)
        return restarted

    def stop(self) -> None:
        for h in self.collectors.values():
            try:
                ray.get(h.stop.remote(), timeout=5)
            except Exception:
                pass
        if self.url:
            try:
                serve.delete(self.settings.serve.app_name)
            except Exception:
                pass
        for h in [*self.collectors.values(), *self.shards]:
            ray.kill(h, no_restart=True)
        self.collectors.clear()
        self._runs.clear()
        self.shards = []
        time.sleep(0.2)

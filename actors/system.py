"""Starts and stops the whole engine from a driver: the tests and benchmarks.

They run the same actors with the same names (feature-shard-N, collector-*, aiops-api) as the deployed
application (`actors.deploy`, which `aiops up`, `serve run configs/serve.yaml` and RayService use), but
owned by the driver, so a test's engine goes with it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import ray
from ray import serve

from actors.deploy_actors import ActorSpec, collector_specs, engine_specs, shard_specs, start_actors, stop_actors
from actors.engines import build_engine_app
from actors.names import SHARD_PREFIX
from actors.serve_app import start_serve
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
    """The engine for tests and benchmarks: the same actors as the deployed application (actors.deploy_actors),
    owned by this driver (not detached), so they go with it; each run() loop starts itself on construction."""

    settings: Settings
    shards: list[Any] = field(default_factory=list)
    collectors: dict[str, Any] = field(default_factory=dict)
    url: str | None = None
    jobs_address: str | None = None  # the Ray dashboard (Jobs API) the retraining schedule submits to

    def _start(self, specs: list[ActorSpec], run: bool = True) -> dict[str, Any]:
        handles = start_actors(specs, self.settings.ray.namespace, detached=False, app_name=self.settings.serve.app_name,
                               autorun=run, ready_timeout_s=120)
        self.shards.extend(h for n, h in handles.items() if n.startswith(SHARD_PREFIX))
        self.collectors.update((n, h) for n, h in handles.items() if not n.startswith(SHARD_PREFIX))
        return handles

    def start_shards(self) -> None:
        self._start(shard_specs(self.settings))

    def start_collectors(self, run: bool = True) -> None:
        """The collectors; `run=False` leaves their run() loops to the caller (benchmarks drive them)."""
        self._start(collector_specs(self.settings), run)

    def start(self, serve_api: bool = True, run_collectors: bool = True) -> "System":
        """Shards and collectors; with `serve_api`, also the engine actors and the Serve application."""
        validate_settings(self.settings)
        if not serve_api:
            self.start_shards()
            self.start_collectors(run_collectors)
            return self
        specs = engine_specs(self.settings, self.jobs_address)
        collectors = {spec.name for spec in collector_specs(self.settings)}
        self._start([spec for spec in specs if spec.name not in collectors])  # engine loops always run
        self._start([spec for spec in specs if spec.name in collectors], run_collectors)
        self.url = start_serve(self.settings, build_engine_app(self.settings))
        return self

    def stop(self) -> None:
        if self.url:
            try:
                serve.delete(self.settings.serve.app_name)
            except Exception:
                pass
        stop_actors({**self.collectors, **{str(i): h for i, h in enumerate(self.shards)}})
        self.collectors.clear()
        self.shards = []
        time.sleep(0.2)

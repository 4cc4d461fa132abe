"""The Serve application builder: the whole engine from a Serve config, with no supervising driver.

`configs/serve.yaml` names `import_path: actors.deploy:app`; `serve run configs/serve.yaml`, `serve deploy
configs/serve.yaml` and KubeRay's RayService (serveConfigV2) all call `app(args)` on the cluster. It validates
`args` into the one `Settings`, creates (or finds) the long-lived actors as detached, named, restartable
actors in the engine's namespace (`actors.deploy_actors`), and returns the Serve application (ingress and
failure predictor). The process that deployed it can then go away: Serve keeps the deployments and Ray
restarts the actors. `aiops up` deploys the same application on a local cluster; `aiops down` (`teardown`)
removes it and the actors.

Actors found alive keep the settings they were created with: change the settings with `aiops down` first.
"""
from __future__ import annotations

import os
from typing import Any, Mapping

import ray
from pydantic import BaseModel, ConfigDict, Field
from ray import serve

from actors.deploy_actors import engine_actor_names, engine_specs, start_actors, stop_actors
from aiops.auth import ensure_api_token
from aiops.settings import Settings, load_settings

__all__ = ["DeployArgs", "settings_from_args", "dashboard_address", "prepare_settings", "deploy_engine", "app", "teardown"]

# Settings an operator passes through the environment (KubeRay: a Secret's envFrom), applied when set.
DEFAULT_ENV = {"redis.url": "AIOPS_REDIS_URL", "nats.url": "AIOPS_NATS_URL"}


class DeployArgs(BaseModel):
    """`args` of the Serve application (configs/serve.yaml `applications[].args`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    config: str | None = Field(None, description="settings YAML on the cluster's nodes (None: the packaged defaults)")
    overrides: dict[str, Any] = Field(default_factory=dict,
                                      description="dotted settings keys over the file, e.g. {'store.num_shards': 4}")
    env: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_ENV),
                                description="dotted settings key -> environment variable read on the cluster")


def settings_from_args(args: Mapping[str, Any] | None, environ: Mapping[str, str] | None = None) -> Settings:
    """The Settings that `args` describe: the file, then the environment variables that are set, then the
    overrides (validated like the file: a wrong key or value fails the deploy with the key's name)."""
    parsed = DeployArgs.model_validate(dict(args or {}))
    env = os.environ if environ is None else environ
    from_env = {key: env[var] for key, var in parsed.env.items() if env.get(var)}
    return load_settings(parsed.config).with_overrides(**{**from_env, **parsed.overrides})


def dashboard_address() -> str | None:
    """The Ray dashboard (Jobs API) of the cluster this process is connected to, for the retraining
    schedule; None when the cluster has none. Read from the cluster's own record (what the dashboard
    registered in the GCS): inside a task, Ray's `get_dashboard_url` answers the default port, not this
    cluster's."""
    try:
        from ray.experimental.internal_kv import _internal_kv_get

        raw = _internal_kv_get("dashboard", namespace="dashboard")
    except Exception:  # noqa: BLE001 - no dashboard: the scheduler reports "jobs API unavailable"
        return None
    url = raw.decode() if isinstance(raw, bytes) else raw
    return (url if "://" in url else f"http://{url}") if url else None


def prepare_settings(settings: Settings) -> tuple[Settings, str]:
    """Start-up checks and the API token, before anything starts: returns the settings with the token pinned
    (its digest travels to every replica) and a line saying where the token is."""
    from actors.system import validate_settings

    validate_settings(settings)
    api, token_line = ensure_api_token(settings.api, settings.serve.host)
    return settings.model_copy(update={"api": api}), token_line


def deploy_engine(settings: Settings, jobs_address: str | None = None) -> serve.Application:
    """Start or find every long-lived actor (detached) and build the Serve application over them
    (`settings` as `prepare_settings` returned them)."""
    from actors.engines import build_engine_app

    specs = engine_specs(settings, jobs_address or settings.failure.retrain.jobs_address or dashboard_address())
    start_actors(specs, settings.ray.namespace, detached=True, app_name=settings.serve.app_name)
    return build_engine_app(settings)


def app(args: dict[str, Any]) -> serve.Application:
    """Serve application builder (`import_path: actors.deploy:app`)."""
    settings, _ = prepare_settings(settings_from_args(args))
    return deploy_engine(settings)


def teardown(settings: Settings) -> list[str]:
    """Delete the Serve application and stop and kill the engine's actors in its namespace (only those:
    other applications and namespaces are left alone); returns the actor names removed."""
    try:
        serve.delete(settings.serve.app_name)
    except Exception:  # noqa: BLE001 - Serve not running or the app already gone: the actors still go
        pass
    handles = {}
    for name in engine_actor_names(settings.ray.namespace):
        try:
            handles[name] = ray.get_actor(name, namespace=settings.ray.namespace)
        except ValueError:
            continue
    return stop_actors(handles)

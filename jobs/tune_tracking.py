"""Ray Tune trials tracked in MLflow, in the registry's own store and experiment (issue 13).

The callback runs on the Tune driver (the job), not in the trials, so a local SQLite store works on any cluster
whose driver is the head; `mlflow ui --backend-store-uri <failure.registry_uri>` shows each trial's config and
CV metrics beside the registered versions, all tagged with the job's name (`aiops.job`).
"""
from __future__ import annotations

from typing import Any

from aiops.failure.registry import ModelRegistry


def mlflow_callback(registry: ModelRegistry, job: str) -> Any:
    """An `MLflowLoggerCallback` writing one run per trial into the registry's experiment."""
    from ray.air.integrations.mlflow import MLflowLoggerCallback

    registry.experiment_id()  # created here with its artefacts beside the store (Ray would default to ./mlruns)
    return MLflowLoggerCallback(tracking_uri=registry.tracking_uri, registry_uri=registry.tracking_uri,
                                experiment_name=registry.experiment_name,
                                tags={"aiops.job": job, "aiops.kind": "tune-trial"}, save_artifact=False)

"""A local MLflow store per test, seeded from one store created per session (creating MLflow's schema takes
seconds; copying the empty database takes milliseconds, and MLflow checks the schema on every connect)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def mlflow_schema(tmp_path_factory) -> Path:
    from mlflow import MlflowClient

    db = tmp_path_factory.mktemp("mlflow-schema") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{db}").search_experiments()  # creates the tables
    return db


@pytest.fixture()
def reg_root(tmp_path, mlflow_schema) -> str:
    """A registry folder (`ModelRegistry(reg_root)`) whose mlflow.db already has MLflow's tables."""
    (tmp_path / "reg").mkdir()
    shutil.copy(mlflow_schema, tmp_path / "reg" / "mlflow.db")
    return str(tmp_path / "reg")

"""Where the MLflow store of the model registry lives: the default in the user's data folder, a folder or a
SQLite URI with its artefacts beside it, or a server. Kept apart from the registry (and free of MLflow) so the
settings read the default without importing MLflow."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from aiops.redact import redact

__all__ = ["RegistryError", "default_registry_uri", "resolve_store", "legacy_models"]

_TRACKING_SCHEMES = ("sqlite", "http", "https", "postgresql", "mysql", "mssql", "databricks")


class RegistryError(RuntimeError):
    """The registry is unreachable or a requested model/version does not exist."""


def default_registry_uri(environ: Mapping[str, str] | None = None) -> str:
    """$MLFLOW_TRACKING_URI, else a SQLite store in the user's data folder ($XDG_DATA_HOME/aiops/mlflow.db, like
    the token under $XDG_CONFIG_HOME/aiops): nothing to start on a laptop, and outside the checkout."""
    env = os.environ if environ is None else environ
    if env.get("MLFLOW_TRACKING_URI"):
        return env["MLFLOW_TRACKING_URI"]
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return f"sqlite:///{Path(base) / 'aiops' / 'mlflow.db'}"


def resolve_store(root: str) -> tuple[str, str | None]:
    """(tracking URI, artefact location for a new experiment): a folder or a SQLite URI keeps the artefacts in
    `mlartifacts/` beside the database file; a server or another database decides its own."""
    if "://" not in root and not root.startswith("databricks"):
        db, query = Path(root).expanduser() / "mlflow.db", ""
    else:
        scheme = root.split(":", 1)[0].split("+", 1)[0].lower()
        if scheme not in _TRACKING_SCHEMES:
            raise RegistryError(redact(f"registry {root!r}: the registry is MLflow's now; failure.registry_uri takes an "
                                       f"MLflow tracking URI (sqlite:///path/mlflow.db, http(s)://server, postgresql://...) "
                                       f"or a folder; keep artefacts in a bucket with `mlflow server --artifacts-destination "
                                       f"{root}`"))
        if scheme != "sqlite":
            return root, None
        path, _, query = root[len("sqlite:///"):].partition("?")
        if not path or path == ":memory:":
            raise RegistryError(f"registry {root!r}: an in-memory SQLite store would forget every model")
        db, query = Path(os.path.expanduser(path)), f"?{query}" if query else ""
    db = db.resolve()
    db.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{db}{query}", (db.parent / "mlartifacts").as_uri()


def legacy_models(folder: Path) -> list[str]:
    """Names of models kept in the pre-MLflow layout (`<name>/versions/<v>/meta.json`) under `folder`."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and any((p / "versions").glob("*/meta.json")))

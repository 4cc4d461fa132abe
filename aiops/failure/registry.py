"""The failure model registry on MLflow's model registry (issue 13): versions, aliases, safe artefacts.

Where it lives (`failure.registry_uri`, also $MLFLOW_TRACKING_URI): an MLflow tracking URI, by default a local
SQLite store `~/.local/share/aiops/mlflow.db` ($XDG_DATA_HOME) with the artefacts beside it in `mlartifacts/`
(nothing to start), any MLflow tracking server (`http(s)://...`) or database in production, or a plain folder
(its `mlflow.db` and `mlartifacts/`). `mlflow ui --backend-store-uri <uri>` shows runs, versions and aliases.

Each registration is one MLflow run in the experiment (default `aiops-failure`, beside the Tune trials) with
the model folder as artefacts under `model/` and `meta.json` at its root, and one model version; MLflow numbers
versions atomically in its store (two concurrent registrations get distinct numbers). Versions read as `v0003`
here (MLflow's version 3). Aliases: `challenger` follows the newest candidate not yet promoted, `champion` is
production; promotion moves `champion` (the replaced version stays, its number tagged on the new champion), so
a rollback moves the alias back, or removes it, and serving falls back to the label-free health score.

Nothing is unpickled: the model files are the project's safe formats (XGBoost UBJ/JSON, skops, torch
weights-only), loaded by their own loaders. The chain of trust starts in the store's database: the version's
tag pins the SHA-256 of `meta.json`, which pins every model file's SHA-256, so a swapped artefact is refused
before any library reads it. Names and versions are checked against a safe pattern wherever they enter.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from aiops.config_io import PROJECT_ROOT
from aiops.errors import InvalidRequestError
from aiops.failure.errors import RETRAIN_HINT, UnsafeArtefact
from aiops.redact import redact
from aiops.failure.registry_store import RegistryError, default_registry_uri, legacy_models, resolve_store

__all__ = ["RegistryError", "InvalidModelName", "ModelVersion", "PromotionDecision", "ModelRegistry",
           "data_fingerprint", "check_name", "sha256_file", "verify_folder", "default_registry_uri", "resolve_store",
           "legacy_models", "EXPERIMENT", "CHAMPION", "CHALLENGER"]

log = logging.getLogger(__name__)

LEGACY_DEFAULT = PROJECT_ROOT / "models" / "registry"  # where the hand-written registry lived by default
EXPERIMENT = "aiops-failure"
CHAMPION, CHALLENGER = "champion", "challenger"
META_SHA_TAG = "aiops.meta_sha256"  # in the store's database: what meta.json must hash to
PREVIOUS_TAG = "aiops.previous_champion"  # on a champion: the version it replaced ("" for none)
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
_MISSING = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")  # no such model / version / alias


class InvalidModelName(InvalidRequestError):
    """A model name or version is not a plain name (letters, digits, '_', '.', '-'; no '..')."""


def check_name(value: object, what: str = "version") -> str:
    """`value` when it is a safe registry name, else InvalidModelName: it becomes a path segment and a filter."""
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value) or ".." in value:
        shown = repr(value)[:80]
        raise InvalidModelName(f"model {what} {shown} is not a plain name (1-64 letters, digits, '_', '.', '-'; no '..')")
    return value


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    meta: dict[str, Any]

    @property
    def metrics(self) -> dict[str, float]:
        return self.meta.get("metrics", {})


@dataclass(frozen=True)
class PromotionDecision:
    promoted: bool
    reason: str
    candidate: str
    previous: str | None


def data_fingerprint(*arrays: Any) -> str:
    """Stable hash of training data (arrays or frames) for lineage."""
    h = hashlib.sha256()
    for a in arrays:
        arr = np.ascontiguousarray(a.to_numpy() if hasattr(a, "to_numpy") else a)
        h.update(repr(arr.tolist()).encode() if arr.dtype == object else arr.tobytes())
    return h.hexdigest()[:16]


def _number(version: str) -> int:
    """MLflow's version number of `v0003` (or `3`)."""
    m = re.fullmatch(r"v?0*(\d+)", check_name(version))
    if m is None:
        raise RegistryError(f"model version {version!r} does not exist (versions read v0001, v0002, ...)")
    return int(m.group(1))


def _label(number: int | str) -> str:
    return f"v{int(number):04d}"


def _code(exc: Exception) -> str:
    return str(getattr(exc, "error_code", ""))


class ModelRegistry:
    """Register, promote, roll back and fetch failure models in an MLflow store."""

    def __init__(self, root: str, cache_dir: str | Path | None = None, experiment: str = EXPERIMENT,
                 run_tags: Mapping[str, str] | None = None) -> None:
        from mlflow import MlflowClient

        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # no tqdm bars in actor logs
        self.tracking_uri, self._artifact_root = resolve_store(root)
        self.client = self._open_store(MlflowClient)
        self.experiment_name = experiment
        self.run_tags = dict(run_tags or {})
        # one cache folder per store: two stores may both hold fleet-failure:v0001
        key = hashlib.sha256(self.tracking_uri.encode()).hexdigest()[:12]
        self.cache = Path(cache_dir or Path(tempfile.gettempdir()) / "aiops-model-cache") / key
        self._metas: dict[tuple[str, int, str], dict[str, Any]] = {}
        self._experiment_id: str | None = None
        # the folder given, or the pre-MLflow default (models/registry in the checkout), may hold old versions
        for folder in {Path(root).expanduser() if "://" not in root else LEGACY_DEFAULT, LEGACY_DEFAULT}:
            if old := legacy_models(folder):
                log.warning("%s holds models %s in the pre-MLflow layout, not served any more; import them with "
                            "`python -m jobs.import_registry %s --registry '%s'`", folder, old, folder, redact(root))

    def _open_store(self, client_cls: Any) -> Any:
        """The MLflow client; a local store's tables created (or checked) under a file lock, since MLflow's
        migrations are not safe in two processes at once (replicas, the monitor and a training job opening a
        new store together corrupt it)."""
        if not self.tracking_uri.startswith("sqlite:"):
            return client_cls(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        import fcntl

        db = Path(self.tracking_uri[len("sqlite:///"):].partition("?")[0])
        with open(db.parent / f".{db.name}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                self.client = client_cls(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
                self._call("store", self.client.search_experiments, max_results=1)
                self._call("store", self.client.search_registered_models, max_results=1)
                return self.client
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """`fn(*args)` with MLflow's and the network's failures as RegistryError (missing things included)."""
        from mlflow.exceptions import MlflowException

        try:
            return fn(*args, **kwargs)
        except MlflowException as exc:
            raise RegistryError(redact(f"registry {what}: {exc.message}")[:500]) from exc
        except OSError as exc:  # the URI may carry user:password@ (aiops.redact)
            raise RegistryError(redact(f"registry unreachable at {self.tracking_uri} ({what}): {exc}")[:500]) from exc

    def _find(self, what: str, fn: Any, *args: Any) -> Any:
        """`fn(*args)`, or None when MLflow says the model, version or alias does not exist."""
        try:
            return self._call(what, fn, *args)
        except RegistryError as exc:
            if _code(exc.__cause__) in _MISSING:
                return None
            raise

    def experiment_id(self) -> str:
        """The experiment's id, created on first use with its artefacts beside a local store (MLflow's own
        default would be ./mlruns under whatever folder the process runs in)."""
        if self._experiment_id is None:
            exp = self._call("experiment", self.client.get_experiment_by_name, self.experiment_name)
            if exp is None:
                try:
                    self._experiment_id = self._call("experiment", self.client.create_experiment, self.experiment_name,
                                                     artifact_location=self._artifact_root)
                except RegistryError:  # created meanwhile by another process
                    exp = self._call("experiment", self.client.get_experiment_by_name, self.experiment_name)
                    if exp is None:
                        raise
            self._experiment_id = self._experiment_id or exp.experiment_id
        return self._experiment_id

    def versions(self, name: str) -> list[str]:
        found = self._call("search", self.client.search_model_versions, f"name = '{check_name(name, 'name')}'")
        return [_label(n) for n in sorted(int(mv.version) for mv in found)]

    def get(self, name: str, version: str) -> ModelVersion:
        """A version (`v0003`), or the one an alias (`champion`, `challenger`) points at now."""
        check_name(name, "name")
        if version in (CHAMPION, CHALLENGER):
            found = self.alias(name, version)
            if found is None:
                raise RegistryError(f"model {name!r} has no {version} yet")
            return found
        mv = self._find("get", self.client.get_model_version, name, str(_number(version)))
        if mv is None:
            raise RegistryError(f"model {name!r} has no version {version!r}")
        return self._version(mv)

    def alias(self, name: str, alias: str) -> ModelVersion | None:
        """The version an alias (`champion`, `challenger`) points at, or None."""
        mv = self._find("alias", self.client.get_model_version_by_alias, check_name(name, "name"), check_name(alias, "alias"))
        return None if mv is None else self._version(mv)

    def production(self, name: str) -> ModelVersion | None:
        """The `champion`: what serving follows (polled; one indexed query while the meta is cached)."""
        return self.alias(name, CHAMPION)

    def _version(self, mv: Any) -> ModelVersion:
        """Our view of an MLflow model version: its verified meta.json plus where it lives in MLflow."""
        n, sha = int(mv.version), mv.tags.get(META_SHA_TAG)
        stored = self._meta(mv.name, n, mv.run_id, sha) if sha else {}  # registered outside aiops: no pins
        where = {"version": str(n), "run_id": mv.run_id, "aliases": sorted(getattr(mv, "aliases", None) or [])}
        return ModelVersion(mv.name, _label(n), {**stored, "name": mv.name, "version": _label(n), "mlflow": where})

    def _meta(self, name: str, n: int, run_id: str, sha: str) -> dict[str, Any]:
        """meta.json of a version, checked against the hash pinned in the database (versions are immutable: cached)."""
        key = (name, n, sha)
        if key not in self._metas:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(self._call("meta", self.client.download_artifacts, run_id, "meta.json", tmp))
                if sha256_file(path) != sha:
                    raise UnsafeArtefact(f"model {name}:{_label(n)}: meta.json does not match the SHA-256 pinned in "
                                         f"the registry's database; refusing to use it")
                self._metas[key] = json.loads(path.read_text())
        return self._metas[key]

    def register(self, name: str, model_dir: Path, metrics: dict[str, float], features: list[str],
                 fingerprint: str, extra: dict[str, Any] | None = None,
                 tags: Mapping[str, str] | None = None) -> ModelVersion:
        """Log a saved model folder as a run and register it as the next version, the new `challenger`; each
        file's SHA-256 pinned in meta.json, whose own hash is pinned on the version."""
        files = [f for f in sorted(Path(model_dir).rglob("*")) if f.is_file()]
        pickled = [f.name for f in files if f.suffix in _PICKLE_SUFFIXES]
        if pickled:
            raise UnsafeArtefact(f"refusing to register pickle-format files {pickled}: {RETRAIN_HINT}")
        check_name(name, "name")
        meta = {"metrics": metrics, "features": features, "data_fingerprint": fingerprint, "created_at": time.time(),
                **(extra or {}), "artefacts": {f.relative_to(model_dir).as_posix(): sha256_file(f) for f in files}}
        self._ensure_model(name)
        run = self._call("run", self.client.create_run, self.experiment_id(), run_name=f"register-{name}",
                         tags={**self.run_tags, "aiops.model": name})
        run_id = run.info.run_id
        try:
            with tempfile.TemporaryDirectory() as tmp:
                meta_path = Path(tmp) / "meta.json"
                meta_path.write_text(json.dumps(meta, indent=2, default=str))
                self._log_run(run_id, meta, model_dir, meta_path)
                mv = self._call("register", self.client.create_model_version, name, f"{run.info.artifact_uri}/model",
                                run_id, tags={**(tags or {}), META_SHA_TAG: sha256_file(meta_path),
                                              "aiops.data_fingerprint": fingerprint})
            newest = self.alias(name, CHALLENGER)  # a registration racing ours may have finished first
            if newest is None or _number(newest.version) < int(mv.version):
                self._call("alias", self.client.set_registered_model_alias, name, CHALLENGER, mv.version)
        except BaseException:
            self._call("run", self.client.set_terminated, run_id, "FAILED")
            raise
        self._call("run", self.client.set_terminated, run_id, "FINISHED")
        return self.get(name, _label(mv.version))

    def _ensure_model(self, name: str) -> None:
        try:
            self._call("model", self.client.create_registered_model, name,
                       description="fleet failure model (aiops): champion = served, challenger = newest candidate")
        except RegistryError as exc:
            if _code(exc.__cause__) != "RESOURCE_ALREADY_EXISTS":
                raise

    def _log_run(self, run_id: str, meta: Mapping[str, Any], model_dir: Path, meta_path: Path) -> None:
        """Metrics and hyperparameters for `mlflow ui`; the model files and meta.json as the run's artefacts."""
        from mlflow.entities import Metric, Param

        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, 0) for k, v in meta["metrics"].items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
        hyper = meta.get("hyperparameters") if isinstance(meta.get("hyperparameters"), dict) else {}
        params = [Param(str(k)[:250], str(v)[:6000]) for k, v in {**hyper, "features": len(meta["features"]),
                                                                  "data_fingerprint": meta["data_fingerprint"]}.items()]
        self._call("log", self.client.log_batch, run_id, metrics=metrics, params=params)
        self._call("log", self.client.log_artifacts, run_id, str(model_dir), "model")
        self._call("log", self.client.log_artifact, run_id, str(meta_path))

    def promote(self, name: str, version: str, metric: str, minimum: float, force: bool = False) -> PromotionDecision:
        """Make `version` the champion if metric >= minimum and it beats the champion (or with `force`)."""
        cand = self.get(name, version)
        current = self.production(name)
        score = cand.metrics.get(metric)
        prev = current.version if current else None
        if not force:
            if score is None:
                return PromotionDecision(False, f"candidate has no metric {metric!r}", cand.version, prev)
            if score < minimum:
                return PromotionDecision(False, f"{metric}={score:.4f} below the acceptance threshold {minimum}", cand.version, prev)
            if current is not None and score <= current.metrics.get(metric, float("-inf")):
                return PromotionDecision(False, f"{metric}={score:.4f} does not beat production {current.version} "
                                                f"({current.metrics.get(metric):.4f})", cand.version, prev)
        n = str(_number(cand.version))
        if prev != cand.version:  # promoting the champion again keeps its rollback target
            self._call("tag", self.client.set_model_version_tag, name, n, PREVIOUS_TAG, str(_number(prev)) if prev else "")
        self._call("alias", self.client.set_registered_model_alias, name, CHAMPION, n)
        challenger = self.alias(name, CHALLENGER)
        if challenger is not None and challenger.version == cand.version:
            self._call("alias", self.client.delete_registered_model_alias, name, CHALLENGER)
        return PromotionDecision(True, f"{metric}={score} promoted over {prev or 'nothing'}", cand.version, prev)

    def rollback(self, name: str) -> str | None:
        """Undo the latest promotion: `champion` moves back to the version it replaced, or is removed (serving
        then falls back to the label-free health score); returns the version now in production."""
        cur = self._find("alias", self.client.get_model_version_by_alias, check_name(name, "name"), CHAMPION)
        if cur is None:
            return None
        prev = cur.tags.get(PREVIOUS_TAG) or None
        if prev and self._find("get", self.client.get_model_version, name, prev) is not None:
            self._call("alias", self.client.set_registered_model_alias, name, CHAMPION, prev)
            return _label(prev)
        self._call("alias", self.client.delete_registered_model_alias, name, CHAMPION)
        return None

    def fetch(self, name: str, version: str) -> Path:
        """Local folder with the model's files (downloaded once into the cache), every file checked
        against the SHA-256 pinned in the version's metadata, on each call (the cache is a disk too)."""
        mv = self.get(name, version)
        pinned = _pinned(mv)
        local = self.cache / name / mv.version
        if (local / ".complete").exists():
            return verify_folder(local, pinned, f"{name}:{mv.version}")
        self.cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.cache) as tmp:
            got = Path(self._call("fetch", self.client.download_artifacts, mv.meta["mlflow"]["run_id"], "model", tmp))
            (got / ".complete").touch()
            local.parent.mkdir(parents=True, exist_ok=True)
            if local.exists():
                shutil.rmtree(local)
            shutil.move(str(got), local)
        return verify_folder(local, pinned, f"{name}:{mv.version}")


def _pinned(mv: ModelVersion) -> dict[str, str]:
    artefacts = mv.meta.get("artefacts")
    if not isinstance(artefacts, dict) or not artefacts:
        raise UnsafeArtefact(f"model {mv.name}:{mv.version} was registered without pinned SHA-256 hashes (by an older "
                             f"version, or outside aiops, possibly in pickle form); {RETRAIN_HINT}")
    return {str(k): str(v) for k, v in artefacts.items()}


def verify_folder(local: Path, pinned: Mapping[str, str], label: str) -> Path:
    """`local` when its files are exactly the pinned ones with the pinned hashes; UnsafeArtefact otherwise."""
    found = {f.relative_to(local).as_posix(): f for f in local.rglob("*") if f.is_file() and f.name != ".complete"}
    extra, missing = sorted(set(found) - set(pinned)), sorted(set(pinned) - set(found))
    if extra or missing:
        raise UnsafeArtefact(f"model {label}: files differ from the registry's list (unexpected {extra}, missing {missing})")
    bad = sorted(rel for rel, f in found.items() if sha256_file(f) != pinned[rel])
    if bad:
        raise UnsafeArtefact(f"model {label}: SHA-256 of {bad} does not match the registry; refusing to load it")
    return local

"""A versioned model registry on a local path or an S3-compatible bucket.

Layout under the root (a folder, or s3://bucket/prefix?endpoint_override=host:port):

    <name>/versions/<version>/model/...     files written by FailureModel.save
    <name>/versions/<version>/meta.json     metrics, feature list, data fingerprint, created_at,
                                            artefacts: {relative path: SHA-256} of every model file
    <name>/production.json                  {"version": ..., "promoted_at": ...}

Names and versions are checked against a safe pattern wherever they enter (a pointer of `../../x`
cannot reach outside the registry or the cache), and `fetch` verifies every file against the
SHA-256 pinned at registration, so a swapped artefact is refused before any library reads it.

Promotion is explicit and guarded: a candidate becomes production only if it passes
the acceptance threshold and beats the current production model on the chosen
metric. Readers poll production.json (cheap) to pick up a new model without restart.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.fs as pafs

from aiops.errors import InvalidRequestError
from aiops.failure.errors import RETRAIN_HINT, UnsafeArtefact

__all__ = ["RegistryError", "InvalidModelName", "ModelVersion", "PromotionDecision", "ModelRegistry",
           "data_fingerprint", "check_name", "sha256_file"]

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")


class RegistryError(RuntimeError):
    """The registry is unreachable or a requested model/version does not exist."""


class InvalidModelName(InvalidRequestError):
    """A model name or version is not a plain name (letters, digits, '_', '.', '-'; no '..')."""


def check_name(value: object, what: str = "version") -> str:
    """`value` when it is a safe registry name, else InvalidModelName: it becomes a path segment."""
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


class ModelRegistry:
    def __init__(self, root: str, cache_dir: str | Path | None = None) -> None:
        uri = root if "://" in root else str(Path(root).resolve())
        self.fs, self.root = pafs.FileSystem.from_uri(uri)
        # one cache folder per registry: two registries may both hold fleet-failure:v0001
        registry_key = hashlib.sha256(uri.encode()).hexdigest()[:12]
        self.cache = Path(cache_dir or Path(tempfile.gettempdir()) / "aiops-model-cache") / registry_key

    def _p(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    def _read_json(self, path: str) -> dict[str, Any] | None:
        try:
            with self.fs.open_input_stream(path) as fh:
                return json.loads(fh.read())
        except FileNotFoundError:
            return None
        except OSError as exc:
            if "not found" in str(exc).lower() or "no such file" in str(exc).lower():
                return None
            raise RegistryError(f"registry unreadable at {path}: {exc}") from exc

    def _write_json(self, path: str, data: dict[str, Any]) -> None:
        tmp = f"{path}.tmp-{time.time_ns()}"
        with self.fs.open_output_stream(tmp) as fh:
            fh.write(json.dumps(data, indent=2, default=str).encode())
        self.fs.move(tmp, path)  # atomic rename on local paths; a single PUT on object stores

    def versions(self, name: str) -> list[str]:
        sel = pafs.FileSelector(self._p(check_name(name, "name"), "versions"), allow_not_found=True)
        return sorted(info.base_name for info in self.fs.get_file_info(sel) if info.type == pafs.FileType.Directory)

    def get(self, name: str, version: str) -> ModelVersion:
        check_name(name, "name")
        check_name(version)
        meta = self._read_json(self._p(name, "versions", version, "meta.json"))
        if meta is None:
            raise RegistryError(f"model {name!r} has no version {version!r}")
        return ModelVersion(name, version, meta)

    def production(self, name: str) -> ModelVersion | None:
        ptr = self._read_json(self._p(check_name(name, "name"), "production.json"))
        return None if ptr is None else self.get(name, ptr.get("version") if isinstance(ptr, dict) else None)

    def register(self, name: str, model_dir: Path, metrics: dict[str, float], features: list[str],
                 fingerprint: str, extra: dict[str, Any] | None = None) -> ModelVersion:
        """Upload a saved model folder as the next version (v0001, v0002, ...), each file's SHA-256 pinned."""
        files = [f for f in sorted(Path(model_dir).rglob("*")) if f.is_file()]
        pickled = [f.name for f in files if f.suffix in _PICKLE_SUFFIXES]
        if pickled:
            raise UnsafeArtefact(f"refusing to register pickle-format files {pickled}: {RETRAIN_HINT}")
        existing = [v for v in self.versions(check_name(name, "name")) if re.fullmatch(r"v\d+", v)]
        version = f"v{(int(existing[-1][1:]) + 1) if existing else 1:04d}"
        dest = self._p(name, "versions", version, "model")
        self.fs.create_dir(dest, recursive=True)
        artefacts = {}
        for f in files:
            rel = f.relative_to(model_dir).as_posix()
            target = f"{dest}/{rel}"
            self.fs.create_dir(target.rsplit("/", 1)[0], recursive=True)
            with open(f, "rb") as src, self.fs.open_output_stream(target) as out:
                shutil.copyfileobj(src, out)
            artefacts[rel] = sha256_file(f)
        meta = {"name": name, "version": version, "metrics": metrics, "features": features,
                "data_fingerprint": fingerprint, "created_at": time.time(), **(extra or {}), "artefacts": artefacts}
        self._write_json(self._p(name, "versions", version, "meta.json"), meta)
        return ModelVersion(name, version, meta)

    def promote(self, name: str, version: str, metric: str, minimum: float, force: bool = False) -> PromotionDecision:
        """Make `version` production if metric >= minimum and it beats production."""
        cand = self.get(name, version)
        current = self.production(name)
        score = cand.metrics.get(metric)
        prev = current.version if current else None
        if not force:
            if score is None:
                return PromotionDecision(False, f"candidate has no metric {metric!r}", version, prev)
            if score < minimum:
                return PromotionDecision(False, f"{metric}={score:.4f} below the acceptance threshold {minimum}", version, prev)
            if current is not None and score <= current.metrics.get(metric, float("-inf")):
                return PromotionDecision(False, f"{metric}={score:.4f} does not beat production {current.version} "
                                                f"({current.metrics.get(metric):.4f})", version, prev)
        self._write_json(self._p(check_name(name, "name"), "production.json"), {"version": check_name(version), "promoted_at": time.time(), "previous": prev})
        return PromotionDecision(True, f"{metric}={score} promoted over {prev or 'nothing'}", version, prev)

    def rollback(self, name: str) -> str | None:
        """Undo the latest promotion: production goes back to the version it replaced, or to none at all (serving
        then falls back to the label-free health score); returns the version now in production."""
        ptr = self._read_json(self._p(check_name(name, "name"), "production.json"))
        prev = ptr.get("previous") if isinstance(ptr, dict) else None
        if prev:
            self._write_json(self._p(name, "production.json"), {"version": check_name(prev), "promoted_at": time.time(),
                                                                "previous": None})
        elif ptr is not None:
            self.fs.delete_file(self._p(name, "production.json"))
        return prev

    def fetch(self, name: str, version: str) -> Path:
        """Local folder with the model's files (downloaded once into the cache), every file checked
        against the SHA-256 pinned in the version's metadata, on each call (the cache is a disk too)."""
        pinned = _pinned(self.get(name, version))
        local = self.cache / name / version
        if (local / ".complete").exists():
            return _verified(local, pinned, f"{name}:{version}")
        src = self._p(name, "versions", version, "model")
        sel = pafs.FileSelector(src, recursive=True)
        tmp = Path(tempfile.mkdtemp(dir=self.cache.parent if self.cache.parent.exists() else None))
        for info in self.fs.get_file_info(sel):
            if info.type != pafs.FileType.File:
                continue
            rel = info.path[len(src) + 1:]
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            with self.fs.open_input_stream(info.path) as fh, open(tmp / rel, "wb") as out:
                shutil.copyfileobj(fh, out)
        (tmp / ".complete").touch()
        local.parent.mkdir(parents=True, exist_ok=True)
        if local.exists():
            shutil.rmtree(local)
        shutil.move(str(tmp), local)
        return _verified(local, pinned, f"{name}:{version}")


def _pinned(mv: ModelVersion) -> dict[str, str]:
    artefacts = mv.meta.get("artefacts")
    if not isinstance(artefacts, dict) or not artefacts:
        raise UnsafeArtefact(f"model {mv.name}:{mv.version} was registered by an older version without pinned "
                             f"SHA-256 hashes (and possibly in pickle form); {RETRAIN_HINT}")
    return {str(k): str(v) for k, v in artefacts.items()}


def _verified(local: Path, pinned: dict[str, str], label: str) -> Path:
    """`local` when its files are exactly the pinned ones with the pinned hashes; UnsafeArtefact otherwise."""
    found = {f.relative_to(local).as_posix(): f for f in local.rglob("*") if f.is_file() and f.name != ".complete"}
    extra, missing = sorted(set(found) - set(pinned)), sorted(set(pinned) - set(found))
    if extra or missing:
        raise UnsafeArtefact(f"model {label}: files differ from the registry's list (unexpected {extra}, missing {missing})")
    bad = sorted(rel for rel, f in found.items() if sha256_file(f) != pinned[rel])
    if bad:
        raise UnsafeArtefact(f"model {label}: SHA-256 of {bad} does not match the registry; refusing to load it")
    return local

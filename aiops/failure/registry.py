"""A versioned model registry on a local path or an S3-compatible bucket.

Layout under the root (a folder, or s3://bucket/prefix?endpoint_override=host:port):

    <name>/versions/<version>/model/...     files written by FailureModel.save
    <name>/versions/<version>/meta.json     metrics, feature list, data fingerprint, created_at
    <name>/production.json                  {"version": ..., "promoted_at": ...}

Promotion is explicit and guarded: a candidate becomes production only if it passes
the acceptance threshold and beats the current production model on the chosen
metric. Readers poll production.json (cheap) to pick up a new model without restart.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.fs as pafs


class RegistryError(RuntimeError):
    """The registry is unreachable or a requested model/version does not exist."""


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
        self.fs, self.root = pafs.FileSystem.from_uri(root if "://" in root else str(Path(root).resolve()))
        self.cache = Path(cache_dir or Path(tempfile.gettempdir()) / "aiops-model-cache")

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
        sel = pafs.FileSelector(self._p(name, "versions"), allow_not_found=True)
        return sorted(info.base_name for info in self.fs.get_file_info(sel) if info.type == pafs.FileType.Directory)

    def get(self, name: str, version: str) -> ModelVersion:
        meta = self._read_json(self._p(name, "versions", version, "meta.json"))
        if meta is None:
            raise RegistryError(f"model {name!r} has no version {version!r}")
        return ModelVersion(name, version, meta)

    def production(self, name: str) -> ModelVersion | None:
        ptr = self._read_json(self._p(name, "production.json"))
        return None if ptr is None else self.get(name, ptr["version"])

    def register(self, name: str, model_dir: Path, metrics: dict[str, float], features: list[str],
                 fingerprint: str, extra: dict[str, Any] | None = None) -> ModelVersion:
        """Upload a saved model folder as the next version (v0001, v0002, ...)."""
        existing = self.versions(name)
        version = f"v{(int(existing[-1][1:]) + 1) if existing else 1:04d}"
        dest = self._p(name, "versions", version, "model")
        self.fs.create_dir(dest, recursive=True)
        for f in sorted(Path(model_dir).rglob("*")):
            if f.is_file():
                target = f"{dest}/{f.relative_to(model_dir).as_posix()}"
                self.fs.create_dir(target.rsplit("/", 1)[0], recursive=True)
                with open(f, "rb") as src, self.fs.open_output_stream(target) as out:
                    shutil.copyfileobj(src, out)
        meta = {"name": name, "version": version, "metrics": metrics, "features": features,
                "data_fingerprint": fingerprint, "created_at": time.time(), **(extra or {})}
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
        self._write_json(self._p(name, "production.json"), {"version": version, "promoted_at": time.time(), "previous": prev})
        return PromotionDecision(True, f"{metric}={score} promoted over {prev or 'nothing'}", version, prev)

    def fetch(self, name: str, version: str) -> Path:
        """Local folder with the model's files (downloaded once into the cache)."""
        self.get(name, version)
        local = self.cache / name / version
        if (local / ".complete").exists():
            return local
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
        return local

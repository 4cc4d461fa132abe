"""Import a pre-MLflow registry folder (`<name>/versions/v0001/{model/,meta.json}`, `<name>/production.json`)
into the MLflow registry, so models trained before issue 13 keep serving.

Each old version is checked exactly as the old registry checked it (pinned SHA-256 of every file; versions
without pins, possibly pickles, are skipped with the retrain hint), registered in version order with its
metadata (created_at included) and tagged `aiops.imported_from`, so running the import twice adds nothing.
The old production pointer becomes `champion`, after its `previous`, so one rollback still goes back to it.
`python -m jobs.import_registry OLD_FOLDER [--registry URI]` runs it.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

from aiops.failure.errors import RETRAIN_HINT
from aiops.failure.registry import ModelRegistry, UnsafeArtefact, check_name, verify_folder
from aiops.failure.registry_store import legacy_models

__all__ = ["IMPORTED_TAG", "import_legacy"]

IMPORTED_TAG = "aiops.imported_from"
_META_KEYS = ("metrics", "features", "data_fingerprint", "artefacts", "name", "version")


def import_legacy(folder: Path, registry: ModelRegistry, log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Register every old version under `folder` not imported yet and restore its production pointer; one row per
    old version: {model, old, new, status}."""
    rows: list[dict[str, Any]] = []
    for name in legacy_models(Path(folder)):
        rows.extend(_import_model(Path(folder), check_name(name, "name"), registry, log))
    return rows


def _import_model(folder: Path, name: str, registry: ModelRegistry, log: Callable[[str], None]) -> list[dict[str, Any]]:
    done = {mv.meta.get(IMPORTED_TAG): mv.version for mv in (registry.get(name, v) for v in registry.versions(name))
            if mv.meta.get(IMPORTED_TAG)}
    mapping: dict[str, str] = {}
    rows = []
    old_versions = sorted((p.name for p in (folder / name / "versions").iterdir() if p.is_dir()),
                          key=lambda v: (int(m.group(1)) if (m := re.fullmatch(r"v(\d+)", v)) else 1 << 30, v))
    for old in old_versions:
        source = f"{folder.resolve()}/{name}/{check_name(old)}"
        if source in done:
            mapping[old] = done[source]
            rows.append({"model": name, "old": old, "new": done[source], "status": "already imported"})
            continue
        try:
            mapping[old] = _import_version(folder / name / "versions" / old, name, source, registry)
            rows.append({"model": name, "old": old, "new": mapping[old], "status": "imported"})
        except (UnsafeArtefact, OSError, ValueError) as exc:
            rows.append({"model": name, "old": old, "new": None, "status": f"skipped: {exc}"[:300]})
        log(f"{name} {old}: {rows[-1]['status']} {rows[-1]['new'] or ''}".rstrip())
    _restore_production(folder / name / "production.json", name, mapping, registry, log)
    return rows


def _import_version(path: Path, name: str, source: str, registry: ModelRegistry) -> str:
    meta = json.loads((path / "meta.json").read_text())
    pinned = meta.get("artefacts")
    if not isinstance(pinned, dict) or not pinned:
        raise UnsafeArtefact(f"registered without pinned SHA-256 hashes (possibly a pickle); {RETRAIN_HINT}")
    verify_folder(path / "model", {str(k): str(v) for k, v in pinned.items()}, f"{name}:{path.name}")
    extra = {k: v for k, v in meta.items() if k not in _META_KEYS}
    mv = registry.register(name, path / "model", dict(meta.get("metrics") or {}), list(meta.get("features") or []),
                           str(meta.get("data_fingerprint", "")), {**extra, IMPORTED_TAG: source},
                           tags={IMPORTED_TAG: source[-5000:]})
    return mv.version


def _restore_production(pointer: Path, name: str, mapping: dict[str, str], registry: ModelRegistry,
                        log: Callable[[str], None]) -> None:
    """The old production version becomes champion (its old `previous` first, so a rollback reaches it)."""
    if not pointer.exists():
        return
    ptr = json.loads(pointer.read_text())
    chain = [v for v in (ptr.get("previous"), ptr.get("version")) if isinstance(v, str) and v in mapping]
    for old in chain:
        registry.promote(name, mapping[old], "pr_auc", 0.0, force=True)
    if chain:
        log(f"{name}: champion = {mapping[chain[-1]]} (was production {chain[-1]})")

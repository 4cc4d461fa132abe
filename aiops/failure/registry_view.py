"""The model registry as a list an operator reads: every version with its type, metrics and age, and which
one is in production (plain Python over `ModelRegistry`; no files are fetched, only metadata)."""
from __future__ import annotations

from typing import Any

from aiops.failure.registry import ModelRegistry

__all__ = ["version_summaries"]


def version_summaries(registry: ModelRegistry, name: str, limit: int = 50) -> dict[str, Any]:
    """{"production": version or None, "versions": newest first, at most `limit`}; unreadable versions are
    listed with an error rather than hiding the rest."""
    prod = registry.production(name)
    rows = []
    for version in reversed(registry.versions(name)[-limit:]):
        try:
            meta = registry.get(name, version).meta
        except Exception as exc:  # noqa: BLE001 - one bad meta.json must not hide the other versions
            rows.append({"version": version, "error": f"{type(exc).__name__}: {exc}"[:300]})
            continue
        rows.append({"version": version, "model_type": meta.get("model_type", "xgboost"),
                     "created_at": meta.get("created_at"), "metrics": dict(meta.get("metrics") or {}),
                     "training_rows": meta.get("training_rows"), "horizon_s": meta.get("horizon_s"),
                     "production": prod is not None and prod.version == version})
    return {"name": name, "production": prod.version if prod else None, "versions": rows}

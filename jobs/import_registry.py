"""Import a pre-MLflow model registry folder into the MLflow registry (issue 13).

    python -m jobs.import_registry models/registry [--registry sqlite:///$HOME/.local/share/aiops/mlflow.db]

Every old version whose files match their pinned SHA-256 becomes a new MLflow model version (in order, tagged
`aiops.imported_from`; a second run imports nothing twice), and the old production pointer becomes the
`champion` alias. Versions without pinned hashes (older, possibly pickled) are skipped: retrain those. The
old folder is left as it was.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aiops.settings import ConfigError, load_settings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="the old registry folder (holding <model>/versions/...)")
    ap.add_argument("--registry", help="MLflow tracking URI or folder (default: the settings' failure.registry_uri)")
    ap.add_argument("--settings", help="engine settings YAML; default configs/aiops.yaml")
    args = ap.parse_args(argv)
    try:
        settings = load_settings(args.settings)
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 2
    from aiops.failure.registry import ModelRegistry
    from aiops.failure.registry_store import legacy_models
    from aiops.failure.registry_legacy import import_legacy

    if not legacy_models(args.folder):
        print(f"{args.folder}: no models in the old layout (<model>/versions/<v>/meta.json)", file=sys.stderr)
        return 1
    registry = ModelRegistry(args.registry or settings.failure.registry_uri, experiment=settings.failure.mlflow_experiment)
    rows = import_legacy(args.folder, registry)
    print(f"{'model':<16} {'old':<8} {'new':<8} status")
    for r in rows:
        print(f"{r['model']:<16} {r['old']:<8} {r['new'] or '-':<8} {r['status']}")
    print(f"registry: {registry.tracking_uri}  (mlflow ui --backend-store-uri '{registry.tracking_uri}')")
    return 0 if all(r["new"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

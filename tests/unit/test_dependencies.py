"""Declared dependencies match the imports: a wheel installed outside the repo must find every third-party
module `aiops`, `actors` and `jobs` import, and must not pull what nothing imports."""
from __future__ import annotations

import ast
import importlib.metadata as md
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = {"aiops", "actors", "jobs"}
# Declared but not imported by our code, each for a reason (a stale entry only costs an install).
RUNTIME_ONLY: dict[str, str] = {}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> set[str]:
    """Distribution names in [project].dependencies, normalised (extras and pins dropped)."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {_norm(re.split(r"[\[=<>!~; ]", d, maxsplit=1)[0]) for d in deps}


def imported_modules() -> dict[str, str]:
    """Third-party top-level module -> one file importing it (absolute imports anywhere in the file)."""
    found: dict[str, str] = {}
    for pkg in sorted(FIRST_PARTY):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in FIRST_PARTY:
                        found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def test_every_third_party_import_is_declared() -> None:
    dists = md.packages_distributions()
    wanted = declared()
    missing = {}
    for module, where in imported_modules().items():
        owners = {_norm(d) for d in dists.get(module, [])}
        assert owners, f"{module} (imported by {where}) is not installed: which distribution provides it?"
        if not owners & wanted:
            missing[module] = (sorted(owners), where)
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_every_declared_dependency_is_imported() -> None:
    dists = md.packages_distributions()
    used = {_norm(d) for module in imported_modules() for d in dists.get(module, [])}
    unused = declared() - used - {_norm(n) for n in RUNTIME_ONLY}
    assert not unused, f"declared in pyproject.toml but imported nowhere in aiops/actors/jobs: {sorted(unused)}"


def test_the_scan_sees_what_it_must() -> None:
    """Guards the scanner itself: modules imported lazily inside functions count too."""
    mods = imported_modules()
    assert {"ray", "numpy", "yaml", "re2", "tqdm", "mlflow"} <= set(mods)
    assert not FIRST_PARTY & set(mods) and "json" not in mods

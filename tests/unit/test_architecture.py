"""The arrows of docs/ARCHITECTURE.md, checked by parsing the source with `ast` (nothing is imported).

- nothing under aiops/ imports actors, jobs or ray; only aiops/api imports fastapi or starlette;
- actors/ never imports jobs;
- no import cycles between the modules of aiops/ and actors/ (lazy, function-level imports count:
  they close the same loop at run time);
- no module imports a `_private` name from another module;
- no module over 400 lines and no function over 80 lines in aiops/, actors/, jobs/ and tests/.

The checkers are plain functions over a folder, so the last tests run them on small synthetic trees:
each rule is shown to fail when broken.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = ("aiops", "actors", "jobs", "tests")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
# Files allowed over the size limits, each with the reason. Keep it short: generated tables and test
# data only, never ordinary code.
SIZE_ALLOW_LIST: dict[str, str] = {}


@dataclass(frozen=True)
class Import:
    """One imported module (and the names taken from it) in one source module."""

    importer: str  # dotted name of the importing module
    target: str  # absolute dotted name of the imported module
    names: tuple[str, ...]  # names taken with `from target import ...` (empty for `import target`)
    line: int


def module_name(path: Path, root: Path) -> str:
    """'aiops/api/app.py' -> 'aiops.api.app'; a package's __init__ is the package itself."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def python_files(root: Path, folders: Iterable[str]) -> Iterator[Path]:
    for folder in folders:
        yield from sorted(p for p in (root / folder).rglob("*.py") if "__pycache__" not in p.parts)


def _absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    package = importer.split(".") if is_package else importer.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def parse_imports(path: Path, root: Path) -> list[Import]:
    """Every import in the file (module level, inside functions, under TYPE_CHECKING), made absolute."""
    importer = module_name(path, root)
    is_package = path.name == "__init__.py"
    out: list[Import] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.extend(Import(importer, a.name, (), node.lineno) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            target = _absolute(node, importer, is_package)
            out.append(Import(importer, target, tuple(a.name for a in node.names), node.lineno))
    return out


def all_imports(root: Path, folders: Iterable[str]) -> list[Import]:
    return [imp for path in python_files(root, folders) for imp in parse_imports(path, root)]


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def forbidden_imports(imports: Iterable[Import], importer: str, targets: Iterable[str],
                      exempt: Iterable[str] = ()) -> list[str]:
    """Imports of `targets` (packages) by modules under `importer`, except those under `exempt`."""
    targets, exempt = tuple(targets), tuple(exempt)
    return sorted(f"{i.importer}:{i.line} imports {i.target}" for i in imports
                  if _within(i.importer, importer) and not any(_within(i.importer, e) for e in exempt)
                  and any(_within(i.target, t) for t in targets))


def import_graph(imports: Iterable[Import], modules: set[str], packages: Iterable[str]) -> nx.DiGraph:
    """Module -> module edges inside `packages`; `from pkg import sub` points at pkg.sub when it is a module."""
    packages = tuple(packages)
    graph = nx.DiGraph()
    for imp in imports:
        if not any(_within(imp.importer, p) for p in packages):
            continue
        for target in [f"{imp.target}.{n}" for n in imp.names if f"{imp.target}.{n}" in modules] or [imp.target]:
            if target in modules and any(_within(target, p) for p in packages) and target != imp.importer:
                graph.add_edge(imp.importer, target)
    return graph


def import_cycles(graph: nx.DiGraph) -> list[list[str]]:
    """Each group of modules that import each other, directly or round a loop (strongly connected)."""
    return sorted(sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1)


def private_imports(imports: Iterable[Import], packages: Iterable[str] = PROJECT_PACKAGES) -> list[str]:
    """`from m import _name` (a leading underscore, not a dunder) where m is another module of `packages`
    (the project's own code: a private name there should be made public or moved; third-party
    privates are their maintainers' business)."""
    packages = tuple(packages)
    return sorted(f"{i.importer}:{i.line} imports {i.target}.{n}" for i in imports for n in i.names
                  if n.startswith("_") and not n.startswith("__") and i.target != i.importer
                  and any(_within(i.target, p) for p in packages))


def oversized(root: Path, folders: Iterable[str], allow: dict[str, str] | None = None) -> list[str]:
    """Modules over MAX_MODULE_LINES lines and functions over MAX_FUNCTION_LINES lines."""
    allow = allow or {}
    out = []
    for path in python_files(root, folders):
        rel = path.relative_to(root).as_posix()
        if rel in allow:
            continue
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_MODULE_LINES:
            out.append(f"{rel}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    out.append(f"{rel}:{node.lineno} {node.name}: {length} lines")
    return out


def module_set(root: Path, folders: Iterable[str]) -> set[str]:
    return {module_name(p, root) for p in python_files(root, folders)}


# --- the project ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def project_imports() -> list[Import]:
    return all_imports(ROOT, ("aiops", "actors", "jobs", "tests"))


def test_core_imports_no_actors_jobs_or_ray(project_imports: list[Import]) -> None:
    assert forbidden_imports(project_imports, "aiops", ("actors", "jobs", "ray")) == []


def test_only_the_api_imports_fastapi_or_starlette(project_imports: list[Import]) -> None:
    assert forbidden_imports(project_imports, "aiops", ("fastapi", "starlette"), exempt=("aiops.api",)) == []


def test_actors_never_import_jobs(project_imports: list[Import]) -> None:
    assert forbidden_imports(project_imports, "actors", ("jobs",)) == []


def test_no_import_cycles(project_imports: list[Import]) -> None:
    modules = module_set(ROOT, ("aiops", "actors"))
    assert import_cycles(import_graph(project_imports, modules, ("aiops", "actors"))) == []


def test_no_private_names_imported(project_imports: list[Import]) -> None:
    assert private_imports(project_imports) == []


def test_module_and_function_sizes() -> None:
    assert oversized(ROOT, ("aiops", "actors", "jobs", "tests"), SIZE_ALLOW_LIST) == []


def test_allow_list_names_existing_files() -> None:
    assert [p for p in SIZE_ALLOW_LIST if not (ROOT / p).is_file()] == []


# --- the checkers can fail ----------------------------------------------------------------------------

def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_checkers_catch_forbidden_arrows(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "aiops/__init__.py": "", "aiops/api/__init__.py": "", "actors/__init__.py": "", "jobs/__init__.py": "",
        "aiops/core.py": "import ray\n\ndef f():\n    from actors.x import y\n",
        "aiops/web.py": "from fastapi import FastAPI\n",
        "aiops/api/app.py": "from fastapi import FastAPI\nfrom starlette.requests import Request\n",
        "actors/x.py": "from jobs import cli\ny = 1\n",
    })
    imports = all_imports(root, ("aiops", "actors", "jobs"))
    assert forbidden_imports(imports, "aiops", ("actors", "jobs", "ray")) == [
        "aiops.core:1 imports ray", "aiops.core:4 imports actors.x"]
    assert forbidden_imports(imports, "aiops", ("fastapi", "starlette"), exempt=("aiops.api",)) == [
        "aiops.web:1 imports fastapi"]
    assert forbidden_imports(imports, "actors", ("jobs",)) == ["actors.x:1 imports jobs"]


def test_checkers_catch_cycles_through_relative_and_lazy_imports(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "aiops/__init__.py": "", "aiops/pkg/__init__.py": "",
        "aiops/pkg/a.py": "from .b import thing\n",
        "aiops/pkg/b.py": "def thing():\n    from aiops.pkg import c\n",
        "aiops/pkg/c.py": "from . import a\n",
        "aiops/pkg/d.py": "from aiops.pkg.a import thing\n",  # into the loop, not part of it
    })
    modules = module_set(root, ("aiops",))
    graph = import_graph(all_imports(root, ("aiops",)), modules, ("aiops",))
    assert import_cycles(graph) == [["aiops.pkg.a", "aiops.pkg.b", "aiops.pkg.c"]]


def test_checkers_catch_private_imports_and_sizes(tmp_path: Path) -> None:
    long_body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    root = _tree(tmp_path, {
        "aiops/__init__.py": "",
        "aiops/m.py": "from aiops.n import _hidden, __version__, public\nfrom numpy.lib import _private_ok\n",
        "aiops/n.py": "_hidden = public = __version__ = 1\n" + "\n" * MAX_MODULE_LINES,
        "aiops/f.py": "def long():\n" + long_body,
        "aiops/ok.py": "def short():\n" + long_body[: -len(f"    x{MAX_FUNCTION_LINES - 1} = {MAX_FUNCTION_LINES - 1}\n")],
    })
    assert private_imports(all_imports(root, ("aiops",))) == ["aiops.m:1 imports aiops.n._hidden"]
    assert oversized(root, ("aiops",)) == ["aiops/f.py:1 long: 81 lines", f"aiops/n.py: {MAX_MODULE_LINES + 1} lines"]
    assert oversized(root, ("aiops",), {"aiops/n.py": "test data", "aiops/f.py": "generated"}) == []

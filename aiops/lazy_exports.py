"""Package exports that import their module only when first used.

A package `__init__` lists its public names in `__all__` without importing torch, xgboost or
scikit-learn for a caller that needs none of them (no work at import time):

    from aiops.lazy_exports import lazy_exports
    __all__ = ["XGBoostFailureModel", "load_model"]
    __getattr__, __dir__ = lazy_exports(__name__, {"XGBoostFailureModel": ".models.xgb", "load_model": ".models.io"})
"""
from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping

__all__ = ["lazy_exports"]


def lazy_exports(package: str, names: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return a module `__getattr__` and `__dir__` that resolve each name from its (relative) module."""
    table = dict(names)

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        globals_of_package = importlib.import_module(package).__dict__
        globals_of_package[name] = value  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(table) | set(importlib.import_module(package).__dict__))

    return __getattr__, __dir__

"""Reading and validating YAML configuration: the one place that turns files into typed objects.

Every engine's configuration model validates through here, so errors look the same everywhere
(`file: invalid X` then one line per offending key) and `aiops.settings` can hold every engine's
section without the engines importing the settings module back.
"""
from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

__all__ = ["PROJECT_ROOT", "CONFIG_DIR", "ConfigError", "validate_config", "load_yaml", "load_config_file"]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = PROJECT_ROOT / "configs"

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration file is missing, unreadable or invalid; the message says where."""


def validate_config(model: type[M], data: Any, origin: str, what: str = "configuration",
                    name_location: Callable[[list[Any]], list[Any]] | None = None) -> M:
    """Validate a mapping against a settings model; the error lists every offending key
    (`name_location` may rewrite a location, e.g. to add a list item's id beside its index)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: top level must be a mapping, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = [f"{origin}: invalid {what}"]
        for err in exc.errors():
            parts = list(err["loc"])
            loc = ".".join(str(p) for p in (name_location(parts) if name_location else parts)) or "<root>"
            lines.append(f"  {loc}: {err['msg']}")
        raise ConfigError("\n".join(lines)) from None


@lru_cache(maxsize=64)
def _parsed(path: str, mtime_ns: int) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None


def load_yaml(path: Path | str) -> Any:
    """Read a YAML file, turning I/O and syntax problems into ConfigError (parsed once per file version)."""
    try:
        mtime = Path(path).stat().st_mtime_ns
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return copy.deepcopy(_parsed(str(path), mtime))


def load_config_file(model: type[M], path: Path | str, what: str = "configuration") -> M:
    """Read a YAML file (empty = defaults) and validate it against `model`."""
    return validate_config(model, load_yaml(path) or {}, str(path), what)

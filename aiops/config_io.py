"""Reading and validating YAML configuration: the one place that finds configuration files and turns them into
typed objects.

The configuration tree ships inside the package (`aiops/configs`, found through `importlib.resources`), so an
installed wheel has it wherever it runs; the repository's `configs/` is a symlink to that folder.
`config_path` is the one resolver every loader uses: absolute paths as given; a relative one against the
caller's base folder (the working directory for a command-line path) when the file is there, else inside the
shipped tree (a leading `configs/` is optional, so `configs/rules` and `rules` name the same shipped folder).

Every engine's configuration model validates through here, so errors look the same everywhere
(`file: invalid X` then one line per offending key) and `aiops.settings` can hold every engine's
section without the engines importing the settings module back.
"""
from __future__ import annotations

import copy
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

__all__ = ["PROJECT_ROOT", "CONFIG_DIR", "CONFIG_ENV", "ConfigError", "shipped_config_dir", "config_path",
           "settings_path", "validate_config", "load_yaml", "load_config_file"]

# The checkout (or site-packages when installed): only outputs (results/, models/) are placed relative to it.
PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONFIG_ENV = "AIOPS_CONFIG"  # a settings file used when no explicit path is given
_SHIPPED_PREFIX = "configs"


class ConfigError(ValueError):
    """A configuration file is missing, unreadable or invalid; the message says where."""


def shipped_config_dir() -> Path:
    """The configuration tree inside the installed package; a real folder, because rule and intel folders are walked."""
    root = resources.files("aiops").joinpath(_SHIPPED_PREFIX)
    if not isinstance(root, Path):  # a zip import: nothing to walk
        raise ConfigError(f"aiops is imported from an archive ({root}); install it unpacked (pip install)")
    return root


CONFIG_DIR = shipped_config_dir()


def _in_shipped_tree(rel: Path) -> Path:
    parts = rel.parts[1:] if rel.parts[:1] == (_SHIPPED_PREFIX,) else rel.parts
    return CONFIG_DIR.joinpath(*parts)


def config_path(name: Path | str, base: Path | None = None) -> Path:
    """Where a configuration file or folder is. Absolute: as given. Relative: under `base` when it exists there
    (a path the user typed, relative to their working directory), else in the shipped tree; when it is in
    neither, the path under `base` (so a "not found" error names what the user wrote)."""
    p = Path(os.path.expanduser(str(name)))
    if p.is_absolute():
        return p
    if base is not None and (base / p).exists():
        return base / p
    shipped = _in_shipped_tree(p)
    return shipped if base is None or shipped.exists() else base / p


def settings_path(path: Path | str | None = None) -> Path:
    """The settings file: `path` (relative to the working directory), else $AIOPS_CONFIG, else the shipped aiops.yaml."""
    given = path or os.environ.get(CONFIG_ENV) or None
    return config_path(given, Path.cwd()) if given else CONFIG_DIR / "aiops.yaml"


M = TypeVar("M", bound=BaseModel)


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

import ast
from pathlib import Path

import pytest

from aiops.settings import PROJECT_ROOT, ConfigError, Settings, load_settings


def test_core_never_imports_ray():
    offenders = []
    for path in (PROJECT_ROOT / "aiops").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "ray" or n.startswith("ray.") for n in names):
                offenders.append(str(path.relative_to(PROJECT_ROOT)))
    assert offenders == []


def test_default_config_loads():
    s = load_settings()
    assert s.store.num_shards >= 1 and s.simulator.enabled


def test_bad_config_names_the_key(tmp_path: Path):
    f = tmp_path / "bad.yaml"
    f.write_text("store:\n  num_shards: 0\nserve:\n  prot: 1\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(f)
    assert "store.num_shards" in str(exc.value) and "serve.prot" in str(exc.value)
    f.write_text("- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_settings(f)
    f.write_text("store: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(f)
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "missing.yaml")


def test_overrides_are_validated():
    s = Settings().with_overrides(**{"simulator.hosts": 1000, "redis.url": None})
    assert s.simulator.hosts == 1000
    with pytest.raises(ConfigError, match="simulator.hosts"):
        Settings().with_overrides(**{"simulator.hosts": -1})

"""One resolver for configuration paths: the shipped tree inside the package, the user's files, $AIOPS_CONFIG."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import yaml

from aiops.config_io import CONFIG_DIR, ConfigError, config_path, settings_path
from aiops.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_tree_is_inside_the_package_and_the_repo_link_points_at_it() -> None:
    assert CONFIG_DIR == Path(str(resources.files("aiops"))) / "configs"
    assert (ROOT / "configs").resolve() == CONFIG_DIR.resolve()
    for name in ("aiops.yaml", "features.yaml", "factors.yaml", "failure.yaml", "train_failure.yaml",
                 "security.yaml", "security_response.yaml", "rules", "intel", "prometheus/aiops-alerts.yml"):
        assert (CONFIG_DIR / name).exists(), name


def test_relative_names_find_the_shipped_tree_from_any_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert config_path("configs/rules") == CONFIG_DIR / "rules" == config_path("rules")
    assert config_path("configs/failure.yaml", Path.cwd()) == CONFIG_DIR / "failure.yaml"
    s = Settings()
    assert CONFIG_DIR / "rules" in s.security.detection.rule_paths(s.data_dir)
    assert Settings.model_validate({"store": {"features_file": "configs/features.yaml"}}).store.features_file == \
        CONFIG_DIR / "features.yaml"


def test_a_users_file_beside_them_wins_and_absolute_paths_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").mkdir()
    mine = tmp_path / "configs" / "failure.yaml"
    mine.write_text("cv: {}\n")
    assert config_path("configs/failure.yaml", Path.cwd()) == mine
    assert config_path("configs/failure.yaml") == CONFIG_DIR / "failure.yaml"  # no base: only the shipped tree
    assert config_path(str(mine)) == mine
    assert config_path("typo.yaml", Path.cwd()) == tmp_path / "typo.yaml"  # in neither: named as the user wrote it


def test_settings_file_is_the_argument_then_aiops_config_then_shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AIOPS_CONFIG", raising=False)
    assert settings_path() == CONFIG_DIR / "aiops.yaml"
    env_file = tmp_path / "env.yaml"
    env_file.write_text(yaml.safe_dump({"store": {"num_shards": 5}}))
    monkeypatch.setenv("AIOPS_CONFIG", str(env_file))
    assert load_settings().store.num_shards == 5
    arg = tmp_path / "arg.yaml"
    arg.write_text(yaml.safe_dump({"store": {"num_shards": 3}}))
    assert load_settings("arg.yaml").store.num_shards == 3
    monkeypatch.setenv("AIOPS_CONFIG", str(tmp_path / "gone.yaml"))
    with pytest.raises(ConfigError, match="gone.yaml: file not found"):
        load_settings()


class _NoDuplicates(yaml.SafeLoader):
    """YAML keeps the last of two equal keys silently; a shipped file must not rely on that."""

    def construct_mapping(self, node, deep=False):  # type: ignore[no-untyped-def]
        keys = [self.construct_object(k, deep=deep) for k, _ in node.value]
        dupes = {k for k in keys if keys.count(k) > 1}
        if dupes:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate keys {sorted(dupes)}", node.start_mark)
        return super().construct_mapping(node, deep=deep)


def test_no_shipped_yaml_repeats_a_key() -> None:
    files = sorted([*CONFIG_DIR.rglob("*.yaml"), *CONFIG_DIR.rglob("*.yml")])
    assert len(files) >= 10
    for f in files:
        list(yaml.load_all(f.read_text(), Loader=_NoDuplicates))  # noqa: S506 - a SafeLoader subclass; rule files hold several documents

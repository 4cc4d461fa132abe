"""Every engine's YAML is validated into the one Settings object, from the files `files:` names."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from aiops.config_io import CONFIG_DIR, ConfigError
from aiops.settings import Settings, load_settings


def test_defaults_are_the_shipped_engine_files() -> None:
    s = Settings()
    shipped = yaml.safe_load((CONFIG_DIR / "factors.yaml").read_text())
    assert len(s.placement.factors.factors) == len(shipped["factors"])
    assert s.security.detection.rules.project_dirs == ("configs/rules",)
    assert s.security.response.destructive_actions  # the shipped response policy
    assert s.failure.evaluation.primary.kind == "xgboost"


def test_files_section_points_an_engine_at_another_file(tmp_path: Path) -> None:
    response = tmp_path / "response.yaml"
    response.write_text(yaml.safe_dump({"dry_run": True}))
    cfg = tmp_path / "aiops.yaml"
    cfg.write_text(yaml.safe_dump({"files": {"response": str(response)}}))
    s = load_settings(cfg)
    assert s.security.response.dry_run is True
    assert s.security.detection == Settings().security.detection  # the other files stay the shipped ones
    assert s.with_overrides(**{"store.num_shards": 3}).security.response.dry_run is True  # overrides keep it


def test_inline_section_wins_over_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "aiops.yaml"
    cfg.write_text(yaml.safe_dump({"security": {"detection": {"prefilter": False}}}))
    assert load_settings(cfg).security.detection.prefilter is False


def test_a_bad_engine_file_is_a_config_error_naming_the_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "security.yaml"
    bad.write_text(yaml.safe_dump({"rules": {"min_level": "loud"}}))
    cfg = tmp_path / "aiops.yaml"
    cfg.write_text(yaml.safe_dump({"files": {"security": str(bad)}}))
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    assert str(bad) in str(err.value) and "rules.min_level" in str(err.value)


def test_a_missing_engine_file_is_a_config_error(tmp_path: Path) -> None:
    cfg = tmp_path / "aiops.yaml"
    cfg.write_text(yaml.safe_dump({"files": {"factors": str(tmp_path / "nope.yaml")}}))
    with pytest.raises(ConfigError, match="nope.yaml: file not found"):
        load_settings(cfg)

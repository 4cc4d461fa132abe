"""The security engine's configuration (``configs/security.yaml``): rule folders, threat-intel files,
suppressions. Validated on load; components take these objects and never read the file themselves.

The response policy has its own file and model (:mod:`aiops.security.response.config`).
"""
from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from aiops.security.sigma.suppression import Suppression
from aiops.config_io import CONFIG_DIR, config_path, load_config_file

__all__ = ["DEFAULT_SECURITY_CONFIG", "RulesConfig", "ThreatIntelConfig", "SecurityConfig", "load_security_config"]


DEFAULT_SECURITY_CONFIG = CONFIG_DIR / "security.yaml"


class RulesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    data_dirs: tuple[str, ...] = Field(("security/sigma/rules",), description="Sigma folders relative to Settings.data_dir")
    optional_data_dirs: tuple[str, ...] = Field((), description="like data_dirs, silently skipped when absent")
    project_dirs: tuple[str, ...] = Field(("configs/rules",), description="our own rules: absolute, or in the shipped configuration tree (aiops.config_io.config_path)")
    min_level: str = Field("informational", pattern="^(informational|low|medium|high|critical)$")


class ThreatIntelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    paths: tuple[str, ...] = Field(("configs/intel",), description="indicator files or folders (*.csv, STIX 2.1 *.json); "
                                                                   "absolute or in the shipped tree (config_path); missing ones are skipped")
    stale_after_days: float = Field(90.0, gt=0, description="an indicator not seen for this long counts half")

    def files(self) -> list[Path]:
        out: list[Path] = []
        for d in self.paths:
            p = config_path(d)
            if p.is_dir():
                out += sorted(f for f in p.rglob("*") if f.suffix.lower() in (".csv", ".json"))
            elif p.is_file():
                out.append(p)
        return out


class SecurityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: RulesConfig = RulesConfig()
    threat_intel: ThreatIntelConfig = ThreatIntelConfig()
    prefilter: bool = Field(True, description="literal index pre-filter (False = evaluate every applicable rule)")
    syslog_year: int | None = Field(None, description="year for BSD syslog timestamps; None = current UTC year")
    suppressions: tuple[Suppression, ...] = ()

    def rule_paths(self, data_dir: Path) -> list[Path]:
        """Configured rule folders resolved to absolute paths (optional ones only if present);
        `data_dir` is `Settings.data_dir`, where the public rule sets live."""
        paths = [data_dir / p for p in self.rules.data_dirs]
        paths += [data_dir / p for p in self.rules.optional_data_dirs if (data_dir / p).exists()]
        paths += [config_path(d) for d in self.rules.project_dirs]
        return paths


def load_security_config(path: Path | str | None = None) -> SecurityConfig:
    """Read and validate ``configs/security.yaml``; errors name the offending key."""
    p = config_path(path, Path.cwd()) if path else DEFAULT_SECURITY_CONFIG
    return load_config_file(SecurityConfig, p, "security configuration")

"""Response policy (configs/security_response.yaml): what may run automatically and escalation.

API tokens moved to the settings' `api:` section (`aiops.auth`); `ApiToken` is re-exported here.

The loader is explicit: the engine takes a ResponseConfig and never reads the file itself.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from aiops.auth import ApiToken as ApiToken  # re-exported: the token table moved to aiops.auth
from aiops.config_io import CONFIG_DIR, config_path, load_config_file


ACTION_TARGET = {"quarantine_vm": "vm_id", "block_ip": "ip", "disable_user": "user", "snapshot_vm": "vm_id"}


SEVERITY_RANK = {"informational": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


DEFAULT_RESPONSE_CONFIG = CONFIG_DIR / "security_response.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AutoRule(_Strict):
    """Lets the engine run ``action`` without a human when the anomaly is at least this bad."""

    action: str = Field(pattern="^(quarantine_vm|block_ip|disable_user|snapshot_vm)$")
    min_severity: str = Field("critical", pattern="^(low|medium|high|critical)$")
    min_score: float = Field(0.0, ge=0, le=1)
    kinds: tuple[str, ...] = Field((), description="anomaly kinds (sigma, network, ueba, intel, incident); empty = any")


class EscalationRule(_Strict):
    when: str = Field(pattern="^(failed|timeout|pending_approval)$", description="('on' is a YAML boolean, hence 'when')")
    after_s: float = Field(0.0, ge=0, description="for pending_approval: how long a request may wait")
    min_severity: str = Field("low", pattern="^(low|medium|high|critical)$")
    notify: str = Field("oncall", description="escalation target (pager, channel); recorded in the audit log")


class ResponseConfig(_Strict):
    dry_run: bool = False
    timeout_s: float = Field(10.0, gt=0, le=600)
    destructive_actions: tuple[str, ...] = ("quarantine_vm", "block_ip", "disable_user")
    auto_allow: tuple[AutoRule, ...] = ()
    escalation: tuple[EscalationRule, ...] = ()
    audit_log: str | None = Field("results/security_audit.jsonl", description="JSONL path (relative to project root); null = memory")
    control_plane: str = Field("simulated", pattern="^(simulated|novacron)$")
    novacron_url: str | None = None
    novacron_token_env: str = "NOVACRON_API_TOKEN"


def load_response_config(path: Path | str | None = None) -> ResponseConfig:
    p = config_path(path, Path.cwd()) if path else DEFAULT_RESPONSE_CONFIG
    return load_config_file(ResponseConfig, p, "response configuration")

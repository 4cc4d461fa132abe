"""Per-action parameter models: what a response request may say, and nothing more.

A request's parameters (and the defaults taken from the anomaly) are validated against the
action's own model before anything is audited or sent, so a client cannot steer an action:
an IP must be one address (not a network, not 0.0.0.0), a VM id must look like a VM id (and be
one the inventory knows, when one is wired in), a user name cannot carry a path, and unknown
keys such as ``target`` are refused instead of being forwarded to the control plane.
"""
from __future__ import annotations

import ipaddress
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from aiops.durations import parse_duration
from aiops.errors import InvalidRequestError
from aiops.security.response.config import ACTION_TARGET

# one path segment at most: starts with a letter or digit, so "." and ".." are never ids
VM_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
USER_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"


class ResponseError(InvalidRequestError):
    """Bad request (unknown action, missing, malformed or unknown target, an extra key): HTTP 422."""


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=256)


class QuarantineVm(_Params):
    vm_id: str = Field(pattern=VM_ID_PATTERN)


class SnapshotVm(_Params):
    vm_id: str = Field(pattern=VM_ID_PATTERN)
    memory: bool = True


class DisableUser(_Params):
    user: str = Field(pattern=USER_PATTERN)


class BlockIp(_Params):
    ip: str
    ttl_s: int | None = Field(None, ge=60, le=30 * 86400, description="how long the block lasts (seconds, or 1h, PT1H); "
                                                                     "None = until lifted")

    @field_validator("ttl_s", mode="before")
    @classmethod
    def _ttl(cls, v: Any) -> Any:
        """A duration as people write it (3600, "1h", "PT1H"), in whole seconds."""
        return v if v is None or isinstance(v, (int, float)) else round(parse_duration(v))

    @field_validator("ip")
    @classmethod
    def _one_routable_address(cls, v: str) -> str:
        """One address, normalised; never a network, the unspecified address, loopback or multicast."""
        try:
            addr = ipaddress.ip_address(v.strip())
        except ValueError:
            raise ValueError(f"{v[:64]!r} is not an IP address (networks are not accepted)") from None
        if addr.is_unspecified or addr.is_loopback or addr.is_multicast:
            raise ValueError(f"{addr} cannot be blocked (unspecified, loopback or multicast)")
        return str(addr)


ACTION_MODELS: dict[str, type[_Params]] = {"quarantine_vm": QuarantineVm, "snapshot_vm": SnapshotVm,
                                           "disable_user": DisableUser, "block_ip": BlockIp}


def validate_action(action: str, parameters: dict[str, Any], defaults: dict[str, Any],
                    vm_known: Callable[[str], bool] | None = None) -> tuple[str, dict[str, Any]]:
    """(target, other parameters) for ``action``, or ResponseError saying what is wrong.

    ``defaults`` (the anomaly's own targets) fill the target key only when the request names none.
    """
    model = ACTION_MODELS.get(action)
    if model is None:
        raise ResponseError(f"unknown action {action!r}; known: {sorted(ACTION_MODELS)}")
    tkey = ACTION_TARGET[action]
    merged = dict(parameters)
    if merged.get(tkey) in (None, "") and defaults.get(tkey):
        merged[tkey] = defaults[tkey]
    if merged.get(tkey) in (None, ""):
        raise ResponseError(f"{action} needs parameters.{tkey} (the anomaly names no {tkey})")
    try:
        checked = model.model_validate(merged).model_dump(exclude_none=True)
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc'])) or action}: {e['msg']}" for e in exc.errors()[:5])
        raise ResponseError(f"invalid parameters for {action}: {reasons}") from None
    target = str(checked.pop(tkey))
    if tkey == "vm_id" and vm_known is not None and not vm_known(target):
        raise ResponseError(f"unknown VM {target!r}: the inventory does not know it")
    return target, checked

"""Where response actions land: a simulated control plane (default, in memory) or NovaCron's API."""
from __future__ import annotations

import threading
import time
from typing import Any, Protocol
from urllib.parse import quote


class ControlPlane(Protocol):
    def execute(self, action: str, target: str, parameters: dict[str, Any], request_id: str | None = None) -> dict[str, Any]: ...


class SimulatedControlPlane:
    """In-memory NovaCron stand-in: applies actions to its own state; latency/failures injectable for tests."""

    def __init__(self, latency_s: float = 0.0, fail_targets: set[str] | None = None) -> None:
        self.latency_s = latency_s
        self.fail_targets = set(fail_targets or ())
        self.quarantined: set[str] = set()
        self.blocked: set[str] = set()
        self.disabled: set[str] = set()
        self.snapshots: list[dict[str, Any]] = []
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def execute(self, action: str, target: str, parameters: dict[str, Any], request_id: str | None = None) -> dict[str, Any]:
        if self.latency_s:
            time.sleep(self.latency_s)
        with self._lock:
            self.calls.append((action, target))
            if target in self.fail_targets:
                raise RuntimeError(f"control plane refused {action} on {target}")
            if action == "quarantine_vm":
                self.quarantined.add(target)
                return {"vm_id": target, "network": "isolated"}
            if action == "block_ip":
                self.blocked.add(target)
                return {"ip": target, "rule": f"deny-{target}", "ttl_s": parameters.get("ttl_s")}
            if action == "disable_user":
                self.disabled.add(target)
                return {"user": target, "sessions_revoked": True}
            if action == "snapshot_vm":
                snap = {"vm_id": target, "snapshot_id": f"snap-{len(self.snapshots) + 1:05d}", "memory": bool(parameters.get("memory", True))}
                self.snapshots.append(snap)
                return snap
        raise ValueError(f"unknown action {action}")


def control_plane_path(template: str, target: str) -> str:
    """The endpoint path with the target as one quoted segment: ``../x?y`` can never leave it."""
    if target in ("", ".", ".."):
        raise ValueError(f"{target!r} is not a path segment")
    return template.format(target=quote(target, safe=""))


class NovaCronControlPlane:
    """HTTP client for a NovaCron control plane (endpoint paths configurable).

    Each call carries the response id as ``Idempotency-Key``, so a retried call acts once. The HTTP
    timeout is longer than the engine's: a call the engine gave up on can still report what it did.
    """

    PATHS = {"quarantine_vm": ("POST", "/api/v1/vms/{target}/quarantine"), "block_ip": ("POST", "/api/v1/network/blocklist"),
             "disable_user": ("POST", "/api/v1/users/{target}/disable"), "snapshot_vm": ("POST", "/api/v1/vms/{target}/snapshots")}
    LATE_FACTOR = 3.0

    def __init__(self, base_url: str, token: str | None = None, timeout_s: float = 10.0, transport: Any = None) -> None:
        """``transport``: an httpx transport (tests pass a recording one; None = the network)."""
        import httpx

        self._client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s * self.LATE_FACTOR, transport=transport,
                                    headers={"Authorization": f"Bearer {token}"} if token else {})

    def execute(self, action: str, target: str, parameters: dict[str, Any], request_id: str | None = None) -> dict[str, Any]:
        method, template = self.PATHS[action]
        body = {**parameters, "target": target}  # the validated target always wins
        headers = {"Idempotency-Key": request_id} if request_id else {}
        r = self._client.request(method, control_plane_path(template, target), json=body, headers=headers)
        r.raise_for_status()
        return r.json() if r.content else {}

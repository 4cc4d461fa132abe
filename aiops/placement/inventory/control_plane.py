"""Where each VM runs: the control-plane interface and its simulated implementation.

``SimulatedControlPlane`` is the control plane used to apply plans on the embedded fleet: it
keeps the VM -> host placement (and VMs created by plans) on top of the simulator's initial
fleet, so applied moves show in the next inventory. It is the one owner of the placement:
another process rebuilds the same view from its ``state()`` with ``apply_state``.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Protocol

from aiops.placement.errors import ControlPlaneError

__all__ = ["VMRecord", "ControlPlane", "SimulatedControlPlane", "ControlPlaneError", "apply_state",
           "VM_NET_GBPS_PER_VCPU", "VM_IOPS_PER_GB"]

VM_NET_GBPS_PER_VCPU = 0.25   # simulated network reservation of a VM (the simulator has none)
VM_IOPS_PER_GB = 5.0          # simulated IOPS reservation per GB of VM disk


@dataclass(frozen=True)
class VMRecord:
    """A placed VM as the control plane knows it."""

    vm_id: str
    host_id: str
    tenant: str
    vcpus: float
    memory_gb: float
    disk_gb: float = 0.0
    gpus: float = 0.0

    @property
    def net_gbps(self) -> float:
        return min(self.vcpus * VM_NET_GBPS_PER_VCPU, 25.0)

    @property
    def iops(self) -> float:
        return self.disk_gb * VM_IOPS_PER_GB


class ControlPlane(Protocol):
    """What plans are applied through (the simulated one here, NovaCron's in a real deployment)."""

    def migrate(self, vm_id: str, source: str, target: str, plan_id: str) -> None: ...
    def create(self, vm: VMRecord, plan_id: str) -> None: ...
    def cordon(self, host_id: str, plan_id: str) -> None: ...
    def uncordon(self, host_id: str, reason: str) -> None: ...
    def vms(self) -> dict[str, VMRecord]: ...


@dataclass
class SimulatedControlPlane:
    """VM placement of the embedded fleet, updated by applied plans.

    Keeps the simulator's initial VMs and every change since (moves, VMs created by
    plans); ``vms()`` is the current placement that inventories are built from. A real
    deployment replaces this with calls to NovaCron's control plane (same methods).
    """

    base: dict[str, VMRecord] = field(default_factory=dict)
    moved: dict[str, str] = field(default_factory=dict)
    created: dict[str, VMRecord] = field(default_factory=dict)
    cordoned: set[str] = field(default_factory=set)
    version: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def load(self, vms: Iterable[VMRecord]) -> None:
        """Set the initial fleet (once; later calls only add VMs not seen yet)."""
        with self._lock:
            for v in vms:
                self.base.setdefault(v.vm_id, v)

    def vms(self) -> dict[str, VMRecord]:
        with self._lock:
            out = {k: (VMRecord(v.vm_id, self.moved[k], v.tenant, v.vcpus, v.memory_gb, v.disk_gb, v.gpus)
                       if k in self.moved else v) for k, v in self.base.items()}
            out.update(self.created)
            return out

    def migrate(self, vm_id: str, source: str, target: str, plan_id: str) -> None:
        """Live-migrate one VM; refuses when it is not on ``source`` any more."""
        with self._lock:
            if vm_id in self.created:
                v = self.created[vm_id]
                if v.host_id != source:
                    raise ControlPlaneError(f"{vm_id} is on {v.host_id}, not {source}")
                self.created[vm_id] = VMRecord(v.vm_id, target, v.tenant, v.vcpus, v.memory_gb, v.disk_gb, v.gpus)
            elif vm_id in self.base:
                now_on = self.moved.get(vm_id, self.base[vm_id].host_id)
                if now_on != source:
                    raise ControlPlaneError(f"{vm_id} is on {now_on}, not {source}")
                self.moved[vm_id] = target
            else:
                raise ControlPlaneError(f"unknown VM {vm_id}")
            self.version += 1
            self.log.append({"op": "migrate", "vm": vm_id, "from": source, "to": target, "plan": plan_id})

    def create(self, vm: VMRecord, plan_id: str) -> None:
        with self._lock:
            if vm.vm_id in self.base or vm.vm_id in self.created:
                raise ControlPlaneError(f"VM {vm.vm_id} exists already")
            self.created[vm.vm_id] = vm
            self.version += 1
            self.log.append({"op": "create", "vm": vm.vm_id, "to": vm.host_id, "plan": plan_id})

    def cordon(self, host_id: str, plan_id: str) -> None:
        """Mark a host unschedulable (after it was drained)."""
        with self._lock:
            if host_id not in self.cordoned:
                self.cordoned.add(host_id)
                self.version += 1
                self.log.append({"op": "cordon", "host": host_id, "plan": plan_id})

    def uncordon(self, host_id: str, reason: str) -> None:
        """Let a host take VMs again (repaired, or its predicted failure did not come)."""
        with self._lock:
            if host_id in self.cordoned:
                self.cordoned.discard(host_id)
                self.version += 1
                self.log.append({"op": "uncordon", "host": host_id, "reason": reason})

    def state(self) -> dict[str, Any]:
        """Picklable view for other processes: version, moves, created VMs, cordoned hosts."""
        with self._lock:
            return {"version": self.version, "moved": dict(self.moved), "cordoned": sorted(self.cordoned),
                    "created": {k: dict(v.__dict__) for k, v in self.created.items()}}

    @classmethod
    def from_state(cls, base: Mapping[str, VMRecord], state: Mapping[str, Any] | None) -> "SimulatedControlPlane":
        """A read-only copy rebuilt from another process's ``state()`` over the simulator's VMs."""
        state = state or {}
        return cls(base=dict(base), moved=dict(state.get("moved", {})),
                   created={k: VMRecord(**d) for k, d in state.get("created", {}).items()},
                   cordoned=set(state.get("cordoned", ())), version=int(state.get("version", 0)))


def apply_state(base: Mapping[str, VMRecord], state: Mapping[str, Any] | None) -> dict[str, VMRecord]:
    """Current VM placement = simulator VMs + a control plane ``state()`` (the control plane's own view)."""
    return SimulatedControlPlane.from_state(base, state).vms()

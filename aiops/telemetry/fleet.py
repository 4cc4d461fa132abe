"""A seeded NovaCron-like inventory: hosts in zones and racks, VMs with tenants."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Host", "VM", "Fleet", "build_fleet"]

_HOST_SKUS = (  # (cores, memory_gb, disk_tb, gpus, gpu_model, nic_gbps, weight)
    (32, 256, 4, 0, "", 25, 0.30),
    (64, 512, 8, 0, "", 25, 0.30),
    (96, 768, 16, 0, "", 50, 0.20),
    (64, 512, 8, 4, "A100", 100, 0.10),
    (128, 1024, 16, 8, "H100", 200, 0.10),
)
_VM_SIZES = ((2, 4), (2, 8), (4, 16), (8, 32), (16, 64), (32, 128))


@dataclass(frozen=True)
class Host:
    host_id: str
    zone: str
    rack: str
    cores: int
    memory_gb: int
    disk_tb: int
    gpus: int
    gpu_model: str
    nic_gbps: int


@dataclass(frozen=True)
class VM:
    vm_id: str
    host_id: str
    tenant: str
    vcpus: int
    memory_gb: int
    disk_gb: int


@dataclass(frozen=True)
class Fleet:
    hosts: tuple[Host, ...]
    vms: tuple[VM, ...]

    def vms_on(self, host_id: str) -> list[VM]:
        return [v for v in self.vms if v.host_id == host_id]


def build_fleet(hosts: int, vms_per_host: int, zones: int, racks_per_zone: int, seed: int) -> Fleet:
    """Deterministic inventory: same arguments, same fleet."""
    rng = np.random.default_rng(seed)
    weights = np.array([s[-1] for s in _HOST_SKUS])
    skus = rng.choice(len(_HOST_SKUS), size=hosts, p=weights / weights.sum())
    host_list = []
    for i in range(hosts):
        z = i % zones
        r = (i // zones) % racks_per_zone
        c, mem, disk, g, gm, nic, _ = _HOST_SKUS[skus[i]]
        host_list.append(Host(f"host-{i:04d}", f"zone-{chr(97 + z)}", f"zone-{chr(97 + z)}-r{r:02d}", c, mem, disk, g, gm, nic))
    vm_list = []
    n_tenants = max(3, hosts // 4)
    for h in host_list:
        used_c, used_m = 0, 0
        for _ in range(vms_per_host):
            vc, vm_mem = _VM_SIZES[rng.integers(len(_VM_SIZES))]
            if used_c + vc > h.cores or used_m + vm_mem > h.memory_gb:
                break
            used_c, used_m = used_c + vc, used_m + vm_mem
            vm_list.append(VM(f"vm-{len(vm_list):06d}", h.host_id, f"tenant-{rng.integers(n_tenants):03d}", vc, vm_mem,
                              int(rng.choice((20, 50, 100, 200)))))
    return Fleet(tuple(host_list), tuple(vm_list))

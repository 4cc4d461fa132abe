"""The per-node resources a request consumes, shared by the node and topology calculators.

One table maps each resource name to its inventory columns and request attribute, so factor
parameters (``resource: cpu``) are checked and turned into inputs the same way everywhere.
"""
from __future__ import annotations

# resource -> (capacity column, allocated column, request attribute)
RESOURCES: dict[str, tuple[str, str, str]] = {
    "cpu": ("cpu_cores", "cpu_alloc", "cpu"),
    "mem": ("mem_gb", "mem_alloc", "mem_gb"),
    "disk": ("disk_gb", "disk_alloc", "disk_gb"),
    "gpu": ("gpus", "gpu_alloc", "gpus"),
    "net": ("nic_gbps", "net_alloc_gbps", "net_gbps"),
    "iops": ("disk_iops_cap", "iops_alloc", "iops"),
}


def check_resource(resource: str, **_: object) -> None:
    """Reject an unknown resource when the catalog loads, not when a request is scored."""
    if resource not in RESOURCES:
        raise ValueError(f"unknown resource {resource!r}; one of {sorted(RESOURCES)}")


def resource_inputs(resource: str, **_: object) -> list[str]:
    """Inventory columns a per-resource calculator reads (capacity and allocation)."""
    cap, alloc, _r = RESOURCES[resource]
    return [f"node.{cap}", f"node.{alloc}"]

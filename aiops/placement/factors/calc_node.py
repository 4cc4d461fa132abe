"""Node-local calculators: raw state columns, capacity headroom, contention, packing shape.

These read one node's specs, allocation and feature-store utilisation, combined with
the request's size where the factor is about the state *after* placement.
"""
from __future__ import annotations

import numpy as np

from aiops.placement.factors.registry import FactorContext, register
from aiops.placement.factors.resources import RESOURCES, check_resource, resource_inputs
from aiops.placement.inventory import FEATURE_COLUMNS, NODE_COLUMNS, RACK_COLUMNS, ZONE_COLUMNS


def col(ctx: FactorContext, idx: np.ndarray, address: str) -> np.ndarray:
    """Inventory column at the candidate nodes, as float (shared, read-only: do not modify)."""
    return ctx.gather(address, idx)


def _check_address(address: str) -> None:
    table, _, name = address.partition(".")
    schema = {"node": NODE_COLUMNS, "feature": FEATURE_COLUMNS}.get(table)
    if schema is None or name not in schema:
        raise ValueError(f"{address!r} is not a node.* or feature.* column")


def _after(ctx: FactorContext, idx: np.ndarray, resource: str) -> tuple[np.ndarray, np.ndarray]:
    """(used after placement, capacity) for one resource."""
    cap, alloc, req = RESOURCES[resource]
    c = col(ctx, idx, f"node.{cap}")
    return col(ctx, idx, f"node.{alloc}") + float(getattr(ctx.vm, req)), c


@register("column", inputs=lambda address: [address], check=lambda address: _check_address(address), static=True)
def column(ctx: FactorContext, idx: np.ndarray, address: str) -> np.ndarray:
    """Raw node spec/state or feature-store value."""
    return col(ctx, idx, address)


def _check_in(schema: dict, what: str):
    def check(column: str) -> None:
        if column not in schema:
            raise ValueError(f"unknown {what} column {column!r}")
    return check


@register("zone_column", inputs=lambda column: [f"zone.{column}", "node.zone"], check=_check_in(ZONE_COLUMNS, "zone"), static=True)
def zone_column(ctx: FactorContext, idx: np.ndarray, column: str) -> np.ndarray:
    """Site attribute of the node's zone (energy price, PUE, disaster risk ...)."""
    return ctx.inv.zone[column][ctx.inv.node["zone"][idx]].astype(float)


@register("rack_column", inputs=lambda column: [f"rack.{column}", "node.rack"], check=_check_in(RACK_COLUMNS, "rack"), static=True)
def rack_column(ctx: FactorContext, idx: np.ndarray, column: str) -> np.ndarray:
    """Attribute of the node's rack (top-of-rack uplink load, inlet temperature)."""
    return ctx.inv.rack[column][ctx.inv.node["rack"][idx]].astype(float)


@register("headroom_after", inputs=resource_inputs, check=check_resource)
def headroom_after(ctx: FactorContext, idx: np.ndarray, resource: str) -> np.ndarray:
    """Free fraction of a resource left after placing the VM (GPU-less nodes: 0)."""
    used, cap = _after(ctx, idx, resource)
    return np.where(cap > 0, (cap - used) / np.maximum(cap, 1e-9), 0.0)


@register("free_after", inputs=resource_inputs, check=check_resource)
def free_after(ctx: FactorContext, idx: np.ndarray, resource: str) -> np.ndarray:
    """Absolute amount of a resource left after placement (room for the VM to grow)."""
    used, cap = _after(ctx, idx, resource)
    return cap - used


@register("slot_headroom", inputs=["node.vm_max", "node.vm_count"], static=True)
def slot_headroom(ctx: FactorContext, idx: np.ndarray) -> np.ndarray:
    """Free VM slots after placement, as a fraction of the host's slots."""
    vmax = col(ctx, idx, "node.vm_max")
    return (vmax - col(ctx, idx, "node.vm_count") - 1) / np.maximum(vmax, 1)


@register("projected", inputs=lambda mean, trend, cap=100.0: [f"feature.{mean}", f"feature.{trend}"])
def projected(ctx: FactorContext, idx: np.ndarray, mean: str, trend: str, cap: float = 100.0) -> np.ndarray:
    """Mean extrapolated along its linear trend to the middle of the time horizon."""
    v = col(ctx, idx, f"feature.{mean}") + col(ctx, idx, f"feature.{trend}") * ctx.horizon_h / 2
    return np.clip(v, 0, cap)


@register("load_after", inputs=lambda feature, resource: [f"feature.{feature}", f"node.{RESOURCES[resource][0]}"],
          check=lambda feature, resource: check_resource(resource))
def load_after(ctx: FactorContext, idx: np.ndarray, feature: str, resource: str) -> np.ndarray:
    """Utilisation percentile plus the VM's full demand: expected contention at peak."""
    cap_col, _, req = RESOURCES[resource]
    return col(ctx, idx, f"feature.{feature}") + 100.0 * float(getattr(ctx.vm, req)) / np.maximum(col(ctx, idx, f"node.{cap_col}"), 1e-9)


@register("ratio", inputs=lambda num, den: [num, den], static=True)
def ratio(ctx: FactorContext, idx: np.ndarray, num: str, den: str) -> np.ndarray:
    """Quotient of two columns (per-core bandwidth, coefficient of variation ...)."""
    d = col(ctx, idx, den)
    return col(ctx, idx, num) / np.where(np.abs(d) > 1e-9, d, np.nan)


@register("effective_core_speed", inputs=["node.cpu_ghz", "node.cpu_generation", "feature.cpu_steal_mean"], static=True)
def effective_core_speed(ctx: FactorContext, idx: np.ndarray, ipc_gain_per_gen: float = 0.08) -> np.ndarray:
    """Clock × per-generation IPC gain × share not stolen by the hypervisor."""
    gen = col(ctx, idx, "node.cpu_generation")
    steal = col(ctx, idx, "feature.cpu_steal_mean")
    return col(ctx, idx, "node.cpu_ghz") * (1 + ipc_gain_per_gen * (gen - 1)) * (1 - steal / 100)


@register("numa_headroom", inputs=["node.cpu_cores", "node.numa_nodes", "node.mem_gb"])
def numa_headroom(ctx: FactorContext, idx: np.ndarray) -> np.ndarray:
    """How comfortably the VM fits inside one NUMA node (negative: it must span nodes)."""
    numa = np.maximum(col(ctx, idx, "node.numa_nodes"), 1)
    cpu_room = 1 - ctx.vm.cpu / (col(ctx, idx, "node.cpu_cores") / numa)
    mem_room = 1 - ctx.vm.mem_gb / (col(ctx, idx, "node.mem_gb") / numa)
    return np.minimum(cpu_room, mem_room)


@register("noisy_neighbours", inputs=["vm.node", "vm.cpu", "vm.cpu_util", "node.cpu_cores"], static=True)
def noisy_neighbours(ctx: FactorContext, idx: np.ndarray) -> np.ndarray:
    """Busy vCPUs of co-located VMs per physical core (from per-VM utilisation)."""
    inv = ctx.inv
    busy = inv.derived("nn_busy", lambda: np.bincount(
        inv.vm["node"], weights=inv.vm["cpu"] * np.nan_to_num(inv.vm["cpu_util"], nan=50.0) / 100, minlength=inv.n_nodes))
    return busy[idx] / col(ctx, idx, "node.cpu_cores")


@register("excess_over", inputs=lambda address, threshold, span: [address], static=True)
def excess_over(ctx: FactorContext, idx: np.ndarray, address: str, threshold: float, span: float) -> np.ndarray:
    """Softplus ramp of how far a value exceeds a threshold (thermal throttling onset)."""
    with np.errstate(invalid="ignore"):
        return np.logaddexp(0.0, (col(ctx, idx, address) - threshold) / span)


def _fracs_after(ctx: FactorContext, idx: np.ndarray, resources: tuple[str, ...]) -> np.ndarray:
    out = []
    for r in resources:
        used, cap = _after(ctx, idx, r)
        out.append(used / np.maximum(cap, 1e-9))
    return np.stack(out)


_SHAPE = ("cpu", "mem", "disk")


@register("dominant_share_after", inputs=[a for r in _SHAPE for a in resource_inputs(r)])
def dominant_share_after(ctx: FactorContext, idx: np.ndarray) -> np.ndarray:
    """Largest per-resource utilisation after placement (DRF dominant share)."""
    return _fracs_after(ctx, idx, _SHAPE).max(axis=0)


@register("balance_after", inputs=[a for r in _SHAPE for a in resource_inputs(r)])
def balance_after(ctx: FactorContext, idx: np.ndarray) -> np.ndarray:
    """kube-scheduler BalancedAllocation: 1 - std of cpu/mem/disk utilisation after placement."""
    return 1 - _fracs_after(ctx, idx, _SHAPE).std(axis=0)


@register("alignment", inputs=[a for r in ("cpu", "mem") for a in resource_inputs(r)])
def alignment(ctx: FactorContext, idx: np.ndarray) -> np.ndarray:
    """Tetris dot product of the VM's normalised demand with the node's free capacity."""
    score = np.zeros(idx.shape[0])
    for r in ("cpu", "mem"):
        cap_c, alloc_c, req = RESOURCES[r]
        cap = col(ctx, idx, f"node.{cap_c}")
        score += (float(getattr(ctx.vm, req)) / cap) * ((cap - col(ctx, idx, f"node.{alloc_c}")) / cap)
    return score


@register("fragmentation_after", inputs=[a for r in ("cpu", "mem") for a in resource_inputs(r)])
def fragmentation_after(ctx: FactorContext, idx: np.ndarray) -> np.ndarray:
    """Gap between free cpu and free memory fractions after placement: capacity stranded in one dimension."""
    f = _fracs_after(ctx, idx, ("cpu", "mem"))
    return np.abs(f[0] - f[1])

"""Cost and energy calculators, and the cost model behind ``estimated_cost``.

Hourly cost of the VM on a node = compute (vCPU-hours and GiB-hours at the node's
price, less any spot discount) + GPUs + licences + storage (zone price per GB-month)
+ energy (the VM's share of the node's dynamic power, times the site PUE and energy
price, plus the idle power of a host it would switch on).
"""
from __future__ import annotations

import numpy as np

from aiops.placement.optimise.constraints import VMRequest
from aiops.placement.factors.registry import FactorContext, register
from aiops.placement.inventory import Inventory

HOURS_PER_MONTH = 730.0

COST_INPUTS: dict[str, list[str]] = {
    "compute": ["node.price_vcpu_hour", "node.price_gb_hour", "node.spot_discount"],
    "gpu": ["node.price_gpu_hour", "node.gpus", "node.spot_discount"],
    "license": ["node.license_core_hour"],
    "storage": ["zone.storage_price_gb_month", "node.zone"],
    "energy": ["node.power_idle_w", "node.power_max_w", "node.cpu_cores", "node.vm_count",
               "zone.pue", "zone.energy_price_kwh", "node.zone"],
}
COST_INPUTS["total"] = sorted({a for v in COST_INPUTS.values() for a in v})


def incremental_power_w(inv: Inventory, idx: np.ndarray, vm: VMRequest) -> np.ndarray:
    """The VM's share of the host's dynamic power at full load of its vCPUs."""
    n = inv.node
    return (n["power_max_w"][idx] - n["power_idle_w"][idx]) * vm.cpu / n["cpu_cores"][idx]


def activation_power_w(inv: Inventory, idx: np.ndarray) -> np.ndarray:
    """Idle power a placement switches on when the host is empty (consolidation pressure)."""
    n = inv.node
    return np.where(n["vm_count"][idx] == 0, n["power_idle_w"][idx], 0.0)


def hourly_cost_breakdown(inv: Inventory, idx: np.ndarray, vm: VMRequest) -> dict[str, np.ndarray]:
    """USD per hour of running ``vm`` on each node in ``idx``, by component."""
    n, z = inv.node, inv.zone
    zone = n["zone"][idx]
    keep = 1.0 - n["spot_discount"][idx]
    per_gpu = n["price_gpu_hour"][idx] / np.maximum(n["gpus"][idx], 1)
    pue = z["pue"][zone]
    out = {
        "compute": (vm.cpu * n["price_vcpu_hour"][idx] + vm.mem_gb * n["price_gb_hour"][idx]) * keep,
        "gpu": vm.gpus * per_gpu * keep,
        "license": vm.cpu * n["license_core_hour"][idx],
        "storage": vm.disk_gb * z["storage_price_gb_month"][zone] / HOURS_PER_MONTH,
        "energy": (incremental_power_w(inv, idx, vm) + activation_power_w(inv, idx)) / 1000 * pue * z["energy_price_kwh"][zone],
    }
    out["total"] = sum(out.values())
    return out


def _check_component(component: str) -> None:
    if component not in COST_INPUTS:
        raise ValueError(f"unknown cost component {component!r}; one of {sorted(COST_INPUTS)}")


def fleet_cost(ctx: FactorContext) -> dict[str, np.ndarray]:
    """Cost breakdown for every node, once per request (several factors share it)."""
    return ctx.memo("fleet_cost", lambda: hourly_cost_breakdown(ctx.inv, np.arange(ctx.inv.n_nodes), ctx.vm))


@register("hourly_cost", inputs=lambda component: COST_INPUTS[component], check=_check_component)
def hourly_cost(ctx: FactorContext, idx: np.ndarray, component: str) -> np.ndarray:
    """One component of the VM's hourly cost on the node (cost model above)."""
    return fleet_cost(ctx)[component][idx]


@register("cost_per_performance", inputs=COST_INPUTS["total"] + ["node.cpu_ghz", "node.cpu_generation", "feature.cpu_steal_mean"])
def cost_per_performance(ctx: FactorContext, idx: np.ndarray) -> np.ndarray:
    """Hourly cost per unit of effective core speed."""
    from aiops.placement.factors.calc_node import effective_core_speed
    return fleet_cost(ctx)["total"][idx] / np.maximum(effective_core_speed(ctx, idx), 1e-3)


def _interrupt_prob(ctx: FactorContext, idx: np.ndarray) -> np.ndarray:
    p = ctx.inv.node["spot_interruption_prob"][idx]
    return 1 - (1 - p) ** ctx.horizon_h


@register("spot_interruption", inputs=["node.spot_interruption_prob"])
def spot_interruption(ctx: FactorContext, idx: np.ndarray) -> np.ndarray:
    """Probability the VM is pre-empted within the time horizon."""
    return _interrupt_prob(ctx, idx)


@register("expected_interruption_cost", inputs=["node.spot_interruption_prob"] + COST_INPUTS["total"])
def expected_interruption_cost(ctx: FactorContext, idx: np.ndarray, restart_hours: float = 1.0) -> np.ndarray:
    """Interruption probability × cost of the work redone after a restart."""
    return _interrupt_prob(ctx, idx) * fleet_cost(ctx)["total"][idx] * (restart_hours + ctx.horizon_h / 4)


@register("gpu_opportunity_cost", inputs=["node.price_gpu_hour", "node.gpus", "node.gpu_alloc"])
def gpu_opportunity_cost(ctx: FactorContext, idx: np.ndarray) -> np.ndarray:
    """Hourly price of the GPUs the VM leaves idle but blocks (CPU work on GPU hosts)."""
    n = ctx.inv.node
    gpus = n["gpus"][idx]
    free_after = np.maximum(gpus - n["gpu_alloc"][idx] - ctx.vm.gpus, 0)
    per_gpu = n["price_gpu_hour"][idx] / np.maximum(gpus, 1)
    share = ctx.vm.cpu / n["cpu_cores"][idx]
    return per_gpu * free_after * share


@register("committed_headroom", inputs=["node.committed_use", "node.cpu_cores", "node.cpu_alloc"])
def committed_headroom(ctx: FactorContext, idx: np.ndarray) -> np.ndarray:
    """Prepaid (committed-use) capacity the VM can use instead of on-demand."""
    n = ctx.inv.node
    free = (n["cpu_cores"][idx] - n["cpu_alloc"][idx] - ctx.vm.cpu) / n["cpu_cores"][idx]
    return n["committed_use"][idx].astype(float) * np.clip(free, 0, 1)


@register("incremental_power", inputs=["node.power_idle_w", "node.power_max_w", "node.cpu_cores"])
def incremental_power(ctx: FactorContext, idx: np.ndarray) -> np.ndarray:
    """Watts the VM adds to the host at full load."""
    return incremental_power_w(ctx.inv, idx, ctx.vm)


@register("activation_power", inputs=["node.power_idle_w", "node.vm_count", "zone.pue", "node.zone"])
def activation_power(ctx: FactorContext, idx: np.ndarray) -> np.ndarray:
    """Facility watts switched on by waking an empty host."""
    return activation_power_w(ctx.inv, idx) * ctx.inv.zone["pue"][ctx.inv.node["zone"][idx]]


@register("perf_per_watt", inputs=["node.cpu_cores", "node.cpu_ghz", "node.cpu_generation", "node.power_max_w"], static=True)
def perf_per_watt(ctx: FactorContext, idx: np.ndarray) -> np.ndarray:
    """Core-GHz (generation adjusted) per watt of peak power."""
    n = ctx.inv.node
    speed = n["cpu_cores"][idx] * n["cpu_ghz"][idx] * (1 + 0.08 * (n["cpu_generation"][idx] - 1))
    return speed / n["power_max_w"][idx]


@register("carbon_rate", inputs=["node.power_idle_w", "node.power_max_w", "node.cpu_cores", "node.vm_count",
                                 "zone.pue", "zone.carbon_g_kwh", "node.zone"])
def carbon_rate(ctx: FactorContext, idx: np.ndarray) -> np.ndarray:
    """Grams of CO2 per hour attributable to the VM (dynamic share + activation, × PUE × grid intensity)."""
    zone = ctx.inv.node["zone"][idx]
    watts = incremental_power_w(ctx.inv, idx, ctx.vm) + activation_power_w(ctx.inv, idx)
    return watts / 1000 * ctx.inv.zone["pue"][zone] * ctx.inv.zone["carbon_g_kwh"][zone]

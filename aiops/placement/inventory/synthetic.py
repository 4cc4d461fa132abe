"""A seeded, internally consistent synthetic fleet (tests and the recommendation benchmark).

Allocation drives utilisation, utilisation drives temperature and latency, old hardware fails
more, spot nodes are cheaper but interruptible, some nodes have no failure prediction yet (NaN)
and some features are missing, so every code path of the factor engine is exercised. The parts
are drawn from one generator in a fixed order, so a seed always gives the same fleet.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from aiops.placement.inventory.model import Inventory
from aiops.placement.inventory.schema import CERTIFICATIONS, GPU_MODELS

__all__ = ["synthetic_inventory"]

# (zone, region, country, lat, lon, energy USD/kWh, carbon g/kWh, renewable, pue, disaster, access ms)
_SITES: tuple[tuple[str, str, str, float, float, float, float, float, float, float, float], ...] = (
    ("us-east-1a", "us-east", "US", 38.9, -77.4, 0.082, 380, 0.22, 1.35, 0.010, 8),
    ("us-east-1b", "us-east", "US", 39.0, -77.5, 0.085, 380, 0.22, 1.30, 0.010, 9),
    ("us-west-2a", "us-west", "US", 45.6, -121.2, 0.061, 120, 0.68, 1.20, 0.015, 12),
    ("eu-west-1a", "eu-west", "IE", 53.3, -6.3, 0.190, 290, 0.42, 1.25, 0.004, 10),
    ("eu-central-1a", "eu-central", "DE", 50.1, 8.7, 0.240, 350, 0.46, 1.30, 0.003, 9),
    ("eu-central-1b", "eu-central", "DE", 50.0, 8.6, 0.235, 350, 0.46, 1.40, 0.003, 9),
    ("eu-north-1a", "eu-north", "SE", 59.3, 18.1, 0.070, 40, 0.95, 1.10, 0.002, 14),
    ("ap-south-1a", "ap-south", "IN", 19.1, 72.9, 0.110, 630, 0.18, 1.55, 0.020, 15),
    ("ap-northeast-1a", "ap-northeast", "JP", 35.7, 139.7, 0.210, 460, 0.20, 1.35, 0.030, 8),
)

# (gpu model, gpu mem GiB, USD per GPU-hour)
_GPU_SPECS = {1: (16, 0.35), 2: (24, 0.70), 3: (24, 1.00), 4: (80, 2.50), 5: (80, 4.00)}




def _zones(rng: np.random.Generator, sites: tuple[tuple[Any, ...], ...], region_names: list[str]) -> dict[str, np.ndarray]:
    """Site attributes of each zone."""
    nz = len(sites)
    zone = {
        "region": np.array([region_names.index(s[1]) for s in sites]),
        "lat": np.array([s[3] for s in sites]), "lon": np.array([s[4] for s in sites]),
        "energy_price_kwh": np.array([s[5] for s in sites]),
        "carbon_g_kwh": np.array([s[6] for s in sites], dtype=float),
        "renewable_frac": np.array([s[7] for s in sites]),
        "pue": np.array([s[8] for s in sites]),
        "disaster_risk": np.array([s[9] for s in sites]),
        "tier": rng.choice([3.0, 4.0], nz, p=[0.6, 0.4]),
        "grid_reliability": 1.0 - rng.uniform(1e-4, 2e-3, nz),
        "egress_price_gb": rng.choice([0.05, 0.08, 0.09, 0.12], nz),
        "inter_zone_price_gb": rng.choice([0.01, 0.02], nz),
        "storage_price_gb_month": rng.uniform(0.04, 0.12, nz).round(3),
        "access_latency_ms": np.array([s[10] for s in sites], dtype=float),
    }
    return zone


def _hardware(rng: np.random.Generator, n_nodes: int) -> dict[str, Any]:
    """Hardware, allocation, power and price of each node (three CPU generations plus GPU hosts)."""
    # hardware: three generations of general purpose hosts plus some GPU hosts
    gen = rng.choice([1, 2, 3, 4], n_nodes, p=[0.15, 0.3, 0.35, 0.2]).astype(float)
    cores = rng.choice([32, 48, 64, 96, 128], n_nodes, p=[0.15, 0.2, 0.3, 0.2, 0.15]).astype(float)
    mem = cores * rng.choice([4.0, 8.0, 16.0], n_nodes, p=[0.3, 0.5, 0.2])
    gpu_model = np.where(rng.random(n_nodes) < 0.12, rng.integers(1, len(GPU_MODELS), n_nodes), 0)
    gpus = np.where(gpu_model > 0, rng.choice([1, 2, 4, 8], n_nodes), 0).astype(float)
    gpu_mem = np.array([_GPU_SPECS.get(int(g), (0, 0.0))[0] for g in gpu_model], dtype=float)
    gpu_price = np.array([_GPU_SPECS.get(int(g), (0, 0.0))[1] for g in gpu_model]) * gpus
    disk_type = rng.choice([0, 1, 2], n_nodes, p=[0.15, 0.45, 0.4])
    disk_gb = rng.choice([960.0, 1920.0, 3840.0, 7680.0], n_nodes)
    iops_cap = np.array([2_000.0, 80_000.0, 500_000.0])[disk_type] * rng.uniform(0.7, 1.3, n_nodes)

    # allocation (dense fleet, some empty hosts)
    fill = np.clip(rng.beta(2.2, 2.0, n_nodes), 0, 0.97)
    fill[rng.random(n_nodes) < 0.04] = 0.0
    cpu_alloc = np.floor(cores * fill)
    mem_alloc = np.minimum(mem, mem * np.clip(fill + rng.normal(0, 0.08, n_nodes), 0, 0.98))
    disk_alloc = disk_gb * np.clip(fill * rng.uniform(0.6, 1.1, n_nodes), 0, 0.95)
    gpu_alloc = np.floor(gpus * np.clip(fill + rng.normal(0, 0.2, n_nodes), 0, 1))
    nic = rng.choice([10.0, 25.0, 50.0, 100.0], n_nodes, p=[0.2, 0.4, 0.25, 0.15])
    vm_count = np.where(cpu_alloc > 0, np.maximum(1, np.round(cpu_alloc / rng.uniform(2, 8, n_nodes))), 0)
    vm_max = np.maximum(vm_count + 4, np.round(cores / 1.5))

    hw_age = np.clip(5 - gen + rng.normal(0, 0.6, n_nodes), 0.2, 8)
    power_idle = 80 + cores * 1.1 + gpus * 40
    power_max = power_idle + cores * 3.5 + gpus * 300
    base_price = 0.0335 * (1 + 0.06 * (gen - 2))
    spot = rng.random(n_nodes) < 0.15

    return {k: v for k, v in locals().items() if k not in ("rng", "n_nodes")}


def _features(rng: np.random.Generator, n_nodes: int, fill: np.ndarray, mem_alloc: np.ndarray, mem: np.ndarray,
              disk_type: np.ndarray, hw_age: np.ndarray, cores: np.ndarray, gpus: np.ndarray, gpu_alloc: np.ndarray,
              **_: Any) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Feature-store view of each node (following its allocation), its CPU mean and failure risk."""
    # utilisation features follow allocation
    cpu_mean = np.clip(fill * rng.uniform(45, 85, n_nodes) + rng.normal(0, 4, n_nodes), 0.5, 99)
    cpu_std = cpu_mean * rng.uniform(0.1, 0.5, n_nodes)
    cpu_p95 = np.clip(cpu_mean + 1.8 * cpu_std, cpu_mean, 100)
    mem_mean = np.clip(100 * mem_alloc / mem * rng.uniform(0.6, 0.95, n_nodes), 0.5, 99)
    mem_p95 = np.clip(mem_mean * rng.uniform(1.02, 1.2, n_nodes), mem_mean, 100)
    disk_base = np.array([6.0, 0.8, 0.15])[disk_type]
    disk_lat = disk_base * (1 + 2 * fill ** 2) * rng.lognormal(0, 0.2, n_nodes)
    temp_mean = 38 + 0.25 * cpu_mean + rng.normal(0, 3, n_nodes) + 2 * hw_age
    net_util = np.clip(fill * rng.uniform(10, 70, n_nodes), 0.1, 99)
    risk = np.clip(0.002 * np.exp(0.45 * hw_age) * rng.lognormal(0, 0.6, n_nodes), 0, 0.9)
    risk[rng.random(n_nodes) < 0.2] = np.nan  # no prediction yet for these hosts

    feature = {
        "cpu_util_mean": cpu_mean, "cpu_util_p95": cpu_p95, "cpu_util_std": cpu_std,
        "cpu_util_trend": rng.normal(0, 0.8, n_nodes),
        "cpu_steal_mean": np.clip(fill * rng.exponential(1.5, n_nodes), 0, 30),
        "cpu_ready_ms": np.clip(fill ** 2 * rng.exponential(60, n_nodes), 0, 2000),
        "io_wait_pct": np.clip(disk_lat / disk_base * rng.exponential(1.5, n_nodes), 0, 60),
        "llc_miss_rate": rng.gamma(2, 1.5, n_nodes) * (1 + fill),
        "context_switch_rate": rng.gamma(3, 10, n_nodes) * (0.5 + fill),
        "load_spike_count": rng.poisson(1 + 6 * fill).astype(float),
        "mem_util_mean": mem_mean, "mem_util_p95": mem_p95,
        "mem_util_trend": rng.normal(0, 0.5, n_nodes),
        "mem_swap_rate": np.where(mem_p95 > 90, rng.exponential(50, n_nodes), rng.exponential(2, n_nodes)),
        "disk_latency_mean_ms": disk_lat, "disk_latency_p95_ms": disk_lat * rng.uniform(2, 4, n_nodes),
        "disk_latency_p99_ms": disk_lat * rng.uniform(4, 9, n_nodes),
        "disk_latency_trend": rng.normal(0, 0.05, n_nodes) * disk_base,
        "disk_iops_util": np.clip(fill * rng.uniform(20, 90, n_nodes), 0, 100),
        "disk_read_error_rate": rng.exponential(0.05, n_nodes) * (hw_age / 3),
        "disk_queue_depth": rng.gamma(2, 1 + 3 * fill, n_nodes),
        "disk_throughput_util": np.clip(fill * rng.uniform(10, 80, n_nodes), 0, 100),
        "net_util_mean": net_util, "net_util_p95": np.clip(net_util * rng.uniform(1.2, 2.0, n_nodes), 0, 100),
        "net_err_rate": rng.exponential(0.02, n_nodes), "net_err_trend": rng.normal(0, 0.002, n_nodes),
        "net_drop_rate": rng.exponential(0.5, n_nodes) * (net_util / 50),
        "net_latency_p95_ms": rng.uniform(0.08, 0.4, n_nodes) * (1 + net_util / 100),
        "temp_mean_c": temp_mean, "temp_max_c": temp_mean + rng.uniform(4, 15, n_nodes),
        "temp_trend": rng.normal(0, 0.2, n_nodes),
        "response_time_p95_ms": 20 + 200 * fill ** 3 * rng.lognormal(0, 0.3, n_nodes),
        "throughput_rps": cores * rng.uniform(20, 60, n_nodes) * (1 - 0.3 * fill),
        "ecc_error_rate": rng.exponential(0.1, n_nodes) * hw_age,
        "gpu_util_mean": np.where(gpus > 0, np.clip(100 * gpu_alloc / np.maximum(gpus, 1) * rng.uniform(0.5, 1, n_nodes), 0, 100), 0.0),
        "auth_fail_rate": rng.exponential(0.3, n_nodes),
        "feature_age_s": rng.exponential(20, n_nodes),
    }
    # a few hosts report nothing for some features (collector gaps)
    for name in ("disk_latency_p99_ms", "llc_miss_rate", "temp_max_c"):
        feature[name][rng.random(n_nodes) < 0.03] = np.nan

    return feature, cpu_mean, risk


def _security(rng: np.random.Generator, n_nodes: int, now: float, node_zone: np.ndarray,
              sites: tuple[tuple[Any, ...], ...], hw_age: np.ndarray, **_: Any) -> dict[str, Any]:
    """Maintenance windows, certifications and security posture of each node."""
    maint_start = np.full(n_nodes, np.nan)
    has_maint = rng.random(n_nodes) < 0.08
    maint_start[has_maint] = now + rng.uniform(0, 14 * 86_400, has_maint.sum())
    maint_end = maint_start + rng.choice([2, 4, 8], n_nodes) * 3600.0

    certs = np.zeros(n_nodes, dtype=np.int64)
    for bit, p in enumerate((0.5, 0.3, 0.7, 0.6, 0.0, 0.1)):
        certs |= (rng.random(n_nodes) < p).astype(np.int64) << bit
    eu = np.isin(node_zone, [i for i, s in enumerate(sites) if s[2] in {"IE", "DE", "SE"}])
    certs |= eu.astype(np.int64) << CERTIFICATIONS.index("gdpr")
    isolation = rng.choice([0, 1, 2, 3], n_nodes, p=[0.55, 0.25, 0.12, 0.08])
    vuln_c = rng.poisson(0.3 * hw_age / 2, n_nodes).astype(float)
    vuln_h = rng.poisson(1.5, n_nodes).astype(float)
    patch_age = rng.exponential(25, n_nodes)
    enc = rng.random(n_nodes) < 0.7
    sec_level = np.clip(1 + isolation + enc.astype(int) - (vuln_c > 0) - (patch_age > 60), 0, 5)

    return {k: v for k, v in locals().items() if k not in ("rng", "n_nodes", "now", "node_zone", "sites", "hw_age", "_")}


def _nodes(rng: np.random.Generator, n_nodes: int, now: float, node_zone: np.ndarray, node_rack: np.ndarray,
           risk: np.ndarray, dedicated: np.ndarray, hw: dict[str, Any], sec: dict[str, Any]) -> dict[str, np.ndarray]:
    """The node table from the drawn parts."""
    cores, gen, mem, disk_gb, disk_type, iops_cap = (hw[k] for k in ("cores", "gen", "mem", "disk_gb", "disk_type", "iops_cap"))
    gpus, gpu_model, gpu_mem, nic, vm_max = (hw[k] for k in ("gpus", "gpu_model", "gpu_mem", "nic", "vm_max"))
    power_idle, power_max, hw_age, fill, vm_count = (hw[k] for k in ("power_idle", "power_max", "hw_age", "fill", "vm_count"))
    cpu_alloc, mem_alloc, disk_alloc, gpu_alloc = (hw[k] for k in ("cpu_alloc", "mem_alloc", "disk_alloc", "gpu_alloc"))
    base_price, gpu_price, spot = hw["base_price"], hw["gpu_price"], hw["spot"]
    maint_start, maint_end, certs, isolation = sec["maint_start"], sec["maint_end"], sec["certs"], sec["isolation"]
    vuln_c, vuln_h, patch_age, enc, sec_level = (sec[k] for k in ("vuln_c", "vuln_h", "patch_age", "enc", "sec_level"))
    node = {
        "zone": node_zone, "rack": node_rack, "cpu_cores": cores, "cpu_ghz": rng.choice([2.1, 2.4, 2.8, 3.2, 3.6], n_nodes),
        "cpu_generation": gen, "mem_gb": mem, "mem_bw_gbps": 60 * gen * rng.uniform(0.8, 1.2, n_nodes),
        "numa_nodes": np.where(cores >= 96, 4.0, np.where(cores >= 48, 2.0, 1.0)),
        "disk_gb": disk_gb, "disk_type": disk_type, "disk_iops_cap": iops_cap,
        "storage_net_gbps": rng.choice([10.0, 25.0, 100.0], n_nodes),
        "storage_replicas": rng.choice([1.0, 2.0, 3.0], n_nodes, p=[0.4, 0.2, 0.4]),
        "snapshot_free_frac": rng.uniform(0.05, 0.9, n_nodes),
        "gpus": gpus, "gpu_model": gpu_model, "gpu_mem_gb": gpu_mem, "nic_gbps": nic,
        "vm_max": vm_max, "power_idle_w": power_idle, "power_max_w": power_max, "hw_age_years": hw_age,
        "cpu_alloc": cpu_alloc, "mem_alloc": mem_alloc, "disk_alloc": disk_alloc, "gpu_alloc": gpu_alloc,
        "net_alloc_gbps": nic * fill * rng.uniform(0.2, 0.6, n_nodes),
        "iops_alloc": iops_cap * fill * rng.uniform(0.1, 0.5, n_nodes),
        "vm_count": vm_count.astype(float),
        "failure_risk": risk, "mtbf_hours": 30_000 / (1 + hw_age) * rng.lognormal(0, 0.3, n_nodes),
        "uptime_days": rng.exponential(60, n_nodes), "reboots_30d": rng.poisson(0.4, n_nodes).astype(float),
        "incidents_90d": rng.poisson(0.2 * hw_age, n_nodes).astype(float),
        "firmware_age_days": rng.uniform(10, 700, n_nodes),
        "smart_realloc_sectors": rng.poisson(0.5 * hw_age, n_nodes).astype(float),
        "disk_wear_pct": np.clip(hw_age * rng.uniform(5, 15, n_nodes), 0, 100),
        "psu_redundant": rng.random(n_nodes) < 0.9, "raid_redundant": rng.random(n_nodes) < 0.8,
        "failed_migrations_30d": rng.poisson(0.2, n_nodes).astype(float),
        "maint_start": maint_start, "maint_end": maint_end,
        "last_maint_ts": now - rng.uniform(1, 180, n_nodes) * 86_400, "cordoned": rng.random(n_nodes) < 0.01,
        "vuln_critical": vuln_c, "vuln_high": vuln_h, "vuln_medium": rng.poisson(4, n_nodes).astype(float),
        "isolation_level": isolation, "encryption_at_rest": enc, "memory_encryption": isolation == 3,
        "secure_boot": rng.random(n_nodes) < 0.8, "tpm": rng.random(n_nodes) < 0.85,
        "patch_age_days": patch_age, "security_level": sec_level.astype(np.int64),
        "open_ports": rng.poisson(6, n_nodes).astype(float), "last_scan_age_days": rng.exponential(5, n_nodes),
        "security_alerts_7d": rng.poisson(0.5, n_nodes).astype(float),
        "certifications": certs, "audit_age_days": rng.uniform(5, 400, n_nodes),
        "max_classification": rng.choice([1, 2, 3, 4], n_nodes, p=[0.2, 0.4, 0.3, 0.1]),
        "policy_violations_30d": rng.poisson(0.3, n_nodes).astype(float),
        "price_vcpu_hour": base_price * rng.uniform(0.9, 1.1, n_nodes),
        "price_gb_hour": 0.0045 * rng.uniform(0.9, 1.1, n_nodes), "price_gpu_hour": gpu_price,
        "license_core_hour": rng.choice([0.0, 0.005, 0.012], n_nodes, p=[0.5, 0.3, 0.2]),
        "spot": spot, "spot_discount": np.where(spot, rng.uniform(0.5, 0.8, n_nodes), 0.0),
        "spot_interruption_prob": np.where(spot, rng.uniform(0.002, 0.03, n_nodes), 0.0),
        "committed_use": rng.random(n_nodes) < 0.3, "dedicated_tenant": dedicated,
    }

    return node


def _racks_and_vms(rng: np.random.Generator, n_nodes: int, n_tenants: int, n_racks: int, rack_zone: np.ndarray,
                   node_rack: np.ndarray, dedicated: np.ndarray, cpu_mean: np.ndarray, hw: dict[str, Any]
                   ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Rack state from the hosts in each rack, and each host's allocation split into tenants' VMs."""
    power_idle, power_max, vm_count, cpu_alloc, mem_alloc = (hw[k] for k in ("power_idle", "power_max", "vm_count",
                                                                            "cpu_alloc", "mem_alloc"))
    # rack state from the hosts in the rack
    draw = np.bincount(node_rack, weights=power_idle + (power_max - power_idle) * cpu_mean / 100, minlength=n_racks) / 1000
    rack = {
        "zone": rack_zone, "power_cap_kw": np.maximum(draw * rng.uniform(1.1, 1.8, n_racks), 5.0),
        "power_draw_kw": draw, "tor_uplink_util": rng.uniform(5, 85, n_racks),
        "inlet_temp_c": rng.uniform(18, 30, n_racks),
    }

    # VMs: split each host's allocation into VMs owned by Zipf-distributed tenants
    counts = vm_count.astype(int)
    vm_node = np.repeat(np.arange(n_nodes), counts)
    tenant_p = 1.0 / np.arange(1, n_tenants + 1) ** 1.1
    vm_tenant = rng.choice(n_tenants, vm_node.size, p=tenant_p / tenant_p.sum())
    on_ded = dedicated[vm_node] >= 0
    vm_tenant[on_ded] = dedicated[vm_node][on_ded]
    share = cpu_alloc[vm_node] / np.maximum(counts[vm_node], 1)
    vm = {
        "node": vm_node, "tenant": vm_tenant, "cpu": np.maximum(1.0, np.round(share)),
        "mem_gb": mem_alloc[vm_node] / np.maximum(counts[vm_node], 1),
        "cpu_util": np.clip(rng.beta(2, 3, vm_node.size) * 100, 0, 100),
    }
    return rack, vm


def synthetic_inventory(n_nodes: int, seed: int = 0, n_zones: int | None = None,
                        racks_per_zone: int | None = None, n_tenants: int | None = None,
                        now: float = 1_767_225_600.0) -> Inventory:
    """Seeded fleet of `n_nodes` nodes (see the module docstring for what it models)."""
    if n_nodes < 1:
        raise ValueError("n_nodes must be >= 1")
    rng = np.random.default_rng(seed)
    sites = _SITES[: (n_zones or len(_SITES))]
    nz = len(sites)
    rpz = racks_per_zone or max(2, min(64, n_nodes // (nz * 20) or 2))
    region_names = sorted({s[1] for s in sites})
    zone = _zones(rng, sites, region_names)
    n_racks = nz * rpz
    rack_zone = np.repeat(np.arange(nz), rpz)
    node_zone = rng.integers(0, nz, n_nodes)
    node_rack = node_zone * rpz + rng.integers(0, rpz, n_nodes)

    hw = _hardware(rng, n_nodes)
    feature, cpu_mean, risk = _features(rng, n_nodes, **hw)
    sec = _security(rng, n_nodes, now, node_zone, sites, **hw)
    n_tenants = n_tenants or max(5, n_nodes // 20)
    tenant_names = np.array([f"tenant-{i:04d}" for i in range(n_tenants)], dtype=object)
    dedicated = np.full(n_nodes, -1)
    ded = rng.random(n_nodes) < 0.03
    dedicated[ded] = rng.integers(0, n_tenants, ded.sum())

    node = _nodes(rng, n_nodes, now, node_zone, node_rack, risk, dedicated, hw, sec)
    rack, vm = _racks_and_vms(rng, n_nodes, n_tenants, n_racks, rack_zone, node_rack, dedicated, cpu_mean, hw)
    zone_country = np.array([s[2] for s in sites], dtype=object)
    return Inventory(
        node_ids=np.array([f"node-{i:05d}" for i in range(n_nodes)], dtype=object),
        node=node, feature=feature,
        zone_names=np.array([s[0] for s in sites], dtype=object),
        region_names=np.array(region_names, dtype=object), zone_country=zone_country,
        zone=zone, rack=rack,
        vm_ids=np.array([f"vm-{i:06d}" for i in range(vm["node"].size)], dtype=object),
        vm=vm, tenant_names=tenant_names, now=now,
    )

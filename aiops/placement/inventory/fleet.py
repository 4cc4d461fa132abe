"""The simulator's fleet (or a control plane's records) as a placement ``Inventory``.

The fleet simulator (``aiops.telemetry.fleet``) knows hosts (cores, memory, disk, GPUs,
NIC, zone, rack) and VMs (host, tenant, size). Placement factors also read site
attributes (region, country, energy price, carbon intensity ...), hardware details
(CPU generation, clock, power draw), security posture, certifications, maintenance
windows and prices. The simulator lacks those, so this module **simulates** them:
deterministically, seeded per zone / host name (``crc32(name) ^ seed``), so a host keeps
its attributes whatever the fleet size, and plausibly (a newer CPU is faster and
costs a little more; old hardware has more CVEs and worn disks; EU sites carry GDPR).
A real NovaCron control plane supplies the same records instead; nothing downstream
knows the difference. Measured state is never simulated: allocation comes from the VM
placement, utilisation from the feature store, failure risk from the failure model
(NaN, i.e. unknown, while no model has predicted a host). Placement features the feature
store does not define are approximated from measured ones or modelled from measured load
(``FEATURE_DERIVATIONS`` says which is which).

Where each VM runs is the control plane's (``aiops.placement.inventory.control_plane``): a
snapshot is built from its view, never from a placement of its own.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np

from aiops.placement.inventory.control_plane import VMRecord
from aiops.placement.inventory.model import Inventory, inventory_from_records
from aiops.placement.inventory.schema import CERTIFICATIONS, features_from_store

# Simulated sites, assigned to the simulator's zones in order (zone-a -> first site ...):
# (region, country, lat, lon, energy USD/kWh, carbon g/kWh, renewable frac, pue, disaster risk/yr, access ms)
SIM_SITES: tuple[tuple[str, str, float, float, float, float, float, float, float, float], ...] = (
    ("us-east", "US", 38.9, -77.4, 0.082, 380.0, 0.22, 1.35, 0.010, 8.0),
    ("eu-west", "IE", 53.3, -6.3, 0.190, 290.0, 0.42, 1.25, 0.004, 10.0),
    ("eu-central", "DE", 50.1, 8.7, 0.240, 350.0, 0.46, 1.30, 0.003, 9.0),
    ("us-west", "US", 45.6, -121.2, 0.061, 120.0, 0.68, 1.20, 0.015, 12.0),
    ("eu-north", "SE", 59.3, 18.1, 0.070, 40.0, 0.95, 1.10, 0.002, 14.0),
    ("ap-south", "IN", 19.1, 72.9, 0.110, 630.0, 0.18, 1.55, 0.020, 15.0),
    ("ap-northeast", "JP", 35.7, 139.7, 0.210, 460.0, 0.20, 1.35, 0.030, 8.0),
)
EU_COUNTRIES = frozenset({"IE", "DE", "SE", "FR", "NL"})
GPU_SPECS: dict[str, tuple[float, float]] = {"T4": (16, 0.35), "L4": (24, 0.70), "A10": (24, 1.00),
                                             "A100": (80, 2.50), "H100": (80, 4.00)}  # GiB per GPU, USD per GPU-hour


def _rng(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed & 0xFFFFFFFF, zlib.crc32(name.encode())])


def zone_record(zone: str, index: int, seed: int) -> dict[str, Any]:
    """Simulated site attributes for one zone (see module docstring)."""
    region, country, lat, lon, energy, carbon, renew, pue, disaster, access = SIM_SITES[index % len(SIM_SITES)]
    rng = _rng(seed, zone)
    return {
        "name": zone, "region": region, "country": country, "lat": lat + rng.uniform(-0.3, 0.3),
        "lon": lon + rng.uniform(-0.3, 0.3), "energy_price_kwh": round(energy * rng.uniform(0.95, 1.05), 4),
        "carbon_g_kwh": carbon * rng.uniform(0.9, 1.1), "renewable_frac": renew, "pue": pue,
        "disaster_risk": disaster, "tier": float(rng.choice([3.0, 4.0])),
        "grid_reliability": 1.0 - rng.uniform(1e-4, 2e-3), "egress_price_gb": float(rng.choice([0.05, 0.08, 0.09])),
        "inter_zone_price_gb": 0.01 if region.startswith("us") else 0.02,
        "storage_price_gb_month": round(rng.uniform(0.04, 0.12), 3), "access_latency_ms": access,
    }


def host_record(host: Mapping[str, Any], country: str, seed: int, now: float) -> dict[str, Any]:
    """Simulated hardware / security / compliance / cost attributes for one host.

    ``host`` carries the simulator's fields (host_id, zone, rack, cores, memory_gb,
    disk_tb, gpus, gpu_model, nic_gbps); allocation is filled in by the caller.
    """
    hid = str(host["host_id"])
    rng = _rng(seed, hid)
    cores = float(host["cores"])
    gpus = float(host.get("gpus") or 0)
    gpu_model = str(host.get("gpu_model") or "") or "none"
    gen = float(rng.choice([1, 2, 3, 4], p=[0.15, 0.3, 0.35, 0.2]))
    hw_age = float(np.clip(5 - gen + rng.normal(0, 0.6), 0.2, 8))
    disk_type = "nvme" if gpus > 0 or rng.random() < 0.4 else ("ssd" if rng.random() < 0.75 else "hdd")
    iops_cap = {"hdd": 2_000.0, "ssd": 80_000.0, "nvme": 500_000.0}[disk_type] * rng.uniform(0.8, 1.2)
    isolation = int(rng.choice([0, 1, 2, 3], p=[0.55, 0.25, 0.12, 0.08]))
    enc = bool(rng.random() < 0.7)
    vuln_c = float(rng.poisson(0.3 * hw_age / 2))
    patch_age = float(rng.exponential(25))
    certs = [c for c, p in zip(CERTIFICATIONS, (0.5, 0.3, 0.7, 0.6, 0.0, 0.1)) if rng.random() < p]
    if country in EU_COUNTRIES:
        certs.append("gdpr")
    spot = bool(rng.random() < 0.1)
    maint = rng.random() < 0.08
    maint_start = now + rng.uniform(0, 14 * 86_400) if maint else None
    power_idle = 80 + cores * 1.1 + gpus * 40
    gspec = GPU_SPECS.get(gpu_model, (0.0, 0.0))
    return {
        "id": hid, "zone": host["zone"], "rack": host["rack"],
        "cpu_cores": cores, "mem_gb": float(host["memory_gb"]), "disk_gb": float(host["disk_tb"]) * 1000.0,
        "gpus": gpus, "gpu_model": gpu_model, "gpu_mem_gb": gspec[0] if gpus else 0.0, "nic_gbps": float(host["nic_gbps"]),
        "cpu_ghz": float(rng.choice([2.1, 2.4, 2.8, 3.2, 3.6])), "cpu_generation": gen,
        "mem_bw_gbps": 60 * gen * rng.uniform(0.8, 1.2), "numa_nodes": 4.0 if cores >= 96 else (2.0 if cores >= 48 else 1.0),
        "disk_type": disk_type, "disk_iops_cap": iops_cap, "storage_net_gbps": float(rng.choice([10.0, 25.0, 100.0])),
        "storage_replicas": float(rng.choice([1.0, 2.0, 3.0], p=[0.4, 0.2, 0.4])), "snapshot_free_frac": rng.uniform(0.05, 0.9),
        "vm_max": max(8.0, round(cores / 1.5)), "power_idle_w": power_idle, "power_max_w": power_idle + cores * 3.5 + gpus * 300,
        "hw_age_years": hw_age, "mtbf_hours": 30_000 / (1 + hw_age) * rng.lognormal(0, 0.3),
        "uptime_days": rng.exponential(60), "reboots_30d": float(rng.poisson(0.4)), "incidents_90d": float(rng.poisson(0.2 * hw_age)),
        "firmware_age_days": rng.uniform(10, 700), "smart_realloc_sectors": float(rng.poisson(0.5 * hw_age)),
        "disk_wear_pct": float(np.clip(hw_age * rng.uniform(5, 15), 0, 100)), "psu_redundant": bool(rng.random() < 0.9),
        "raid_redundant": bool(rng.random() < 0.8), "failed_migrations_30d": float(rng.poisson(0.2)),
        "maint_start": maint_start, "maint_end": None if maint_start is None else maint_start + float(rng.choice([2, 4, 8])) * 3600,
        "last_maint_ts": now - rng.uniform(1, 180) * 86_400, "cordoned": False,
        "vuln_critical": vuln_c, "vuln_high": float(rng.poisson(1.5)), "vuln_medium": float(rng.poisson(4)),
        "isolation_level": isolation, "encryption_at_rest": enc, "memory_encryption": isolation == 3,
        "secure_boot": bool(rng.random() < 0.8), "tpm": bool(rng.random() < 0.85), "patch_age_days": patch_age,
        "security_level": int(np.clip(1 + isolation + int(enc) - (vuln_c > 0) - (patch_age > 60), 0, 5)),
        "open_ports": float(rng.poisson(6)), "last_scan_age_days": rng.exponential(5), "security_alerts_7d": float(rng.poisson(0.5)),
        "certifications": certs, "audit_age_days": rng.uniform(5, 400),
        "max_classification": int(rng.choice([1, 2, 3, 4], p=[0.2, 0.4, 0.3, 0.1])), "policy_violations_30d": float(rng.poisson(0.3)),
        "price_vcpu_hour": 0.0335 * (1 + 0.06 * (gen - 2)) * rng.uniform(0.9, 1.1), "price_gb_hour": 0.0045 * rng.uniform(0.9, 1.1),
        "price_gpu_hour": gspec[1] * gpus, "license_core_hour": float(rng.choice([0.0, 0.005, 0.012], p=[0.5, 0.3, 0.2])),
        "spot": spot, "spot_discount": rng.uniform(0.5, 0.8) if spot else 0.0,
        "spot_interruption_prob": rng.uniform(0.002, 0.03) if spot else 0.0, "committed_use": bool(rng.random() < 0.3),
    }


# Placement features the feature store does not define (yet). "approx" ones are computed from
# measured features with a stated approximation; "simulated" ones have no telemetry source in
# the simulator and are modelled from the host's measured load times a fixed per-host factor
# (seeded), so they move with the real load. Listed so the API docs can say which are which.
FEATURE_DERIVATIONS: dict[str, tuple[str, str]] = {
    "mem_util_mean": ("approx", "100 × (memory_pressure_min_5m + memory_pressure_max_5m) / 2"),
    "mem_util_p95": ("approx", "100 × memory_pressure_max_5m (upper bound)"),
    "response_time_p95_ms": ("approx", "response_time_p99_5m (upper bound)"),
    "temp_mean_c": ("approx", "temperature_max_5m − 3 °C"),
    "disk_latency_mean_ms": ("approx", "disk_io_latency_p95_5m / 2.5 (log-normal latency shape)"),
    "disk_latency_p99_ms": ("approx", "disk_io_latency_p95_5m × 2"),
    "net_util_mean": ("approx", "100 × throughput_mean_5m (Mbit/s) / NIC capacity"),
    "net_util_p95": ("approx", "net_util_mean × cpu p95 / cpu mean"),
    "throughput_rps": ("approx", "throughput_mean_5m × 1000 / 512 (512 kbit per request)"),
    "cpu_util_trend": ("approx", "cpu_util_mean × throughput_change_rate_15m × 4 (per hour)"),
    "gpu_util_mean": ("approx", "100 × GPUs allocated / GPUs × cpu_util_mean / 100"),
    "disk_iops_util": ("approx", "100 × IOPS reserved / IOPS capacity × cpu_util_mean / 100"),
    "cpu_steal_mean": ("simulated", "k × cpu_util_mean² / 100"),
    "cpu_ready_ms": ("simulated", "k × 40 × (cpu_util_mean / 100)²"),
    "io_wait_pct": ("simulated", "k × disk latency p95 / 2"),
    "llc_miss_rate": ("simulated", "k × (1 + cpu_util_mean / 100)"),
    "context_switch_rate": ("simulated", "k × 10 × (0.5 + cpu_util_mean / 100)"),
    "mem_swap_rate": ("simulated", "k × max(0, mem_util_p95 − 85)²"),
    "disk_queue_depth": ("simulated", "k × (1 + 3 × disk latency p95 / 10)"),
    "disk_throughput_util": ("simulated", "k × cpu_util_mean / 2"),
    "net_drop_rate": ("simulated", "k × net_util_mean / 50"),
    "net_latency_p95_ms": ("simulated", "k × 0.2 × (1 + net_util_mean / 100)"),
    "net_err_trend": ("simulated", "network_error_rate_mean_5m × throughput_change_rate_15m"),
}


def derive_features(mapped: dict[str, float], store: Mapping[str, float], host: Mapping[str, Any], seed: int) -> dict[str, float]:
    """Fill placement features the feature store lacks (see FEATURE_DERIVATIONS); measured ones win."""
    out = dict(mapped)
    k = float(_rng(seed, str(host["id"]) + "/features").uniform(0.6, 1.4))

    def g(name: str) -> float | None:
        v = store.get(name)
        return None if v is None or not np.isfinite(v) else float(v)

    def put(name: str, value: float | None) -> None:
        if name not in out and value is not None and np.isfinite(value):
            out[name] = float(value)

    lo, hi = g("memory_pressure_min_5m"), g("memory_pressure_max_5m")
    put("mem_util_mean", None if lo is None or hi is None else 50.0 * (lo + hi))
    put("mem_util_p95", None if hi is None else 100.0 * hi)
    put("response_time_p95_ms", g("response_time_p99_5m"))
    t = g("temperature_max_5m")
    put("temp_mean_c", None if t is None else t - 3.0)
    lat = g("disk_io_latency_p95_5m")
    put("disk_latency_mean_ms", None if lat is None else lat / 2.5)
    put("disk_latency_p99_ms", None if lat is None else lat * 2.0)
    thr = g("throughput_mean_5m")
    net = None if thr is None else float(np.clip(100.0 * thr / (float(host["nic_gbps"]) * 1000.0), 0, 100))
    put("net_util_mean", net)
    put("throughput_rps", None if thr is None else thr * 1000.0 / 512.0)
    cpu, p95 = out.get("cpu_util_mean"), out.get("cpu_util_p95")
    put("net_util_p95", None if net is None or cpu is None or p95 is None else min(100.0, net * p95 / max(cpu, 1e-3)))
    ch = g("throughput_change_rate_15m")
    put("cpu_util_trend", None if cpu is None or ch is None else cpu * ch * 4.0)
    err = g("network_error_rate_mean_5m")
    put("net_err_trend", None if err is None or ch is None else err * ch)
    if cpu is not None:
        load = cpu / 100.0
        gpus = float(host.get("gpus") or 0)
        put("gpu_util_mean", 100.0 * float(host.get("gpu_alloc", 0)) / gpus * load if gpus else 0.0)
        cap = float(host.get("disk_iops_cap") or 0)
        put("disk_iops_util", min(100.0, 100.0 * float(host.get("iops_alloc", 0)) / cap * load) if cap else None)
        put("cpu_steal_mean", k * cpu * load)
        put("cpu_ready_ms", k * 40.0 * load ** 2)
        put("llc_miss_rate", k * (1.0 + load))
        put("context_switch_rate", k * 10.0 * (0.5 + load))
        put("disk_throughput_util", min(100.0, k * cpu / 2.0))
    if lat is not None:
        put("io_wait_pct", min(60.0, k * lat / 2.0))
        put("disk_queue_depth", k * (1.0 + 3.0 * lat / 10.0))
    mp = out.get("mem_util_p95")
    put("mem_swap_rate", None if mp is None else k * max(0.0, mp - 85.0) ** 2)
    nu = out.get("net_util_mean")
    if nu is not None:
        put("net_drop_rate", k * nu / 50.0)
        put("net_latency_p95_ms", k * 0.2 * (1.0 + nu / 100.0))
    return out


@dataclass(frozen=True)
class FleetSnapshot:
    """The inventory plus the per-VM records that plans need (disk, GPUs per VM)."""

    inventory: Inventory
    vms: dict[str, VMRecord]
    hosts: dict[str, dict[str, Any]]   # host id -> simulator host fields
    failure: dict[str, float]          # host id -> predicted failure probability (only hosts with a prediction)
    model_version: str | None = None


def vm_records(inventory: Mapping[str, Any]) -> dict[str, VMRecord]:
    """VMs of a simulator ``inventory()`` answer (``{"hosts": [...], "vms": [...]}``)."""
    return {str(v["vm_id"]): VMRecord(str(v["vm_id"]), str(v["host_id"]), str(v["tenant"]), float(v["vcpus"]),
                                      float(v["memory_gb"]), float(v.get("disk_gb", 0.0)), float(v.get("gpus", 0.0)))
            for v in inventory["vms"]}


def build_fleet_snapshot(inventory: Mapping[str, Any], vectors: Mapping[str, Mapping[str, Any] | None],
                         failure: Mapping[str, float], now: float, seed: int = 7,
                         vms: Mapping[str, VMRecord] | None = None, model_version: str | None = None,
                         cordoned: Iterable[str] = ()) -> FleetSnapshot:
    """Inventory from simulator hosts/VMs, feature-store vectors and failure probabilities.

    ``vectors`` maps target id -> the feature store's answer (``{"features": {...},
    "as_of": ts}``) or None; ``failure`` maps host id -> probability; ``vms`` overrides
    the VM placement (the control plane's current view) when given; ``cordoned``
    hosts (drained by an applied evacuation) take no new VMs.
    """
    cordoned = set(cordoned)
    hosts = [dict(h) for h in inventory["hosts"]]
    vm_map = dict(vms) if vms is not None else vm_records(inventory)
    zone_names = list(dict.fromkeys(h["zone"] for h in hosts))
    zones = [zone_record(z, i, seed) for i, z in enumerate(sorted(zone_names))]
    country = {z["name"]: z["country"] for z in zones}
    racks = [{"name": r, "zone": z} for r, z in dict.fromkeys((h["rack"], h["zone"]) for h in hosts)]

    by_host: dict[str, list[VMRecord]] = {}
    for v in vm_map.values():
        by_host.setdefault(v.host_id, []).append(v)
    tenants_on = {h: {v.tenant for v in vs} for h, vs in by_host.items()}
    nodes = []
    for h in hosts:
        rec = host_record(h, country[h["zone"]], seed, now)
        rec["cordoned"] = rec["id"] in cordoned
        vs = by_host.get(rec["id"], [])
        rec.update(cpu_alloc=sum(v.vcpus for v in vs), mem_alloc=sum(v.memory_gb for v in vs),
                   disk_alloc=sum(v.disk_gb for v in vs), gpu_alloc=sum(v.gpus for v in vs),
                   net_alloc_gbps=sum(v.net_gbps for v in vs), iops_alloc=sum(v.iops for v in vs), vm_count=float(len(vs)))
        p = failure.get(rec["id"])
        rec["failure_risk"] = float(p) if p is not None else None
        # a host whose VMs all belong to one tenant is (deterministically, 1 in 4) dedicated to it
        ts = tenants_on.get(rec["id"], set())
        if len(ts) == 1 and _rng(seed, rec["id"] + "/dedicated").random() < 0.25:
            rec["dedicated_tenant"] = next(iter(ts))
        nodes.append(rec)

    features: dict[str, dict[str, float]] = {}
    for h in nodes:
        vec = vectors.get(h["id"])
        if vec and vec.get("features"):
            age = max(0.0, now - float(vec["as_of"])) if vec.get("as_of") is not None else None
            store = {k: float(v) for k, v in vec["features"].items() if v is not None}
            features[h["id"]] = derive_features(features_from_store(store, age), store, h, seed)
    vm_rows = []
    for v in vm_map.values():
        vec = vectors.get(v.vm_id)
        util = (vec or {}).get("features", {}).get("cpu_utilization_mean_5m") if vec else None
        vm_rows.append({"id": v.vm_id, "node": v.host_id, "tenant": v.tenant, "cpu": v.vcpus, "mem_gb": v.memory_gb,
                        "cpu_util": None if util is None else 100.0 * float(util)})
    # rack power and inlet temperature follow the hosts in the rack (simulated, from load)
    draw: dict[str, float] = {}
    for h in nodes:
        load = features.get(h["id"], {}).get("cpu_util_mean", 50.0)
        draw[h["rack"]] = draw.get(h["rack"], 0.0) + (h["power_idle_w"] + (h["power_max_w"] - h["power_idle_w"]) * load / 100) / 1000
    for r in racks:
        rng = _rng(seed, r["name"])
        r.update(power_draw_kw=draw.get(r["name"], 0.0), power_cap_kw=max(draw.get(r["name"], 0.0) * rng.uniform(1.2, 1.8), 5.0),
                 tor_uplink_util=rng.uniform(5, 85), inlet_temp_c=rng.uniform(18, 30))
    inv = inventory_from_records(nodes, zones, racks, vm_rows, features, now)
    return FleetSnapshot(inv, vm_map, {h["host_id"]: h for h in hosts}, {k: float(v) for k, v in failure.items()},
                         model_version)


def failure_probabilities(snapshot: Mapping[str, Any] | None, alarmed_only: bool = False) -> dict[str, float]:
    """Host -> probability from the failure monitor's snapshot ({target: dict or JSON bytes}). `alarmed_only`
    (the label-free fallback, whose risk is uniform on healthy hosts) keeps only hosts whose score alarmed
    (severity above low), so placement does not treat half a healthy fleet as risky."""
    import json

    out: dict[str, float] = {}
    for target, raw in (snapshot or {}).items():
        rec = json.loads(raw) if isinstance(raw, (bytes, str)) else raw
        if alarmed_only and rec.get("severity", "low") == "low":
            continue
        if rec.get("target_type", "host") == "host" and rec.get("failure_probability") is not None:
            out[str(target)] = float(rec["failure_probability"])
    return out

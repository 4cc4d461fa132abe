"""Column schemas of the placement inventory: which tables and columns exist, their units and defaults.

Kept apart from the ``Inventory`` class so factor calculators, the fleet adapter and the
synthetic fleet can name columns without the state model's code.
"""
from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np

__all__ = ["GPU_MODELS", "DISK_TYPES", "CERTIFICATIONS", "ISOLATION_LEVELS", "NODE_COLUMNS", "FEATURE_COLUMNS", "FEATURE_STORE_MAP", "ZONE_COLUMNS", "RACK_COLUMNS", "VM_COLUMNS", "TABLES", "features_from_store", "certification_mask"]


GPU_MODELS: tuple[str, ...] = ("none", "T4", "L4", "A10", "A100", "H100")
DISK_TYPES: tuple[str, ...] = ("hdd", "ssd", "nvme")
CERTIFICATIONS: tuple[str, ...] = ("pci-dss", "hipaa", "soc2", "iso27001", "gdpr", "fedramp")
ISOLATION_LEVELS: tuple[str, ...] = ("shared", "dedicated-core", "dedicated-host", "confidential")

# column name -> (dtype kind, default used when a record omits it, unit/description)
NODE_COLUMNS: dict[str, tuple[str, float, str]] = {
    "zone": ("i", 0, "zone index"),
    "rack": ("i", 0, "rack index"),
    "cpu_cores": ("f", np.nan, "vCPU"),
    "cpu_ghz": ("f", np.nan, "GHz"),
    "cpu_generation": ("f", np.nan, "CPU generation (higher = newer)"),
    "mem_gb": ("f", np.nan, "GiB"),
    "mem_bw_gbps": ("f", np.nan, "GB/s memory bandwidth"),
    "numa_nodes": ("f", 1, "NUMA nodes"),
    "disk_gb": ("f", np.nan, "GiB"),
    "disk_type": ("i", 1, "index into DISK_TYPES"),
    "disk_iops_cap": ("f", np.nan, "IOPS"),
    "storage_net_gbps": ("f", np.nan, "Gbit/s storage network"),
    "storage_replicas": ("f", 1, "replicas of the storage backend"),
    "snapshot_free_frac": ("f", np.nan, "free fraction of the snapshot pool"),
    "gpus": ("f", 0, "GPUs"),
    "gpu_model": ("i", 0, "index into GPU_MODELS"),
    "gpu_mem_gb": ("f", 0, "GiB per GPU"),
    "nic_gbps": ("f", np.nan, "Gbit/s"),
    "vm_max": ("f", 64, "VM slots"),
    "power_idle_w": ("f", np.nan, "W"),
    "power_max_w": ("f", np.nan, "W"),
    "hw_age_years": ("f", np.nan, "years"),
    # allocation
    "cpu_alloc": ("f", 0, "vCPU allocated"),
    "mem_alloc": ("f", 0, "GiB allocated"),
    "disk_alloc": ("f", 0, "GiB allocated"),
    "gpu_alloc": ("f", 0, "GPUs allocated"),
    "net_alloc_gbps": ("f", 0, "Gbit/s reserved"),
    "iops_alloc": ("f", 0, "IOPS reserved"),
    "vm_count": ("f", 0, "VMs"),
    # reliability
    "failure_risk": ("f", np.nan, "predicted failure probability (24 h); NaN = no model"),
    "mtbf_hours": ("f", np.nan, "h"),
    "uptime_days": ("f", np.nan, "days"),
    "reboots_30d": ("f", 0, "count"),
    "incidents_90d": ("f", 0, "count"),
    "firmware_age_days": ("f", np.nan, "days"),
    "smart_realloc_sectors": ("f", 0, "sectors"),
    "disk_wear_pct": ("f", np.nan, "%"),
    "psu_redundant": ("b", 1, "redundant power supplies"),
    "raid_redundant": ("b", 1, "redundant local storage"),
    "failed_migrations_30d": ("f", 0, "count"),
    # maintenance calendar
    "maint_start": ("f", np.nan, "epoch s of next window; NaN = none"),
    "maint_end": ("f", np.nan, "epoch s"),
    "last_maint_ts": ("f", np.nan, "epoch s"),
    "cordoned": ("b", 0, "unschedulable"),
    # security posture
    "vuln_critical": ("f", 0, "open critical CVEs"),
    "vuln_high": ("f", 0, "open high CVEs"),
    "vuln_medium": ("f", 0, "open medium CVEs"),
    "isolation_level": ("i", 0, "index into ISOLATION_LEVELS"),
    "encryption_at_rest": ("b", 0, "disk encryption"),
    "memory_encryption": ("b", 0, "SEV/TDX memory encryption"),
    "secure_boot": ("b", 0, "secure boot"),
    "tpm": ("b", 0, "TPM present"),
    "patch_age_days": ("f", np.nan, "days since last patch"),
    "security_level": ("i", 0, "0..5 posture level"),
    "open_ports": ("f", 0, "listening ports"),
    "last_scan_age_days": ("f", np.nan, "days"),
    "security_alerts_7d": ("f", 0, "count"),
    # compliance
    "certifications": ("i", 0, "bitmask over CERTIFICATIONS"),
    "audit_age_days": ("f", np.nan, "days since last audit"),
    "max_classification": ("i", 0, "highest data classification allowed (0..4)"),
    "policy_violations_30d": ("f", 0, "count"),
    # cost
    "price_vcpu_hour": ("f", np.nan, "USD per vCPU-hour"),
    "price_gb_hour": ("f", np.nan, "USD per GiB-hour"),
    "price_gpu_hour": ("f", 0, "USD per GPU-hour"),
    "license_core_hour": ("f", 0, "USD per vCPU-hour licence"),
    "spot": ("b", 0, "spot / preemptible capacity"),
    "spot_discount": ("f", 0, "fraction off on-demand"),
    "spot_interruption_prob": ("f", 0, "interruption probability per hour"),
    "committed_use": ("b", 0, "node is in committed-use (prepaid) capacity"),
    # tenancy
    "dedicated_tenant": ("i", -1, "tenant index the node is dedicated to; -1 = shared"),
}

FEATURE_COLUMNS: dict[str, str] = {
    "cpu_util_mean": "%", "cpu_util_p95": "%", "cpu_util_std": "%", "cpu_util_trend": "%/h",
    "cpu_steal_mean": "%", "cpu_ready_ms": "ms", "io_wait_pct": "%", "llc_miss_rate": "misses/kinstr",
    "context_switch_rate": "k/s", "load_spike_count": "spikes/h",
    "mem_util_mean": "%", "mem_util_p95": "%", "mem_util_trend": "%/h", "mem_swap_rate": "pages/s",
    "disk_latency_mean_ms": "ms", "disk_latency_p95_ms": "ms", "disk_latency_p99_ms": "ms",
    "disk_latency_trend": "ms/h", "disk_iops_util": "%", "disk_read_error_rate": "errors/h",
    "disk_queue_depth": "requests", "disk_throughput_util": "%",
    "net_util_mean": "%", "net_util_p95": "%", "net_err_rate": "errors/s", "net_err_trend": "errors/s/h",
    "net_drop_rate": "drops/s", "net_latency_p95_ms": "ms",
    "temp_mean_c": "°C", "temp_max_c": "°C", "temp_trend": "°C/h",
    "response_time_p95_ms": "ms", "throughput_rps": "req/s", "ecc_error_rate": "errors/h",
    "gpu_util_mean": "%", "auth_fail_rate": "failures/min",
    "feature_age_s": "s",
}

# placement feature <- (feature-store feature in configs/features.yaml, scale to our unit).
# Only exact equivalents are mapped; the rest stay NaN (scored as unknown, low confidence)
# until the feature store defines them.
FEATURE_STORE_MAP: dict[str, tuple[str, float]] = {
    "cpu_util_mean": ("cpu_utilization_mean_5m", 100.0),      # fraction -> %
    "cpu_util_p95": ("cpu_utilization_p95_15m", 100.0),
    "cpu_util_std": ("cpu_utilization_stddev_15m", 100.0),
    "load_spike_count": ("cpu_spike_count_15m", 4.0),         # per 15 min -> per hour
    "mem_util_trend": ("memory_pressure_trend_1h", 100.0),     # fraction/h -> %/h
    "disk_latency_p95_ms": ("disk_io_latency_p95_5m", 1.0),
    "disk_latency_trend": ("disk_io_latency_trend_1h", 1.0),
    "disk_read_error_rate": ("disk_read_errors_rate_1h", 3600.0),  # per s -> per h
    "ecc_error_rate": ("ecc_errors_count_1h", 1.0),
    "temp_max_c": ("temperature_max_5m", 1.0),
    "temp_trend": ("temperature_trend_30m", 1.0),              # already per hour
    "net_err_rate": ("network_error_rate_mean_5m", 1.0),
    "auth_fail_rate": ("ssh_auth_failures_count_15m", 1.0 / 15.0),  # per 15 min -> per minute
}


def features_from_store(store: Mapping[str, float], age_s: float | None = None) -> dict[str, float]:
    """Translate one host's feature-store vector into placement features (units above)."""
    out = {ours: float(store[theirs]) * scale for ours, (theirs, scale) in FEATURE_STORE_MAP.items()
           if theirs in store and store[theirs] is not None}
    if age_s is not None:
        out["feature_age_s"] = float(age_s)
    return out


ZONE_COLUMNS: dict[str, tuple[str, float, str]] = {
    "region": ("i", 0, "region index"),
    "lat": ("f", np.nan, "degrees"),
    "lon": ("f", np.nan, "degrees"),
    "energy_price_kwh": ("f", np.nan, "USD/kWh"),
    "carbon_g_kwh": ("f", np.nan, "gCO2/kWh"),
    "renewable_frac": ("f", np.nan, "fraction"),
    "pue": ("f", 1.5, "power usage effectiveness"),
    "disaster_risk": ("f", np.nan, "annual probability of a site-wide outage"),
    "tier": ("f", 3, "Uptime Institute tier"),
    "grid_reliability": ("f", np.nan, "fraction of hours with grid power"),
    "egress_price_gb": ("f", np.nan, "USD/GB to the internet"),
    "inter_zone_price_gb": ("f", np.nan, "USD/GB between zones"),
    "storage_price_gb_month": ("f", np.nan, "USD/GB-month"),
    "access_latency_ms": ("f", np.nan, "last-mile latency to users"),
}

RACK_COLUMNS: dict[str, tuple[str, float, str]] = {
    "zone": ("i", 0, "zone index"),
    "power_cap_kw": ("f", np.nan, "kW"),
    "power_draw_kw": ("f", np.nan, "kW"),
    "tor_uplink_util": ("f", np.nan, "%"),
    "inlet_temp_c": ("f", np.nan, "°C"),
}

VM_COLUMNS: dict[str, tuple[str, float, str]] = {
    "node": ("i", 0, "node index"),
    "tenant": ("i", 0, "tenant index"),
    "cpu": ("f", 1, "vCPU"),
    "mem_gb": ("f", 1, "GiB"),
    "cpu_util": ("f", np.nan, "% of the VM's vCPUs"),
}

TABLES = ("node", "feature", "zone", "rack", "vm")


def certification_mask(names: Iterable[str]) -> int:
    """Bitmask of certification names; ValueError names the unknown one."""
    mask = 0
    for name in names:
        key = name.lower()
        if key not in CERTIFICATIONS:
            raise ValueError(f"unknown certification {name!r}; known: {', '.join(CERTIFICATIONS)}")
        mask |= 1 << CERTIFICATIONS.index(key)
    return mask

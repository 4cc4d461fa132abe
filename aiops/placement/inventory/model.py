"""Fleet state model for placement: a column store of nodes, zones, racks and VMs.

Placement scores thousands of nodes per request, so the state is kept as one numpy
array per attribute (struct of arrays) rather than one object per node: every factor
and constraint is then a handful of vectorised operations. Attributes are addressed
as ``"<table>.<column>"`` (``node.cpu_cores``, ``feature.cpu_util_p95``,
``zone.energy_price_kwh``) so factor calculators can declare exactly which state they
read, and a test can perturb those inputs and check the factor moves.

Tables
------
* ``node``    host specs, allocation, reliability, maintenance, security, cost, tenancy.
* ``feature`` feature-store style windowed utilisation features per node
  (mean / p95 / trend of cpu, memory, disk latency, network errors, temperature ...).
  Missing values are NaN: scoring imputes them and marks the factor uncertain.
* ``zone``    site attributes: region, country (data residency), coordinates, energy
  price, carbon intensity, PUE, disaster risk, egress/storage prices.
* ``rack``    rack power and top-of-rack switch state.
* ``vm``      placed VMs: node, tenant, size, utilisation (topology and noisy neighbours).

``synthetic_inventory`` builds a seeded, internally consistent fleet for tests and
benchmarks (utilisation follows allocation, temperature follows load, ...).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import numpy as np

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


class InventoryError(ValueError):
    """Inventory arrays are inconsistent (lengths, index ranges, unknown columns)."""


@dataclass(frozen=True)
class Inventory:
    """Immutable snapshot of the fleet; see module docstring for the tables."""

    node_ids: np.ndarray
    node: dict[str, np.ndarray]
    feature: dict[str, np.ndarray]
    zone_names: np.ndarray
    region_names: np.ndarray
    zone_country: np.ndarray
    zone: dict[str, np.ndarray]
    rack: dict[str, np.ndarray]
    vm_ids: np.ndarray
    vm: dict[str, np.ndarray]
    tenant_names: np.ndarray
    now: float = 1_767_225_600.0
    version: int = 0
    _index: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    _derived: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.validate()
        if not self._index:
            self._index.update({str(n): i for i, n in enumerate(self.node_ids.tolist())})

    # ---- sizes ---------------------------------------------------------------
    @property
    def n_nodes(self) -> int:
        return int(self.node_ids.shape[0])

    @property
    def n_zones(self) -> int:
        return int(self.zone_names.shape[0])

    @property
    def n_racks(self) -> int:
        return int(next(iter(self.rack.values())).shape[0]) if self.rack else 0

    @property
    def n_regions(self) -> int:
        return int(self.region_names.shape[0])

    def derived(self, key: str, fn: Callable[[], Any]) -> Any:
        """Request-independent arrays derived from this snapshot (fleet sums, per-node
        tenant counts), computed once per snapshot; a new snapshot starts empty."""
        if key not in self._derived:
            self._derived[key] = fn()
        return self._derived[key]

    def node_index(self, node_id: str) -> int:
        """Row of a node id; KeyError when unknown."""
        return self._index[node_id]

    def tenant_index(self, tenant: str) -> int:
        """Index of a tenant name, -1 when the tenant has nothing placed yet."""
        pos = self.derived("tenant_pos", lambda: {str(t): i for i, t in enumerate(self.tenant_names.tolist())})
        return pos.get(tenant, -1)

    # ---- addressed access ----------------------------------------------------
    def field(self, address: str) -> np.ndarray:
        """Array behind ``"<table>.<column>"``."""
        table, _, col = address.partition(".")
        if table not in TABLES:
            raise InventoryError(f"unknown table in {address!r}; tables: {TABLES}")
        cols = getattr(self, table)
        if col not in cols:
            raise InventoryError(f"unknown column {address!r}")
        return cols[col]

    def with_field(self, address: str, values: np.ndarray) -> "Inventory":
        """Copy with one column replaced (used by what-if scoring and by tests)."""
        table, _, col = address.partition(".")
        cols = dict(getattr(self, table))
        if col not in cols:
            raise InventoryError(f"unknown column {address!r}")
        cols[col] = np.asarray(values)
        kwargs = {k: getattr(self, k) for k in self.__dataclass_fields__ if not k.startswith("_")}
        kwargs[table] = cols
        kwargs["version"] = self.version + 1
        return Inventory(**kwargs)

    def addresses(self) -> list[str]:
        return [f"{t}.{c}" for t in TABLES for c in getattr(self, t)]

    # ---- checks --------------------------------------------------------------
    def validate(self) -> None:
        n = self.node_ids.shape[0]
        _check_table("node", self.node, n, NODE_COLUMNS)
        _check_table("feature", self.feature, n, {k: ("f", np.nan, u) for k, u in FEATURE_COLUMNS.items()})
        nz = self.zone_names.shape[0]
        _check_table("zone", self.zone, nz, ZONE_COLUMNS)
        if self.zone_country.shape[0] != nz:
            raise InventoryError("zone_country must have one entry per zone")
        nr = next(iter(self.rack.values())).shape[0] if self.rack else 0
        _check_table("rack", self.rack, nr, RACK_COLUMNS)
        _check_table("vm", self.vm, self.vm_ids.shape[0], VM_COLUMNS)
        _check_range("node.zone", self.node["zone"], nz)
        _check_range("node.rack", self.node["rack"], nr)
        _check_range("rack.zone", self.rack["zone"], nz)
        _check_range("zone.region", self.zone["region"], self.region_names.shape[0])
        _check_range("vm.node", self.vm["node"], n)
        _check_range("vm.tenant", self.vm["tenant"], self.tenant_names.shape[0])
        _check_range("node.gpu_model", self.node["gpu_model"], len(GPU_MODELS))
        _check_range("node.disk_type", self.node["disk_type"], len(DISK_TYPES))
        _check_range("node.dedicated_tenant", self.node["dedicated_tenant"], self.tenant_names.shape[0])
        for col in ("cpu_cores", "mem_gb", "disk_gb", "nic_gbps"):
            v = self.node[col]
            if np.any(~np.isfinite(v)) or np.any(v <= 0):
                raise InventoryError(f"node.{col} must be finite and > 0 for every node")


def _check_table(name: str, cols: Mapping[str, np.ndarray], n: int, schema: Mapping[str, Any]) -> None:
    missing = set(schema) - set(cols)
    if missing:
        raise InventoryError(f"{name} table lacks columns: {sorted(missing)}")
    extra = set(cols) - set(schema)
    if extra:
        raise InventoryError(f"{name} table has unknown columns: {sorted(extra)}")
    for col, arr in cols.items():
        if arr.shape != (n,):
            raise InventoryError(f"{name}.{col} has shape {arr.shape}, expected ({n},)")


def _check_range(address: str, idx: np.ndarray, upper: int) -> None:
    if idx.size and (idx.min() < (-1 if address == "node.dedicated_tenant" else 0) or idx.max() >= upper):
        raise InventoryError(f"{address} holds an index outside [0, {upper})")


def _columns(records: list[Mapping[str, Any]], schema: Mapping[str, tuple[str, float, str]]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for col, (kind, default, _) in schema.items():
        vals = [r.get(col, default) for r in records]
        vals = [default if v is None else v for v in vals]
        dtype = {"i": np.int64, "f": np.float64, "b": bool}[kind]
        out[col] = np.asarray(vals, dtype=dtype) if vals else np.zeros(0, dtype=dtype)
    return out


def inventory_from_records(
    nodes: list[Mapping[str, Any]],
    zones: list[Mapping[str, Any]],
    racks: list[Mapping[str, Any]],
    vms: list[Mapping[str, Any]],
    features: Mapping[str, Mapping[str, float]],
    now: float,
) -> Inventory:
    """Build an inventory from plain records (control plane + feature store).

    ``nodes`` carry ``id`` plus NODE_COLUMNS, with ``zone``/``rack`` given by name;
    ``zones`` carry ``name``, ``region`` (name), ``country`` plus ZONE_COLUMNS;
    ``racks`` carry ``name`` and ``zone``; ``vms`` carry ``id``, ``node`` (id),
    ``tenant`` (name); ``features`` maps node id -> {feature name: value}. Absent
    features become NaN so scoring treats them as unknown rather than zero.
    """
    zone_names = [z["name"] for z in zones]
    region_names = sorted({z["region"] for z in zones})
    zpos = {z: i for i, z in enumerate(zone_names)}
    zrecs = [{**z, "region": region_names.index(z["region"])} for z in zones]
    rack_names = [r["name"] for r in racks]
    rpos = {r: i for i, r in enumerate(rack_names)}
    rrecs = [{**r, "zone": zpos[r["zone"]]} for r in racks]
    node_ids = [n["id"] for n in nodes]
    npos = {n: i for i, n in enumerate(node_ids)}
    tenants = sorted({v["tenant"] for v in vms} | {n["dedicated_tenant"] for n in nodes if n.get("dedicated_tenant") not in (None, -1)})
    tpos = {t: i for i, t in enumerate(tenants)}
    nrecs = []
    for n in nodes:
        rec = dict(n)
        rec["zone"] = zpos[n["zone"]]
        rec["rack"] = rpos[n["rack"]]
        if "gpu_model" in n and isinstance(n["gpu_model"], str):
            rec["gpu_model"] = GPU_MODELS.index(n["gpu_model"])
        if "disk_type" in n and isinstance(n["disk_type"], str):
            rec["disk_type"] = DISK_TYPES.index(n["disk_type"])
        if isinstance(n.get("certifications"), (list, tuple)):
            rec["certifications"] = certification_mask(n["certifications"])
        dt = n.get("dedicated_tenant")
        rec["dedicated_tenant"] = tpos[dt] if dt not in (None, -1) else -1
        nrecs.append(rec)
    vrecs = [{**v, "node": npos[v["node"]], "tenant": tpos[v["tenant"]]} for v in vms]
    feat = {
        name: np.array([float(features.get(nid, {}).get(name, np.nan)) for nid in node_ids])
        for name in FEATURE_COLUMNS
    }
    return Inventory(
        node_ids=np.asarray(node_ids, dtype=object),
        node=_columns(nrecs, NODE_COLUMNS),
        feature=feat,
        zone_names=np.asarray(zone_names, dtype=object),
        region_names=np.asarray(region_names, dtype=object),
        zone_country=np.asarray([z["country"] for z in zones], dtype=object),
        zone=_columns(zrecs, ZONE_COLUMNS),
        rack=_columns(rrecs, RACK_COLUMNS),
        vm_ids=np.asarray([v["id"] for v in vms], dtype=object),
        vm=_columns(vrecs, VM_COLUMNS),
        tenant_names=np.asarray(tenants, dtype=object),
        now=float(now),
    )


def certification_mask(names: Iterable[str]) -> int:
    """Bitmask of certification names; ValueError names the unknown one."""
    mask = 0
    for name in names:
        key = name.lower()
        if key not in CERTIFICATIONS:
            raise ValueError(f"unknown certification {name!r}; known: {', '.join(CERTIFICATIONS)}")
        mask |= 1 << CERTIFICATIONS.index(key)
    return mask


# ---------------------------------------------------------------------------
# synthetic fleet
# ---------------------------------------------------------------------------
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


def synthetic_inventory(n_nodes: int, seed: int = 0, n_zones: int | None = None,
                        racks_per_zone: int | None = None, n_tenants: int | None = None,
                        now: float = 1_767_225_600.0) -> Inventory:
    """Seeded, internally consistent fleet for tests and the recommendation benchmark.

    Allocation drives utilisation, utilisation drives temperature and latency, old
    hardware fails more, spot nodes are cheaper but interruptible, some nodes have
    no failure prediction yet (NaN) and some features are missing, so every code
    path of the factor engine is exercised.
    """
    if n_nodes < 1:
        raise ValueError("n_nodes must be >= 1")
    rng = np.random.default_rng(seed)
    sites = _SITES[: (n_zones or len(_SITES))]
    nz = len(sites)
    rpz = racks_per_zone or max(2, min(64, n_nodes // (nz * 20) or 2))
    region_names = sorted({s[1] for s in sites})
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
    n_racks = nz * rpz
    rack_zone = np.repeat(np.arange(nz), rpz)
    node_zone = rng.integers(0, nz, n_nodes)
    node_rack = node_zone * rpz + rng.integers(0, rpz, n_nodes)

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

    n_tenants = n_tenants or max(5, n_nodes // 20)
    tenant_names = np.array([f"tenant-{i:04d}" for i in range(n_tenants)], dtype=object)
    dedicated = np.full(n_nodes, -1)
    ded = rng.random(n_nodes) < 0.03
    dedicated[ded] = rng.integers(0, n_tenants, ded.sum())

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
    zone_country = np.array([s[2] for s in sites], dtype=object)
    return Inventory(
        node_ids=np.array([f"node-{i:05d}" for i in range(n_nodes)], dtype=object),
        node=node, feature=feature,
        zone_names=np.array([s[0] for s in sites], dtype=object),
        region_names=np.array(region_names, dtype=object), zone_country=zone_country,
        zone=zone, rack=rack,
        vm_ids=np.array([f"vm-{i:06d}" for i in range(vm_node.size)], dtype=object),
        vm=vm, tenant_names=tenant_names, now=now,
    )


def haversine_km(lat1: np.ndarray | float, lon1: np.ndarray | float,
                 lat2: np.ndarray | float, lon2: np.ndarray | float) -> np.ndarray:
    """Great-circle distance; network latency between sites grows with it."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dl = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def zone_latency_ms(inv: Inventory) -> np.ndarray:
    """Zone × zone round-trip latency: fibre at ~100 km per ms RTT plus a switching floor."""
    lat, lon = inv.zone["lat"], inv.zone["lon"]
    d = haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    return 0.3 + d / 100.0 + np.where(d > 0, 0.5, 0.0)

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

Column schemas live in ``schema``; ``synthetic`` builds a seeded, internally consistent fleet
for tests and benchmarks (utilisation follows allocation, temperature follows load, ...).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from aiops.placement.inventory.schema import GPU_MODELS, DISK_TYPES, NODE_COLUMNS, FEATURE_COLUMNS, ZONE_COLUMNS, RACK_COLUMNS, VM_COLUMNS, TABLES, certification_mask

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

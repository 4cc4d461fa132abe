"""Fleet state for placement: the column-store inventory, the fleet adapter, the control plane, a synthetic fleet.

Light modules (numpy only), imported directly.
"""
from __future__ import annotations

from aiops.placement.inventory.schema import (GPU_MODELS, DISK_TYPES, CERTIFICATIONS, ISOLATION_LEVELS, NODE_COLUMNS, FEATURE_COLUMNS, FEATURE_STORE_MAP, features_from_store, ZONE_COLUMNS, RACK_COLUMNS, VM_COLUMNS, TABLES, certification_mask)
from aiops.placement.inventory.model import (InventoryError, Inventory, inventory_from_records, haversine_km, zone_latency_ms)
from aiops.placement.inventory.control_plane import (VM_NET_GBPS_PER_VCPU, VM_IOPS_PER_GB, VMRecord, ControlPlane, SimulatedControlPlane, apply_state)
from aiops.placement.inventory.fleet import (SIM_SITES, EU_COUNTRIES, GPU_SPECS, zone_record, host_record, FEATURE_DERIVATIONS, derive_features, FleetSnapshot, vm_records, build_fleet_snapshot, failure_probabilities)
from aiops.placement.inventory.synthetic import (synthetic_inventory)
from aiops.placement.inventory.cache import DEFAULT_REFRESH_S, CachedFleet

__all__ = ["GPU_MODELS", "DISK_TYPES", "CERTIFICATIONS", "ISOLATION_LEVELS", "NODE_COLUMNS", "FEATURE_COLUMNS", "FEATURE_STORE_MAP", "features_from_store", "ZONE_COLUMNS", "RACK_COLUMNS", "VM_COLUMNS", "TABLES", "certification_mask", "InventoryError", "Inventory", "inventory_from_records", "haversine_km", "zone_latency_ms", "VM_NET_GBPS_PER_VCPU", "VM_IOPS_PER_GB", "VMRecord", "ControlPlane", "SimulatedControlPlane", "apply_state", "SIM_SITES", "EU_COUNTRIES", "GPU_SPECS", "zone_record", "host_record", "FEATURE_DERIVATIONS", "derive_features", "FleetSnapshot", "vm_records", "build_fleet_snapshot", "failure_probabilities", "synthetic_inventory", "DEFAULT_REFRESH_S", "CachedFleet"]

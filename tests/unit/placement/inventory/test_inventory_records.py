"""The placement state model: synthetic fleets are seeded and consistent; records build
a valid inventory; inconsistent arrays are refused."""
from __future__ import annotations

import numpy as np
import pytest

from aiops.placement.inventory import (FEATURE_COLUMNS, FEATURE_STORE_MAP, InventoryError, features_from_store,
                                       inventory_from_records, synthetic_inventory)


def test_synthetic_fleet_is_seeded_and_consistent() -> None:
    a = synthetic_inventory(200, seed=9)
    b = synthetic_inventory(200, seed=9)
    c = synthetic_inventory(200, seed=10)
    np.testing.assert_array_equal(a.node["cpu_alloc"], b.node["cpu_alloc"])
    assert not np.array_equal(a.node["cpu_alloc"], c.node["cpu_alloc"])
    n = a.node
    assert np.all(n["cpu_alloc"] <= n["cpu_cores"]) and np.all(n["mem_alloc"] <= n["mem_gb"])
    assert np.all(n["gpu_alloc"] <= n["gpus"])
    # VMs sit on their nodes and add up to the allocation count
    np.testing.assert_array_equal(np.bincount(a.vm["node"], minlength=a.n_nodes), n["vm_count"])
    # racks belong to the node's zone; utilisation follows allocation
    np.testing.assert_array_equal(a.rack["zone"][n["rack"]], n["zone"])
    assert np.corrcoef(n["cpu_alloc"] / n["cpu_cores"], a.feature["cpu_util_mean"])[0, 1] > 0.5
    assert np.isnan(n["failure_risk"]).any() and np.isfinite(n["failure_risk"]).any()


def _records():
    zones = [{"name": "z1", "region": "r1", "country": "DE", "lat": 50.0, "lon": 8.0, "energy_price_kwh": 0.2,
              "carbon_g_kwh": 300, "renewable_frac": 0.4, "disaster_risk": 0.01, "grid_reliability": 0.999,
              "egress_price_gb": 0.09, "inter_zone_price_gb": 0.01, "storage_price_gb_month": 0.05,
              "access_latency_ms": 9}]
    racks = [{"name": "r1a", "zone": "z1", "power_cap_kw": 20, "power_draw_kw": 8, "tor_uplink_util": 30,
              "inlet_temp_c": 22}]
    nodes = [{"id": f"h{i}", "zone": "z1", "rack": "r1a", "cpu_cores": 64, "cpu_ghz": 2.8, "cpu_generation": 3,
              "mem_gb": 512, "mem_bw_gbps": 200, "disk_gb": 3840, "disk_type": "nvme", "disk_iops_cap": 4e5,
              "storage_net_gbps": 25, "snapshot_free_frac": 0.5, "nic_gbps": 25, "power_idle_w": 150,
              "power_max_w": 450, "hw_age_years": 2, "cpu_alloc": 8 * i, "certifications": ["soc2", "gdpr"],
              "price_vcpu_hour": 0.03, "price_gb_hour": 0.004, "gpu_model": "none"} for i in range(3)]
    vms = [{"id": "vm-a", "node": "h1", "tenant": "acme", "cpu": 4, "mem_gb": 16, "cpu_util": 40}]
    features = {"h0": {"cpu_util_p95": 20.0}, "h1": {"cpu_util_p95": 70.0}}
    return nodes, zones, racks, vms, features


def test_inventory_from_records_marks_missing_features_unknown() -> None:
    nodes, zones, racks, vms, features = _records()
    inv = inventory_from_records(nodes, zones, racks, vms, features, now=1.7e9)
    assert inv.n_nodes == 3 and inv.node_index("h2") == 2
    assert inv.feature["cpu_util_p95"][1] == 70.0 and np.isnan(inv.feature["cpu_util_p95"][2])
    assert set(inv.feature) == set(FEATURE_COLUMNS)
    assert inv.node["certifications"][0] == 0b10100   # soc2 | gdpr
    assert inv.tenant_index("acme") == 0 and inv.vm["node"][0] == 1


def test_inconsistent_inventory_is_refused() -> None:
    inv = synthetic_inventory(50, seed=1)
    with pytest.raises(InventoryError, match="shape"):
        inv.with_field("node.cpu_cores", np.ones(49))
    with pytest.raises(InventoryError, match="outside"):
        inv.with_field("vm.node", np.full(inv.vm_ids.size, 10_000))
    with pytest.raises(InventoryError, match="finite"):
        inv.with_field("node.mem_gb", np.zeros(50))
    with pytest.raises(InventoryError, match="unknown column"):
        inv.field("node.warp_drive")


def test_feature_store_vectors_map_to_placement_units() -> None:
    assert set(FEATURE_STORE_MAP) <= set(FEATURE_COLUMNS)
    got = features_from_store({"cpu_utilization_p95_15m": 0.42, "disk_read_errors_rate_1h": 0.001,
                               "ssh_auth_failures_count_15m": 30.0, "unrelated": 1.0}, age_s=12.0)
    assert got == pytest.approx({"cpu_util_p95": 42.0, "disk_read_error_rate": 3.6, "auth_fail_rate": 2.0,
                                 "feature_age_s": 12.0})

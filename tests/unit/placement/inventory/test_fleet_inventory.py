"""The simulator's fleet as a placement inventory: deterministic attributes, real inputs."""
from __future__ import annotations

import numpy as np

from aiops.placement.optimise.constraints import VMRequest
from aiops.placement.factors.catalog import FactorEngine, load_catalog
from aiops.placement.factors.registry import FactorContext
from aiops.placement.inventory import VMRecord, apply_state
from aiops.placement.inventory import (FEATURE_DERIVATIONS, build_fleet_snapshot, failure_probabilities, host_record,
                                             vm_records, zone_record)
from aiops.placement.inventory import CERTIFICATIONS
from tests.unit.placement.fleet_fixtures import control_plane, simulated, snapshot


def test_allocation_follows_vms_and_features_come_from_the_store():
    inv, vectors, now = simulated()
    snap = snapshot()
    node = snap.inventory.node
    for h in inv["hosts"]:
        i = snap.inventory.node_index(h["host_id"])
        vms = [v for v in inv["vms"] if v["host_id"] == h["host_id"]]
        assert node["cpu_alloc"][i] == sum(v["vcpus"] for v in vms)
        assert node["mem_alloc"][i] == sum(v["memory_gb"] for v in vms)
        assert node["vm_count"][i] == len(vms)
        assert node["cpu_cores"][i] == h["cores"] and node["disk_gb"][i] == h["disk_tb"] * 1000
        measured = vectors[h["host_id"]]["features"]["cpu_utilization_mean_5m"]
        assert snap.inventory.feature["cpu_util_mean"][i] == measured * 100
    assert snap.inventory.n_nodes == 16 and len(snap.vms) == len(inv["vms"])


def test_simulated_attributes_are_deterministic_per_name_and_plausible():
    h = {"host_id": "host-0003", "zone": "zone-a", "rack": "zone-a-r00", "cores": 64, "memory_gb": 512, "disk_tb": 8,
         "gpus": 4, "gpu_model": "A100", "nic_gbps": 100}
    a, b = host_record(h, "US", 7, 0.0), host_record(h, "US", 7, 0.0)
    assert a == b and host_record(h, "US", 8, 0.0) != a
    assert a["gpu_model"] == "A100" and a["price_gpu_hour"] == 4 * 2.5 and a["disk_type"] == "nvme"
    assert "gdpr" in host_record(h, "DE", 7, 0.0)["certifications"]
    assert "gdpr" not in a["certifications"] and set(a["certifications"]) <= set(CERTIFICATIONS)
    z = zone_record("zone-b", 1, 7)
    assert z["country"] == "IE" and z == zone_record("zone-b", 1, 7) and 0 < z["energy_price_kwh"] < 1
    # a host keeps its attributes whatever the fleet size (seeded by name, not position)
    small, big = snapshot(hosts=16), snapshot(hosts=24)
    for col in ("cpu_generation", "security_level", "price_vcpu_hour", "certifications"):
        i, j = small.inventory.node_index("host-0005"), big.inventory.node_index("host-0005")
        assert small.inventory.node[col][i] == big.inventory.node[col][j]


def test_every_factor_has_inputs_and_failure_predictions_reach_the_risk_factor():
    engine = FactorEngine(load_catalog())
    vm = VMRequest("tenant-001", 4, 16, disk_gb=50, user_lat=50.0, user_lon=8.0)

    def raw(snap):
        n = snap.inventory.n_nodes
        return engine.compute(FactorContext(snap.inventory, vm, 24.0), np.arange(n)).raw(np.arange(n))

    base = raw(snapshot())
    missing = [fid for fid, row in zip(engine.ids, base) if not np.isfinite(row).any()]
    assert not missing, f"factors without inputs: {missing}"
    assert set(FEATURE_DERIVATIONS) <= set(snapshot().inventory.feature)
    risk = {f"host-{i:04d}": 0.05 * i for i in range(16)}
    j = engine.ids.index("failure_risk")
    with_risk = raw(snapshot(failure=risk))
    assert np.nanstd(with_risk[j]) > 0 and not np.allclose(with_risk[j], base[j], equal_nan=True)


def test_failure_snapshot_parsing_keeps_hosts_only():
    import json
    snap = {"host-0001": json.dumps({"target_type": "host", "failure_probability": 0.8}).encode(),
            "vm-000001": json.dumps({"target_type": "vm", "failure_probability": 0.9}).encode(),
            "host-0002": {"target_type": "host", "failure_probability": None}}
    assert failure_probabilities(snap) == {"host-0001": 0.8}
    assert failure_probabilities(None) == {}


def test_control_plane_moves_show_in_the_next_inventory():
    cp = control_plane()
    vm = next(iter(cp.vms().values()))
    target = "host-0000" if vm.host_id != "host-0000" else "host-0001"
    before = snapshot(cp=cp).inventory
    cp.migrate(vm.vm_id, vm.host_id, target, "p1")
    after = snapshot(cp=cp).inventory
    assert after.node["cpu_alloc"][after.node_index(target)] == before.node["cpu_alloc"][before.node_index(target)] + vm.vcpus
    assert after.node["vm_count"][after.node_index(vm.host_id)] == before.node["vm_count"][before.node_index(vm.host_id)] - 1
    # the picklable state reproduces the same placement elsewhere (API replicas)
    base = vm_records(simulated()[0])
    cp.create(VMRecord("vm-new", target, "tenant-x", 2, 4, 10), "p2")
    cp.cordon("host-0002", "p3")
    assert apply_state(base, cp.state()) == cp.vms()
    assert snapshot(cp=cp).inventory.node["cordoned"][after.node_index("host-0002")]
    import pytest
    from aiops.placement.errors import ControlPlaneError
    with pytest.raises(ControlPlaneError):
        cp.migrate(vm.vm_id, vm.host_id, target, "p4")   # it is not on its old host any more
    assert build_fleet_snapshot(simulated()[0], {}, {}, 0.0).inventory.n_nodes == 16  # no features: NaN, not an error

"""Hard constraints: each rules out exactly the nodes it should, and is counted."""
from __future__ import annotations

import numpy as np
import pytest

from aiops.placement.optimise.constraints import (AffinityRule, InvalidPlacementRequest, PlacementConstraints,
                                         evaluate_constraints, nodes_to_score, sample_candidates)
from aiops.placement.inventory import CERTIFICATIONS, GPU_MODELS

from tests.unit.placement.recommend_fixtures import fleet, vm_request


def _eval(cons=PlacementConstraints(), horizon=24.0, **vm):
    inv = fleet()
    return inv, evaluate_constraints(inv, vm_request(inv, **vm), cons, horizon)


def test_capacity_constraints_match_free_capacity() -> None:
    inv, res = _eval(cpu=40.0, mem_gb=200.0)
    n = inv.node
    np.testing.assert_array_equal(res.failures["insufficient_cpu"], n["cpu_cores"] - n["cpu_alloc"] < 40)
    np.testing.assert_array_equal(res.failures["insufficient_memory"], n["mem_gb"] - n["mem_alloc"] < 200)
    assert res.rejections["insufficient_cpu"] == int((n["cpu_cores"] - n["cpu_alloc"] < 40).sum()) > 0
    fits = (n["cpu_cores"] - n["cpu_alloc"] >= 40) & (n["mem_gb"] - n["mem_alloc"] >= 200)
    assert not np.any(res.feasible & ~fits)


def test_gpu_count_and_model() -> None:
    inv, res = _eval(gpus=1.0, gpu_model="A100")
    n = inv.node
    ok = (n["gpus"] - n["gpu_alloc"] >= 1) & (n["gpu_model"] == GPU_MODELS.index("A100"))
    assert res.rejections["gpu_model_mismatch"] == int((n["gpu_model"] != GPU_MODELS.index("A100")).sum())
    assert np.all(~res.feasible | ok)
    with pytest.raises(InvalidPlacementRequest, match="gpu_model"):
        _eval(gpus=1.0, gpu_model="Voodoo2")


def test_tenant_isolation_dedicated_hosts_and_dedicated_tenancy() -> None:
    inv = fleet()
    vm = vm_request(inv)
    t = inv.tenant_index(vm.tenant)
    res = evaluate_constraints(inv, vm, PlacementConstraints(), 24.0)
    ded = inv.node["dedicated_tenant"]
    np.testing.assert_array_equal(res.failures["tenant_isolation"], (ded >= 0) & (ded != t))
    strict = evaluate_constraints(inv, vm, PlacementConstraints(dedicated_tenancy=True), 24.0)
    for i in np.flatnonzero(strict.feasible):
        on_node = inv.vm["tenant"][inv.vm["node"] == i]
        assert np.all(on_node == t)


def test_zone_residency_certification_security() -> None:
    inv = fleet()
    cons = PlacementConstraints(data_residency=("DE",), certifications=("soc2", "iso27001"), min_security_level=3)
    res = evaluate_constraints(inv, vm_request(inv), cons, 24.0)
    feas = np.flatnonzero(res.feasible)
    assert feas.size > 0
    assert set(inv.zone_country[inv.node["zone"][feas]]) == {"DE"}
    want = (1 << CERTIFICATIONS.index("soc2")) | (1 << CERTIFICATIONS.index("iso27001"))
    assert np.all(inv.node["certifications"][feas] & want == want)
    assert np.all(inv.node["security_level"][feas] >= 3)
    assert res.rejections["data_residency"] == int((inv.zone_country[inv.node["zone"]] != "DE").sum())
    with pytest.raises(InvalidPlacementRequest, match="certification"):
        evaluate_constraints(inv, vm_request(inv), PlacementConstraints(certifications=("iso9001",)), 24.0)
    with pytest.raises(InvalidPlacementRequest, match="zones"):
        evaluate_constraints(inv, vm_request(inv), PlacementConstraints(zones=("mars-1a",)), 24.0)


def test_maintenance_window_depends_on_horizon() -> None:
    inv = fleet()
    short = evaluate_constraints(inv, vm_request(inv), PlacementConstraints(), 1.0).rejections["maintenance_window"]
    long = evaluate_constraints(inv, vm_request(inv), PlacementConstraints(), 24.0 * 14).rejections["maintenance_window"]
    assert long > short
    off = evaluate_constraints(inv, vm_request(inv), PlacementConstraints(avoid_maintenance=False), 24.0 * 14)
    assert "maintenance_window" not in off.rejections


def test_affinity_and_anti_affinity() -> None:
    inv = fleet()
    a, b = inv.vm_ids[0], inv.vm_ids[-1]
    node_a, node_b = inv.vm["node"][0], inv.vm["node"][-1]
    aff = evaluate_constraints(inv, vm_request(inv), PlacementConstraints(affinity=(AffinityRule((a,), "rack"),)), 24.0)
    assert np.all(inv.node["rack"][aff.failures["affinity_rack"] == False] == inv.node["rack"][node_a])  # noqa: E712
    anti = evaluate_constraints(inv, vm_request(inv), PlacementConstraints(
        anti_affinity=(AffinityRule((a, b), "node"),)), 24.0)
    assert anti.failures["anti_affinity_node"][node_a] and anti.failures["anti_affinity_node"][node_b]
    assert anti.rejections["anti_affinity_node"] == len({int(node_a), int(node_b)})
    zone_anti = evaluate_constraints(inv, vm_request(inv), PlacementConstraints(
        anti_affinity=(AffinityRule((a,), "zone"),)), 24.0)
    assert not np.any(zone_anti.feasible & (inv.node["zone"] == inv.node["zone"][node_a]))
    with pytest.raises(InvalidPlacementRequest, match="unknown VM"):
        evaluate_constraints(inv, vm_request(inv), PlacementConstraints(affinity=(AffinityRule(("vm-nope",)),)), 24.0)


def test_every_rejected_node_has_a_counted_reason() -> None:
    inv, res = _eval(cpu=30.0, mem_gb=100.0)
    any_fail = np.zeros(inv.n_nodes, bool)
    for m in res.failures.values():
        any_fail |= m
    np.testing.assert_array_equal(any_fail, ~res.feasible)
    assert sum(res.rejections.values()) >= int((~res.feasible).sum())


@pytest.mark.parametrize("total, pct, expected", [
    (50, None, 50), (1000, None, 420), (5000, None, 500), (10_000, None, 500), (100_000, None, 5000),
    (10_000, 100, 10_000), (10_000, 20, 2000), (10_000, 0.1, 100),
])
def test_nodes_to_score_matches_kube_scheduler(total, pct, expected) -> None:
    assert nodes_to_score(total, pct) == expected


def test_sampling_walks_round_robin_from_start() -> None:
    feasible = np.ones(1000, bool)
    feasible[::3] = False
    s1 = sample_candidates(feasible, 0, 20.0)
    assert s1.sample_size == 200 and feasible[s1.candidates].all()
    s2 = sample_candidates(feasible, s1.next_start, 20.0)
    assert not set(s1.candidates.tolist()) & set(s2.candidates.tolist())
    assert s1.nodes_evaluated == s1.next_start  # walked 0..k-th feasible
    full = sample_candidates(feasible, 17, 100.0)
    assert full.sample_size == int(feasible.sum())

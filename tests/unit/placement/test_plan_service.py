"""Batch plans, evacuations and approved apply over the simulated fleet (no Ray)."""
from __future__ import annotations

import numpy as np
import pytest

from aiops.api.placement import EvacuationRequest, PlanRequest, PlanVM
from aiops.placement.errors import ApprovalRequired, InvalidPlacementRequest, NoFeasiblePlan, PlanNotFound
from aiops.placement.evacuation import EvacuationQuery
from aiops.placement.optimise.constraints import PlacementConstraints
from aiops.placement.plan import PlanQuery, PlanService
from aiops.placement.plan_problem import DIMENSIONS, node_matrices, static_mask
from aiops.placement.inventory import FleetSnapshot
from aiops.placement.optimise.nsga import optimise_batch
from tests.unit.placement.fleet_fixtures import control_plane, snapshot


def _plan_query(**kw) -> PlanQuery:
    """The domain query of an HTTP plan request (validated like the API's)."""
    return PlanRequest(**kw).to_domain()


def _evacuation_query(**kw) -> EvacuationQuery:
    """The domain query of an HTTP evacuation request (validated like the API's)."""
    return EvacuationRequest(**kw).to_domain()


def _service(failure=None, **kw):
    cp = control_plane()
    calls = []

    def optimiser(prob, **kwargs):
        calls.append(kwargs)
        return optimise_batch(prob, **kwargs)

    svc = PlanService(lambda: snapshot(failure, cp), cp, optimiser=optimiser, **kw)
    return svc, cp, calls


def _vm(i, **kw):
    return PlanVM(**{"tenant_id": f"tenant-00{i % 3}", "cpu_cores": 4, "memory_gb": 16, "disk_gb": 40, "vm_id": f"new-{i}", **kw})


def _check_end_state(snap: FleetSnapshot, actions):
    """Independent check: apply the actions to the snapshot and verify capacity and hard constraints."""
    inv = snap.inventory
    cap, alloc = node_matrices(inv)
    start = alloc.copy()
    for a in actions:
        d = np.array([a["demand"][k] for k in DIMENSIONS])
        alloc[inv.node_index(a["to"])] += d
        if a["op"] == "migrate":
            alloc[inv.node_index(a["from"])] -= d
    for a in actions:
        j = inv.node_index(a["to"])
        assert (alloc[j] <= np.maximum(cap[j], start[j]) + 1e-6).all(), f"{a['to']} over capacity"


def test_batch_plan_is_a_feasible_dry_run_with_front_and_knee():
    svc, cp, calls = _service()
    before = cp.state()
    plan = svc.plan(_plan_query(vms=[_vm(i) for i in range(6)], anti_affinity_groups=[["new-0", "new-1", "new-2"]],
                                time_limit_s=1.0))
    assert cp.state() == before                          # a plan changes nothing
    assert plan["status"] == "proposed" and plan["requires_approval"]
    assert plan["objectives"] == ["cost", "imbalance", "risk", "locality"] and calls[0]["time_limit_s"] == 1.0
    assert plan["pareto_front"] and "Knee of" in plan["knee"]["explanation"]
    assert len({plan["assignment"][f"new-{i}"] for i in range(3)}) == 3     # anti-affinity held
    assert plan["end_state"]["feasible"] and plan["end_state"]["migrations"] == 0
    assert {a["op"] for a in plan["actions"]} == {"create"} and len(plan["actions"]) == 6
    _check_end_state(snapshot(None, cp), plan["actions"])
    # the knee is never dominated by the heuristics the population was seeded with
    knee = np.array(list(plan["knee"]["objectives"].values()))
    for name, h in plan["heuristics"].items():
        hv = np.array([h[o] for o in plan["objectives"]])
        assert not ((hv <= knee).all() and (hv < knee).any()), name


def test_constraints_shape_the_plan_and_impossible_requests_name_them():
    svc, _, _ = _service()
    plan = svc.plan(_plan_query(vms=[_vm(0), _vm(1)], constraints={"data_residency": ["DE"]}, time_limit_s=0.5))
    snap = snapshot()
    assert {snap.inventory.zone_country[snap.inventory.node["zone"][snap.inventory.node_index(n)]]
            for n in plan["assignment"].values()} == {"DE"}
    with pytest.raises(NoFeasiblePlan) as exc:
        svc.plan(_plan_query(vms=[_vm(0)], constraints={"data_residency": ["JP"]}))
    assert exc.value.details["rejections"]["data_residency"] == 16 and "data residency" in str(exc.value)
    with pytest.raises(NoFeasiblePlan) as exc:             # fits no node: capacity shortfall is named
        svc.plan(_plan_query(vms=[_vm(i, cpu_cores=120, memory_gb=900) for i in range(3)], time_limit_s=0.3))
    short = exc.value.details["shortfall"]
    assert set(short["unplaceable"]) == {"new-0", "new-1", "new-2"} and "memory_gb" in short["unplaceable"]["new-0"]
    assert "insufficient" in str(exc.value) and "memory_gb" in str(exc.value)
    with pytest.raises(InvalidPlacementRequest):
        svc.plan(_plan_query())
    with pytest.raises(InvalidPlacementRequest):
        svc.plan(_plan_query(rebalance_vm_ids=["vm-nope"]))


def test_rebalance_moves_only_vms_whose_move_pays():
    svc, cp, _ = _service()
    plan = svc.plan(_plan_query(rebalance_hosts=["host-0001", "host-0002", "host-0003"], time_limit_s=1.0))
    assert plan["kind"] == "rebalance" and "migrations" in plan["objectives"]
    assert all(a["op"] == "migrate" and a["gain"] > 0 for a in plan["actions"])
    assert plan["end_state"]["migrations"] == len(plan["actions"]) and plan["end_state"]["feasible"]


def test_evacuation_moves_every_vm_off_the_risky_host_within_constraints():
    risk = {"host-0004": 0.92, "host-0005": 0.3}
    svc, cp, _ = _service(failure=risk, risk_threshold=0.7)
    snap = snapshot(risk, cp)
    on_host = {v.vm_id for v in snap.vms.values() if v.host_id == "host-0004"}
    assert on_host
    plan = svc.evacuate(_evacuation_query())                 # default: hosts at or above the threshold
    assert plan["hosts"] == ["host-0004"] and plan["complete"] and plan["end_state"]["feasible"]
    moved = {a["vm_id"] for a in plan["actions"] if a["from"] == "host-0004"}
    assert moved == on_host and all(a["to"] != "host-0004" for a in plan["actions"])
    inv = snap.inventory
    for a in plan["actions"]:
        v = snap.vms[a["vm_id"]]
        from aiops.placement.optimise.constraints import VMRequest
        ok, _ = static_mask(inv, VMRequest(v.tenant, v.vcpus, v.memory_gb, v.disk_gb), PlacementConstraints(), 24.0)
        assert ok[inv.node_index(a["to"])] and a["risk_after"] < a["risk_before"]
    _check_end_state(snap, plan["actions"])
    # avoid_risk_above keeps VMs off other risky hosts
    p2 = svc.evacuate(_evacuation_query(host_ids=["host-0004"], avoid_risk_above=0.2))
    assert "host-0005" not in {a["to"] for a in p2["actions"]}
    with pytest.raises(NoFeasiblePlan) as exc:
        svc.evacuate(_evacuation_query(threshold=0.99))
    assert exc.value.details["error"] == "no_host_at_risk"
    with pytest.raises(InvalidPlacementRequest):
        svc.evacuate(_evacuation_query(host_ids=["host-9999"]))


def test_apply_needs_approval_is_idempotent_and_rechecks_the_fleet():
    risk = {"host-0004": 0.92}
    svc, cp, _ = _service(failure=risk)
    plan = svc.evacuate(_evacuation_query())
    with pytest.raises(ApprovalRequired):
        svc.apply(plan["plan_id"], approve=False)
    assert cp.version == 0
    with pytest.raises(PlanNotFound):
        svc.apply("nope", approve=True)
    first = svc.apply(plan["plan_id"], approve=True)
    assert first["status"] == "applied" and len(first["applied"]) == len(plan["actions"]) and not first["skipped"]
    assert not [v for v in cp.vms().values() if v.host_id == "host-0004"] and "host-0004" in cp.cordoned
    version = cp.version
    again = svc.apply(plan["plan_id"], approve=True)
    assert again["already_applied"] and cp.version == version and again["applied"] == first["applied"]
    assert svc.get_plan(plan["plan_id"])["status"] == "applied"

    # a plan made before someone else moved its VM skips that move and says why
    batch = svc.plan(_plan_query(rebalance_hosts=["host-0001", "host-0002", "host-0003", "host-0006"], time_limit_s=1.0))
    assert batch["actions"]
    a = batch["actions"][0]
    other = next(h for h in ("host-0007", "host-0008", "host-0009") if h not in (a["from"], a["to"]))
    cp.migrate(a["vm_id"], a["from"], other, "manual")
    res = svc.apply(batch["plan_id"], approve=True)
    assert any(s["vm_id"] == a["vm_id"] and "moved to" in s["reason"] for s in res["skipped"])
    assert res["status"] in ("partially_applied", "not_applied")

    # created VMs land in the control plane once
    new = svc.plan(_plan_query(vms=[_vm(0), _vm(1)], time_limit_s=0.5))
    svc.apply(new["plan_id"], approve=True)
    svc.apply(new["plan_id"], approve=True)
    assert {"new-0", "new-1"} <= set(cp.vms()) and sum(1 for e in cp.log if e["op"] == "create") == 2


def test_evacuation_makes_room_with_an_ejection_chain_and_applies_in_order():
    """The big VM fits nowhere until a resident moves on (b -> c or c -> b); apply moves it first."""
    from aiops.placement.inventory import SimulatedControlPlane, VMRecord
    from aiops.placement.inventory import build_fleet_snapshot

    def host(name, cores):
        return {"host_id": name, "zone": "zone-a", "rack": "zone-a-r00", "cores": cores, "memory_gb": 4 * cores,
                "disk_tb": 4, "gpus": 0, "gpu_model": "", "nic_gbps": 100}

    inv = {"hosts": [host("host-a", 64), host("host-b", 64), host("host-c", 64)],
           "vms": [{"vm_id": "big", "host_id": "host-a", "tenant": "t", "vcpus": 48, "memory_gb": 96, "disk_gb": 0},
                   {"vm_id": "small", "host_id": "host-b", "tenant": "t", "vcpus": 24, "memory_gb": 48, "disk_gb": 0},
                   {"vm_id": "mid", "host_id": "host-c", "tenant": "t", "vcpus": 40, "memory_gb": 80, "disk_gb": 0}]}
    cp = SimulatedControlPlane()
    from aiops.placement.inventory import vm_records
    cp.load(vm_records(inv).values())
    svc = PlanService(lambda: build_fleet_snapshot(inv, {}, {"host-a": 0.9}, 1_767_225_600.0, vms=cp.vms(),
                                                   cordoned=cp.cordoned), cp)
    plan = svc.evacuate(_evacuation_query())
    assert plan["complete"] and plan["end_state"]["feasible"]
    first, second = plan["actions"]
    assert first["vm_id"] in ("small", "mid") and not first["evacuee"] and first["gain"] > 0
    assert second["vm_id"] == "big" and second["to"] == first["from"]
    res = svc.apply(plan["plan_id"], approve=True)
    assert res["status"] == "applied", res["skipped"]
    placed = cp.vms()
    assert placed["big"].host_id == first["from"] and placed[first["vm_id"]].host_id == first["to"]
    per_host = {h: sum(v.vcpus for v in placed.values() if v.host_id == h) for h in ("host-a", "host-b", "host-c")}
    assert per_host["host-a"] == 0 and max(per_host.values()) <= 64 and isinstance(placed["big"], VMRecord)

"""The loop closes without Ray: an applied evacuation moves the simulator's VMs, and risk alone can
trigger one (placement.auto_evacuate)."""
import pytest

from aiops.placement.closed_loop import AutoEvacuator, PlacementSync, desired_placement
from aiops.placement.evacuation import EvacuationQuery
from aiops.placement.errors import NoFeasiblePlan
from aiops.placement.plan import PlanService
from aiops.settings import Settings
from aiops.telemetry.simulator import FleetSimulator
from tests.unit.placement.fleet_fixtures import control_plane, snapshot


def _sim():
    cfg = Settings().with_overrides(**{"simulator.hosts": 16, "simulator.vms_per_host": 4, "simulator.seed": 7,
                                       "simulator.interval_s": 60.0}).simulator
    return FleetSimulator(cfg)


def test_desired_placement_is_home_overridden_by_moves():
    assert desired_placement({"a": "h1", "b": "h2"}, {"moved": {"b": "h3", "zz": "h9"}}) == {"a": "h1", "b": "h3"}
    assert desired_placement({"a": "h1"}, None) == {"a": "h1"}


def test_applied_evacuation_moves_the_simulated_vms_and_they_survive_the_failure():
    sim, cp = _sim(), control_plane()
    svc = PlanService(lambda: snapshot({"host-0003": 0.95}, cp), cp)
    sync = PlacementSync(sim.placement())
    assert sync.sync(sim, cp.state()) == []  # nothing moved yet
    leaving = set(v.vm_id for v in sim.fleet.vms_on("host-0003"))
    sc = sim.inject("ecc_host_crash", "host-0003", sim.now + 3600)
    plan = svc.evacuate(EvacuationQuery(host_ids=("host-0003",)))
    svc.apply(plan["plan_id"], True)
    events = sync.sync(sim, cp.state())
    assert {e["vm_id"] for e in events} >= leaving and all(e["type"] == "vm_migrated" for e in events)
    assert all(sim.host_of(v) != "host-0003" for v in leaving)
    assert {v: sim.host_of(v) for v in cp.vms()} == {v: r.host_id for v, r in cp.vms().items()}  # one owner
    assert sync.sync(sim, cp.state()) == []  # same version: nothing to do
    ticks = sim.advance(2 * 3600)
    crashed = {e["vm_id"] for t in ticks for e in t.events if e["type"] == "vm_crashed"}
    assert any(e["type"] == "host_failed" for t in ticks for e in t.events) and not crashed & leaving
    assert sc.host_id == "host-0003"


def test_simulator_converges_to_the_control_plane_after_a_restart_of_either():
    sim, cp = _sim(), control_plane()
    vm = sim.fleet.vms_on("host-0001")[0].vm_id
    cp.migrate(vm, "host-0001", "host-0002", "p1")
    fresh = _sim()  # a restarted simulator replays the control plane's moves
    PlacementSync(fresh.placement()).sync(fresh, cp.state())
    assert fresh.host_of(vm) == "host-0002"
    sync = PlacementSync(sim.placement())
    sync.sync(sim, cp.state())
    sync.sync(sim, {"version": 0})  # the control plane restarted empty: it owns the placement
    assert sim.host_of(vm) == "host-0001"


class _Api:
    def __init__(self, fail=()):
        self.calls, self.fail, self.uncordoned = [], set(fail), []

    def evacuate(self, req):
        self.calls.append(req.host_ids)
        if req.host_ids[0] in self.fail:
            raise NoFeasiblePlan("no room", {})
        return {"plan_id": f"p-{req.host_ids[0]}", "complete": True}

    def apply(self, plan_id, approve):
        assert approve
        return {"status": "applied", "applied": [1, 2]}

    def uncordon(self, host_id, reason):
        self.uncordoned.append(host_id)


def test_auto_evacuator_drains_each_host_once_and_releases_it_after_the_hold():
    api = _Api(fail={"h3"})
    auto = AutoEvacuator(api, api, threshold=0.5, hold_s=100)
    recs = auto.round(0, {"h1": 0.9, "h2": 0.2, "h3": 0.6})
    assert [(r.host_id, r.status, r.migrations) for r in recs] == [("h1", "applied", 2), ("h3", "failed", 0)]
    assert "no room" in recs[1].error
    assert auto.round(50, {"h1": 0.9, "h3": 0.9}) == []  # still drained: not again
    assert auto.round(150, {"h1": 0.9}, up={"h1", "h3"}) == []  # h1 still at risk: stays cordoned; h3 released
    assert api.uncordoned == ["h3"]
    auto.round(160, {"h1": 0.1}, up={"h3"})  # h1 down (failed): stays cordoned until it reports
    assert api.uncordoned == ["h3"]
    auto.round(170, {"h1": 0.1}, up={"h1"})
    assert api.uncordoned == ["h3", "h1"] and len(auto.history) == 2
    with pytest.raises(ValueError):
        AutoEvacuator(api, api, threshold=0, hold_s=1)

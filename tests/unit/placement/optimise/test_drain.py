"""An evacuation plan moves every VM off the at-risk host without breaking capacity or constraints."""
import numpy as np

from aiops.placement.optimise.drain import evacuation_plan
from aiops.placement.optimise.nsga import NodeSpec, PlacementProblem, VmSpec


def build(feasible=None):
    nodes = [NodeSpec(f"h{j}", [16, 64], risk=0.9 if j == 0 else 0.05 * j, zone="z0", rack=f"r{j % 2}") for j in range(5)]
    placement = {0: [[4, 16], [4, 8], [2, 30], [6, 4]], 1: [[8, 32]], 2: [[10, 40]], 3: [[12, 8]], 4: [[2, 50]]}
    vms = [VmSpec(f"{j}-{k}", dem, tenant="a" if k % 2 else "b", current=f"h{j}") for j, lst in placement.items() for k, dem in enumerate(lst)]
    return PlacementProblem.from_specs(vms, nodes, feasible=feasible), vms


def test_all_vms_leave_the_host_within_capacity():
    prob, vms = build()
    plan = evacuation_plan(prob, host=0)
    x = np.array(plan["assignment"])
    assert plan["complete"] and not plan["stranded"]
    assert not (x == 0).any() and plan["host_utilisation_after"] == [0.0, 0.0]
    assert (prob.loads(x) <= prob.capacity).all()
    assert plan["migrations"] == 4 and plan["violations"] == 0
    moved = {m["vm"] for m in plan["moves"]}
    assert moved == {v.id for v in vms if v.current == "h0"}


def test_constraint_function_is_respected():
    # tenant 'a' VMs (odd k) may not run on h1 or h4
    def feasible(i, j):
        return not (i in (1, 3) and j in (1, 4))

    prob, _ = build(feasible)
    plan = evacuation_plan(prob, host=0)
    x = plan["assignment"]
    assert plan["complete"] and x[1] not in (1, 4) and x[3] not in (1, 4)
    assert plan["violations"] == 0


def test_ejection_chain_and_stranded_report():
    nodes = [NodeSpec("h0", [10]), NodeSpec("h1", [10]), NodeSpec("h2", [10])]
    # h1 holds 5+3, h2 holds 4: the 7 from h0 fits nowhere until the 5 moves from h1 to h2
    vms = [VmSpec("big", [7], current="h0"), VmSpec("a", [5], current="h1"), VmSpec("b", [3], current="h1"), VmSpec("c", [4], current="h2")]
    prob = PlacementProblem.from_specs(vms, nodes)
    plan = evacuation_plan(prob, host=0)
    assert plan["complete"] and plan["migrations"] == 2
    assert plan["assignment"] == [1, 2, 1, 2]
    assert (prob.loads(np.array(plan["assignment"])) <= prob.capacity).all()
    vms[0] = VmSpec("big", [9], current="h0")
    plan = evacuation_plan(PlacementProblem.from_specs(vms, nodes), host=0)
    assert not plan["complete"] and plan["stranded"] == ["big"]

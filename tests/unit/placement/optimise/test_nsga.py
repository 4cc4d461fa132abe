"""NSGA-II batch placement returns feasible, non-dominated plans no worse than its heuristic seeds."""
import numpy as np

from aiops.placement.optimise.nsga import NodeSpec, PlacementProblem, VmSpec, greedy_assign, knee_point, optimise_batch, plan_end_state


def fleet(n_nodes=12, n_vms=40, seed=0, current=True):
    rng = np.random.default_rng(seed)
    nodes = [NodeSpec(f"n{j}", [32, 128, 4 if j % 4 == 0 else 0], cost=1.0 + 0.5 * (j % 2), risk=0.02 * (j % 5),
                      zone=f"z{j % 2}", rack=f"r{j % 3}") for j in range(n_nodes)]
    vms, load = [], np.zeros((n_nodes, 3))
    for i in range(n_vms):
        dem = np.array([rng.integers(1, 7), rng.integers(2, 25), 1 if i % 10 == 0 else 0], float)
        home = None
        if current:  # a valid current placement: first node with room (GPU VMs on GPU nodes)
            for j in rng.permutation(n_nodes):
                if (load[j] + dem <= nodes[j].capacity).all():
                    home, load[j] = f"n{j}", load[j] + dem
                    break
        vms.append(VmSpec(f"v{i}", dem.tolist(), tenant=f"t{i % 5}", current=home))
    return vms, nodes


def test_front_is_feasible_non_dominated_and_beats_no_seed():
    vms, nodes = fleet(current=False)
    prob = PlacementProblem.from_specs(vms, nodes)
    res = optimise_batch(prob, objectives=("cost", "imbalance", "risk", "locality"), time_limit_s=2.0, pop_size=30, seed=1)
    assert len(res.front_x) >= 2 and 0 <= res.knee < len(res.front_x)
    for x in res.front_x:
        assert prob.violations(x) == 0
        assert (prob.loads(x) <= prob.capacity + 1e-9).all()
    F = res.front_f
    for i in range(len(F)):
        assert not ((F <= F[i]).all(axis=1) & (F < F[i]).any(axis=1)).any()
    for name, seed_x in res.seeds.items():
        if prob.violations(seed_x) == 0:  # some front member weakly dominates each feasible seed
            sf = prob.objectives(seed_x)[:4]
            assert ((F <= sf + 1e-9).all(axis=1)).any(), name
    assert F[:, 0].min() <= prob.objectives(greedy_assign(prob, "first"))[0]
    assert "Knee" in res.explanation and "cost=" in res.explanation


def test_rebalancing_keeps_a_zero_migration_plan_and_constraints():
    vms, nodes = fleet(seed=3)
    forbidden = {(i, j) for i in range(len(vms)) for j in range(len(nodes)) if i % 6 == 0 and j in (1, 2)}
    forbidden -= {(i, int(v.current[1:])) for i, v in enumerate(vms)}  # current placement stays legal

    def feasible(i, j):
        return (i, j) not in forbidden

    prob = PlacementProblem.from_specs(vms, nodes, feasible=feasible)
    res = optimise_batch(prob, time_limit_s=2.0, pop_size=30, seed=2)
    mig = res.objectives.index("migrations")
    assert res.front_f[:, mig].min() == 0
    for x in res.front_x:
        assert all((i, int(x[i])) not in forbidden for i in range(len(vms)))
    state = plan_end_state(prob, res.choice)
    assert state["migrations"] == res.front_f[res.knee, mig] == len(state["moves"])
    assert state["violations"] == 0 and len(state["utilisation"]) == len(nodes)


def test_dynamic_anti_affinity_is_respected():
    vms, nodes = fleet(n_nodes=8, n_vms=16, current=False)
    pairs = [(0, 1), (2, 3)]

    def feasible(i, j, x):  # VMs in a pair never share a node
        return all(not (i in p and x[p[0] if i == p[1] else p[1]] == j) for p in pairs)

    prob = PlacementProblem.from_specs(vms, nodes, feasible=feasible)
    res = optimise_batch(prob, objectives=("cost", "imbalance"), time_limit_s=1.5, pop_size=20)
    for x in res.front_x:
        assert x[0] != x[1] and x[2] != x[3]


def test_knee_point_picks_balanced_member():
    F = np.array([[0.0, 10.0], [1.0, 1.0], [10.0, 0.0]])
    assert knee_point(F) == 1


def test_prune_migrations_only_keeps_moves_that_pay():
    from aiops.placement.optimise.nsga import prune_migrations

    vms, nodes = fleet(seed=5)
    prob = PlacementProblem.from_specs(vms, nodes)
    res = optimise_batch(prob, time_limit_s=1.5, pop_size=24, seed=3)
    x = prune_migrations(prob, res.choice, res)
    assert prob.violations(x) == 0
    mig = res.objectives.index("migrations")
    assert prob.objectives(x)[mig] <= res.front_f[res.knee, mig]
    # a fully reverted plan (no moves) is kept as is
    cur = prob.current.copy()
    assert (prune_migrations(prob, cur, res) == cur).all()

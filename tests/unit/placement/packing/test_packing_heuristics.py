"""Every constructive heuristic returns a feasible packing; the kube scorers behave as named."""
import numpy as np
import pytest

from aiops.placement.packing import heuristics as H
from aiops.placement.packing.bins import check_packing, lower_bound


def random_instance(seed: int, n: int = 60, d: int = 3, cap: int = 100):
    rng = np.random.default_rng(seed)
    return rng.integers(5, 60, size=(n, d)), np.full(d, cap)


@pytest.mark.parametrize("seed", range(5))
def test_all_heuristics_feasible(seed):
    sizes, cap = random_instance(seed, d=1 + seed % 4)
    lb = lower_bound(sizes, cap)
    for name, fn in {**H.baseline_portfolio(),
                     "kube-most": lambda s, c: H.kube_scorer(s, c, "MostAllocated"),
                     "kube-least": lambda s, c: H.kube_scorer(s, c, "LeastAllocated")}.items():
        bins = check_packing(sizes, cap, fn(sizes, cap))
        assert lb <= bins <= len(sizes), name


def test_ffd_orders_by_sum_of_normalised_sizes():
    sizes = np.array([[1, 9], [5, 5], [9, 1], [2, 2]])
    cap = np.array([10, 10])
    assert H.decreasing_order(H.item_key(sizes, cap, "sum")).tolist() == [0, 1, 2, 3]  # ties keep file order
    a = H.ffd(sizes, cap)
    assert a.tolist() == [0, 1, 0, 1]  # [1,9]+[9,1] fill bin 0 exactly; [5,5]+[2,2] share bin 1


def test_kube_most_vs_least_allocated():
    sizes = np.array([[6], [5], [3]])
    cap = np.array([10])
    assert H.kube_scorer(sizes, cap, "MostAllocated").tolist() == [0, 1, 0]  # fullest node that fits
    assert H.kube_scorer(sizes, cap, "LeastAllocated").tolist() == [0, 1, 1]  # emptiest node
    with pytest.raises(ValueError):
        H.kube_scorer(sizes, cap, "Balanced")


def test_best_fit_prefers_tightest_bin():
    sizes = np.array([[7], [6], [3]])
    cap = np.array([10])
    assert H.best_fit(sizes, cap, np.arange(3)).tolist() == [0, 1, 0]  # 3 fits both; bin 0 leaves 0 slack
    assert H.first_fit(np.array([[6], [7], [3]]), cap).tolist() == [0, 1, 0]


def test_exact_fill_recovers_perfect_triples():
    rng = np.random.default_rng(0)
    items = []
    for _ in range(15):
        a, b = rng.integers(20, 40, size=3), rng.integers(20, 40, size=3)
        items += [a, b, 100 - a - b]
    sizes = np.array(items)[rng.permutation(45)]
    cap = np.full(3, 100)
    assert check_packing(sizes, cap, H.exact_fill(sizes, cap)) == 15
    assert check_packing(sizes, cap, H.ffd(sizes, cap)) > 15  # plain FFD misses the perfect packing

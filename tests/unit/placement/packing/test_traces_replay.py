"""Online replays on tiny synthetic clusters: departures free nodes, GPU sharing is tracked per GPU."""
import numpy as np
import pandas as pd

from aiops.placement.packing.traces import replay_identical, replay_openb


def test_identical_replay_releases_nodes_and_counts_peak():
    demand = np.array([[6.0, 1.0], [6.0, 1.0], [3.0, 1.0]])
    start, end = np.array([0.0, 1.0, 3.0]), np.array([2.0, 2.5, np.inf])
    r = replay_identical(demand, start, end, np.array([10.0, 10.0]), "FirstFit")
    assert r.placed == 3 and r.failed == 0
    assert r.peak_nodes == 2  # the two 6-core VMs overlap in [1, 2); both gone before the third arrives
    r = replay_identical(np.array([[11.0, 1.0]]), np.array([0.0]), np.array([1.0]), np.array([10.0, 10.0]), "BestFit")
    assert r.failed == 1 and r.placed == 0


def test_gpu_aware_keeps_whole_gpus_for_whole_gpu_pods():
    nodes = pd.DataFrame({"sn": ["cpu", "gpu"], "cpu_milli": [32000, 32000], "memory_mib": [65536, 65536], "gpu": [0, 2], "model": ["", "T4"]})
    pods = pd.DataFrame({
        "name": list("abcd"), "cpu_milli": [4000, 1000, 1000, 1000], "memory_mib": [1024] * 4,
        "num_gpu": [0, 1, 1, 1], "gpu_milli": [0, 500, 500, 1000], "gpu_spec": ["", "", "", "T4"],
        "creation_time": [0, 1, 2, 3], "deletion_time": [np.inf] * 4,
    })
    r = replay_openb(nodes, pods, "GpuAware", fill_to=1.0)
    assert r.failed == 0 and r.placed == 4
    assert r.extra["gpu_allocated_pct"] == 100.0 and r.extra["gpu_fragmented_pct"] == 0.0
    spread = replay_openb(nodes, pods.assign(gpu_spec=["", "", "", "V100"]), "GpuAware", fill_to=1.0)
    assert spread.failed >= 1  # the model constraint rules the T4 node out for the last pod


def test_consolidation_frees_a_node_with_few_migrations():
    from aiops.placement.packing.traces import consolidate

    # four 5-core VMs fill two nodes; one VM on each node departs at t=1; at t=2 we consolidate
    demand = np.array([[5.0, 1.0]] * 4)
    start, end = np.zeros(4), np.array([1.0, np.inf, 1.0, np.inf])
    cap = np.array([10.0, 10.0])
    plain = replay_identical(demand, start, end, cap, "FirstFit", window=(0.0, 4.0))
    packed = replay_identical(demand, start, end, cap, "FirstFit", window=(0.0, 4.0), repack_times=[2.0],
                              repack=lambda sz, cur: consolidate(sz, cap, cur, 0.5))
    assert packed.extra == {"repacks": 1, "migrations": 1}
    assert packed.mean_nodes < plain.mean_nodes

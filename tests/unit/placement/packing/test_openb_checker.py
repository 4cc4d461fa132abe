"""The independent openb log checker: it passes a replay's own log and catches deliberately wrong ones."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aiops.placement.packing.openb import OURS, replay_openb
from aiops.placement.packing.openb_check import check_openb_log


@pytest.fixture
def cluster(tmp_path: Path) -> tuple[Path, Path, pd.DataFrame, pd.DataFrame]:
    nodes = pd.DataFrame({"sn": ["t4", "v100", "cpu"], "cpu_milli": [16000, 16000, 16000], "memory_mib": [65536] * 3,
                          "gpu": [2, 2, 0], "model": ["T4", "V100", None]})
    pods = pd.DataFrame({"name": [f"p{i}" for i in range(6)], "cpu_milli": [2000, 2000, 2000, 4000, 2000, 2000],
                         "memory_mib": [1024] * 6, "num_gpu": [1, 1, 1, 0, 2, 1], "gpu_milli": [500, 1000, 500, 0, 1000, 1000],
                         "gpu_spec": ["T4", None, None, None, None, "V100"],
                         "creation_time": np.arange(6.0)})
    nodes.to_csv(tmp_path / "nodes.csv", index=False)
    pods.to_csv(tmp_path / "pods.csv", index=False)
    return tmp_path / "nodes.csv", tmp_path / "pods.csv", nodes.fillna(""), pods.fillna("")


@pytest.mark.parametrize("policy", ["FirstFit", "kube-LeastAllocated", "GpuAware", OURS])
def test_a_replay_log_passes_and_its_counts_match(cluster, policy):
    node_csv, pod_csv, nodes, pods = cluster
    log: list = []
    r = replay_openb(nodes, pods, policy, log=log)
    out = check_openb_log(node_csv, pod_csv, log)
    assert out["violations_total"] == 0, out
    assert (out["placed"], out["failed"]) == (r.placed, r.failed)
    assert out["gpu_unallocated"] == r.extra["gpu_unallocated"]


def test_catches_a_pod_on_a_gpu_model_its_spec_excludes(cluster):
    node_csv, pod_csv, nodes, pods = cluster
    log = [(0, 1, [0])]  # pod 0 may only run on T4; node 1 is a V100
    assert check_openb_log(node_csv, pod_csv, log)["violations"]["gpu_spec"] == 1


def test_catches_an_overbooked_gpu_and_a_wrong_gpu_count(cluster):
    node_csv, pod_csv, _, _ = cluster
    out = check_openb_log(node_csv, pod_csv, [(1, 0, [0]), (2, 0, [0]), (4, 1, [0])])
    assert out["violations"]["gpu_capacity"] == 1  # a half-GPU pod on a GPU a whole-GPU pod holds
    assert out["violations"]["gpu_count"] == 1  # a two-GPU pod given one GPU


def test_catches_a_gpu_slot_the_node_lacks_and_cpu_over_capacity(cluster):
    node_csv, pod_csv, _, _ = cluster
    out = check_openb_log(node_csv, pod_csv, [(1, 0, [5])] + [(3, 2, [])] * 5)
    assert out["violations"]["gpu_slot"] == 1
    assert out["violations"]["cpu"] == 1  # the fifth 4-core pod on a 16-core node


def test_catches_a_failure_that_was_not_one(cluster):
    node_csv, pod_csv, _, _ = cluster
    out = check_openb_log(node_csv, pod_csv, [(1, -1, [])])
    assert out["violations"]["failed_but_fit"] == 1 and out["failed"] == 1

"""Data-backed checks on the shared Vectorpack instances and cluster traces (skip when absent)."""
import numpy as np
import pytest

from aiops.placement.packing import heuristics as H
from aiops.placement.packing.bins import check_packing, lower_bound
from aiops.placement.packing.search import SearchConfig, solve
from aiops.placement.packing.trace_data import (azure_server_capacity, load_azure_workload, load_openb_nodes,
                                                 load_openb_pods, placement_dir)
from aiops.placement.packing.traces import replay_identical, replay_openb
from aiops.placement.packing.vbp import load_collection, vbp_dir

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def panigrahy():
    if not (vbp_dir() / "Panigrahy_instances.tar.gz").exists():
        pytest.skip("Vectorpack Panigrahy instances not in the shared data folder")
    return load_collection("Panigrahy")


def test_collections_load_with_published_bounds(panigrahy):
    assert len(panigrahy) == 1620
    with_opt = [i for i in panigrahy if i.known and i.known.opt]
    assert len(with_opt) == 1200
    for inst in panigrahy[::37]:
        assert inst.known.lb <= (inst.known.opt or 10**9) and lower_bound(inst.sizes, inst.capacity) <= (inst.known.opt or 10**9)
        assert (inst.sizes <= inst.capacity).all() and inst.n - int(inst.name.split("_")[1]) in (0, 1)  # some files carry one extra item
    if (vbp_dir() / "Triplet_instances.tar.gz").exists():
        trip = load_collection("Triplet")
        assert len(trip) == 240 and all(t.known.opt == t.known.lb == t.n // 3 for t in trip)


def test_search_on_sample_is_feasible_and_beats_ffd(panigrahy):
    sample = [i for i in panigrahy if i.known.opt and i.n <= 120][::25]
    gaps_ours, gaps_ffd = [], []
    for inst in sample:
        ffd = check_packing(inst.sizes, inst.capacity, H.ffd(inst.sizes, inst.capacity))
        res = solve(inst.sizes, inst.capacity, SearchConfig(time_limit_s=0.15, random_orderings=6), lb=inst.known.lb)
        bins = check_packing(inst.sizes, inst.capacity, res.assignment)
        assert inst.known.opt <= bins <= ffd
        gaps_ours.append((bins - inst.known.opt) / inst.known.opt)
        gaps_ffd.append((ffd - inst.known.opt) / inst.known.opt)
    assert np.mean(gaps_ours) < np.mean(gaps_ffd)


def test_trace_replays_place_or_count_every_request():
    root = placement_dir()
    az = root / "azure-packing-2020"
    ob = root / "alibaba-openb"
    if not (az / "server_vm_cores_ram.json").exists() or not (ob / "openb_node_list_all_node.csv").exists():
        pytest.skip("Azure / Alibaba traces not in the shared data folder")
    df = load_azure_workload(az / "workloads" / "batched" / "relevant-vm-1pcnt_0.csv").iloc[:3000]
    cap = azure_server_capacity(az / "server_vm_cores_ram.json")
    r = replay_identical(df[["cores", "ram"]].to_numpy(float), df.starttime.to_numpy(float), df.endtime.to_numpy(float), cap, "BestFit")
    assert r.placed + r.failed == len(df) and r.failed == 0 and r.peak_nodes >= 1
    nodes = load_openb_nodes(ob / "openb_node_list_all_node.csv")
    pods = load_openb_pods(ob / "openb_pod_list_default.csv")
    rr = replay_openb(nodes, pods, "FirstFit", fill_to=0.3)
    assert rr.placed > 0 and 0 < rr.extra["gpu_allocated_pct"] <= 100

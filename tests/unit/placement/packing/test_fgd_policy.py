"""The constraint-aware fragmentation gradient on small synthetic clusters."""
import numpy as np
import pandas as pd

from aiops.placement.packing.fgd import FragmentationGradient, PodTypes, type_fragments
from aiops.placement.packing.openb import OURS, replay_openb


def _pods(rows: list[tuple[int, int, int, int, str]]) -> pd.DataFrame:
    cpu, mem, ngpu, milli, spec = zip(*rows)
    return pd.DataFrame({"name": [f"p{i}" for i in range(len(rows))], "cpu_milli": cpu, "memory_mib": mem, "num_gpu": ngpu,
                         "gpu_milli": milli, "gpu_spec": spec, "creation_time": np.arange(len(rows), dtype=float)})


def _types(rows: list[tuple[int, int, int, int, str]], models: tuple[str, ...]) -> tuple[np.ndarray, ...]:
    t = PodTypes(models)
    for r in rows:
        t.observe(*r)
    return t.arrays()


def test_fragments_per_type_follow_the_definition():
    types = _types([(1000, 1024, 1, 500, ""), (1000, 1024, 1, 1000, ""), (1000, 1024, 2, 1000, ""),
                    (1000, 1024, 1, 500, "V100"), (64000, 1024, 1, 500, "")], ("T4", "V100"))
    gfree = np.array([[1000.0, 300.0]])
    frag = type_fragments(np.array([32000.0]), np.array([65536.0]), gfree, np.array([0]), types)
    # share 500: the 300 left on the used GPU is too small; one whole GPU: the partial GPU is lost;
    # two whole GPUs: only one is free, so all 1300; V100-only on a T4 node and a CPU-short type: all 1300
    assert frag.tolist() == [[300.0, 300.0, 1300.0, 1300.0, 1300.0]]


def test_gpus_the_cpu_cannot_feed_count_as_fragmented():
    types = _types([(4000, 1024, 1, 1000, ""), (4000, 1024, 1, 250, ""), (4000, 65536, 1, 1000, "")], ("G2",))
    gfree = np.array([[1000.0, 1000.0, 1000.0, 500.0], [1000.0, 1000.0, 1000.0, 500.0]])
    frag = type_fragments(np.array([8000.0, 32000.0]), np.array([65536.0, 65536.0]), gfree, np.array([0, 0]), types)
    # node 0 has CPU for two 4-core pods: two whole GPUs (of three) or 500 milli-GPU of sharing pods are
    # usable; node 1 for eight: all three whole GPUs, but only 2000 of 3500 milli-GPU for 250-milli pods;
    # a 64 GiB pod fits once on either node
    assert frag.tolist() == [[1500.0, 3000.0, 2500.0], [500.0, 1500.0, 2500.0]]


def test_cpu_only_arrivals_dilute_but_add_no_type():
    t = PodTypes(("T4",))
    t.observe(4000, 1024, 0, 0, "")
    t.observe(1000, 1024, 1, 500, "")
    *_, share = t.arrays()
    assert share.tolist() == [0.5]


def test_scarce_models_weigh_more():
    fgd = FragmentationGradient(np.array(["T4", "G2", "G2", "G2"]), np.zeros((4, 3)))
    for spec in ("T4", ""):
        fgd.observe(1000, 1024, 1, 1000, spec)
    gfree = np.full((4, 2), 1000.0)
    w = fgd.weights(gfree, fgd.types.arrays())
    assert w[0] == 2 * w[1]  # same arrival share; T4 holds a quarter of the free GPUs (square root)
    plain = FragmentationGradient(np.array(["T4", "G2", "G2", "G2"]), np.zeros((4, 3)), scarcity=False)
    plain.types = fgd.types
    assert plain.weights(gfree, fgd.types.arrays()).tolist() == [0.5, 0.5]


def test_unconstrained_pods_leave_the_constrained_model_free():
    nodes = pd.DataFrame({"sn": ["t4", "v100"], "cpu_milli": [32000] * 2, "memory_mib": [65536] * 2, "gpu": [2, 2], "model": ["T4", "V100"]})
    pods = _pods([(1000, 1024, 1, 1000, "T4"), (1000, 1024, 1, 1000, ""), (1000, 1024, 1, 1000, ""), (1000, 1024, 1, 1000, "T4")])
    ours = replay_openb(nodes, pods, OURS)
    assert ours.failed == 0 and ours.extra["gpu_unallocated"] == 0.0
    assert replay_openb(nodes, pods, "FirstFit").failed == 1  # packs the first free pod onto the T4 node


def test_sharing_pod_goes_to_a_partly_used_gpu():
    nodes = pd.DataFrame({"sn": ["a", "b"], "cpu_milli": [32000] * 2, "memory_mib": [65536] * 2, "gpu": [1, 1], "model": ["G2", "G2"]})
    fgd = FragmentationGradient(nodes.model.to_numpy(), np.array([[32000, 65536, 1000.0]] * 2))
    for r in [(1000, 1024, 1, 500, ""), (1000, 1024, 1, 1000, "")]:
        fgd.observe(*r)
    gfree = np.array([[1000.0], [500.0]])
    load = np.array([[0.0, 0.0, 0.0], [1000.0, 1024.0, 500.0]])
    b = fgd.choose(np.array([0, 1]), np.array([1000.0, 1024.0, 500.0]), 1, 500.0, gfree, load)
    assert b == 1  # node a keeps its whole GPU for whole-GPU pods


def test_cpu_only_pod_spares_the_cpu_a_gpu_needs():
    nodes = pd.DataFrame({"sn": ["gpu", "cpu"], "cpu_milli": [8000, 8000], "memory_mib": [65536] * 2, "gpu": [2, 0], "model": ["G2", ""]})
    pods = _pods([(2000, 1024, 1, 1000, ""), (6000, 1024, 0, 0, ""), (2000, 1024, 1, 1000, "")])
    log: list = []
    r = replay_openb(nodes, pods, OURS, log=log)
    assert r.failed == 0 and [e[1] for e in log] == [0, 1, 0]  # the CPU-only pod takes the GPU-less node
    assert replay_openb(nodes, pods, "FirstFit").failed == 1  # FirstFit fills the GPU node's CPU


def test_cached_fragments_match_a_fresh_computation():
    rng = np.random.default_rng(3)
    n = 12
    nodes = pd.DataFrame({"sn": [f"n{i}" for i in range(n)], "cpu_milli": [16000] * n, "memory_mib": [65536] * n,
                          "gpu": rng.integers(1, 5, n), "model": rng.choice(["T4", "G2", "P100"], n)})
    rows = [(int(rng.choice([1000, 4000])), 1024, int(rng.choice([0, 1, 1, 2])), int(rng.choice([250, 500, 1000])),
             str(rng.choice(["", "", "T4", "G2|P100"]))) for _ in range(60)]
    rows = [(c, m, g, 1000 if g != 1 else k, s) for c, m, g, k, s in rows]
    fgd_holder: dict = {}
    import aiops.placement.packing.openb as ob

    real = ob.FragmentationGradient

    def spy(*a, **k):
        fgd_holder["fgd"] = real(*a, **k)
        return fgd_holder["fgd"]

    ob.FragmentationGradient = spy
    try:
        replay_openb(nodes, _pods(rows), OURS, fill_to=0.8)
    finally:
        ob.FragmentationGradient = real
    fgd = fgd_holder["fgd"]
    free = fgd.cap - fgd._load
    fresh = type_fragments(free[:, 0], free[:, 1], fgd._gfree, fgd.model, fgd.types.arrays())
    assert np.array_equal(fgd._rows, fresh)

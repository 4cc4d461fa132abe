"""Constraint-aware fragmentation gradient: a GPU placement rule for a fixed heterogeneous cluster.

After Weng et al., "Beware of Fragmentation: Scheduling GPU-Sharing Workloads with Fragmentation
Gradient Descent" (USENIX ATC 2023).  A node's fragmentation with respect to a pod type is the free
GPU capacity on it that a pod of that type could not use: all of it when the type cannot run there
at all (CPU or memory short, too few whole GPUs, or a GPU model its ``gpu_spec`` excludes), else
the free share of GPUs too small for it (sharing pods) or of partly used GPUs (whole-GPU pods),
plus the GPU capacity beyond what the node's free CPU and memory can feed to pods of that type
(a node with CPU for two more pods of a type can give that type at most two pods' worth of GPU).
Without that last part, CPU/memory exhaustion on GPU nodes goes unpriced until it is total, and
the fill ends with GPUs free on nodes that have no CPU or memory left for them.
The expected fragmentation weights the types by how often they have arrived so far (the policy
never sees the future of the pod list).  A pod goes to the node whose expected fragmentation grows
least.

Constraint awareness: each type is also weighted by how scarce its capacity is, the cluster's free
GPU capacity divided by the free capacity on the GPU models it may use.  Taking capacity away from
a constrained type then costs in proportion to the pressure on those models, and capacity it
cannot use is the cheap capacity to consume: unconstrained pods drift to the GPU models nobody
else needs, and the models constrained pods depend on are kept for them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["PodTypes", "type_fragments", "FragmentationGradient"]

FULL = 1000.0  # milli-GPU in one GPU


@dataclass
class PodTypes:
    """The GPU pod types seen so far, with how often each arrived (the learned workload)."""

    models: tuple[str, ...]  # GPU model per model index (the cluster's)
    cpu: list[float] = field(default_factory=list)
    mem: list[float] = field(default_factory=list)
    num_gpu: list[int] = field(default_factory=list)
    milli: list[float] = field(default_factory=list)
    allowed: list[np.ndarray] = field(default_factory=list)  # bool per model index
    count: list[float] = field(default_factory=list)
    total: float = 0.0  # every arrival counts, CPU-only pods too (they dilute the GPU types)
    _index: dict[tuple, int] = field(default_factory=dict)

    def observe(self, cpu: float, mem: float, num_gpu: int, milli: float, spec: str) -> None:
        """Count one arrival; CPU-only types change no node's GPU fragmentation, so only GPU types are kept."""
        self.total += 1
        if num_gpu <= 0:
            return
        key = (cpu, mem, num_gpu, milli, spec)
        k = self._index.get(key)
        if k is None:
            k = self._index[key] = len(self.count)
            allowed = set(spec.split("|")) if spec else None
            self.cpu.append(cpu)
            self.mem.append(mem)
            self.num_gpu.append(num_gpu)
            self.milli.append(milli if num_gpu == 1 and 0 < milli < FULL else FULL)
            self.allowed.append(np.array([allowed is None or m in allowed for m in self.models]))
            self.count.append(0.0)
        self.count[k] += 1

    def arrays(self) -> tuple[np.ndarray, ...]:
        """(cpu, mem, num_gpu, milli, allowed [T, models], share of arrivals) as arrays."""
        return (np.asarray(self.cpu), np.asarray(self.mem), np.asarray(self.num_gpu), np.asarray(self.milli),
                np.asarray(self.allowed).reshape(len(self.count), len(self.models)),
                np.asarray(self.count) / max(self.total, 1.0))


def type_fragments(cpu_free: np.ndarray, mem_free: np.ndarray, gfree: np.ndarray, model: np.ndarray,
                   types: tuple[np.ndarray, ...]) -> np.ndarray:
    """Fragmented milli-GPU of each node (rows) for each pod type (columns).

    ``gfree`` is the free milli-GPU per GPU slot (a node's missing slots hold 0); ``model`` the
    model index per node; ``types`` as returned by ``PodTypes.arrays``.
    """
    cpu, mem, num_gpu, milli, allowed, _ = types
    total = gfree.sum(axis=1)[:, None]
    if len(cpu) == 0:
        return np.zeros((len(gfree), 0))
    fit = np.minimum(_pods_fitting(cpu_free, cpu), _pods_fitting(mem_free, mem))
    runs = (fit >= 1) & allowed[:, model].T
    whole = num_gpu > 1
    whole |= milli >= FULL
    usable = np.empty((len(gfree), len(cpu)))
    if whole.any():
        nfull = (gfree >= FULL).sum(axis=1)[:, None]
        usable[:, whole] = np.where(nfull >= num_gpu[whole], FULL * nfull, 0.0)
    share = ~whole
    if share.any():
        big = gfree[:, None, :] >= milli[share][None, :, None]
        usable[:, share] = np.where(big, gfree[:, None, :], 0.0).sum(axis=2)
    # GPU capacity beyond what the node's CPU and memory can feed to pods of the type is lost to it too
    usable = np.minimum(usable, fit * np.where(whole, num_gpu * FULL, milli))
    return np.where(runs, total - usable, total)


def _pods_fitting(free: np.ndarray, need: np.ndarray) -> np.ndarray:
    """How many pods needing ``need`` (per type) fit in ``free`` (per node): nodes x types, inf when need is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(need > 0, np.floor(np.maximum(free[:, None], 0.0) / np.where(need > 0, need, 1.0)), np.inf)


class FragmentationGradient:
    """Online node choice for the openb replay: least growth of scarcity-weighted expected fragmentation.

    ``observe`` every arriving pod before ``choose``; ``scarcity=False`` gives plain FGD.  Nodes whose
    growth is within ``tie_milli`` (a fifth of a GPU) of the least are ties: the expected fragmentation
    is an estimate from the mix seen so far, and differences that small do not outweigh spreading, so
    ties go to the least allocated node (kube's LeastAllocated), which keeps CPU and memory next to
    free GPUs (1 milli-GPU: 281 failed pods on gpuspec10, 200: 149).  CPU-only pods prefer GPU-less
    nodes among ties.
    """

    def __init__(self, models: np.ndarray, cap: np.ndarray, scarcity: bool = True, power: float = 0.5,
                 tie_milli: float = 200.0) -> None:
        names = tuple(sorted({str(m) for m in models}))
        self.model = np.array([names.index(str(m)) for m in models])
        self.cap = cap
        self.types = PodTypes(names)
        self.scarcity = scarcity
        self.cpu_pods_off_gpu_nodes = True  # no effect seen on gpuspec10 (the CPU-aware fragments already do it)
        self.tie_milli = tie_milli
        self.power = power  # scarcity ** power: 1 over-protects scarce models (unconstrained pods fail at the end)
        self._rows = np.zeros((len(models), 0))  # fragments per node and type in the state last seen
        self._gfree: np.ndarray | None = None
        self._load: np.ndarray | None = None

    def observe(self, cpu: float, mem: float, num_gpu: int, milli: float, spec: str) -> None:
        self.types.observe(cpu, mem, num_gpu, milli, spec)

    def weights(self, gfree: np.ndarray, types: tuple[np.ndarray, ...]) -> np.ndarray:
        """Arrival share of each type times its scarcity (free GPU overall / free GPU it may use) ** power."""
        p = types[5]
        if not self.scarcity:
            return p
        per_model = np.bincount(self.model, weights=gfree.sum(axis=1), minlength=types[4].shape[1])
        reach = types[4].astype(float) @ per_model
        return p * (per_model.sum() / np.maximum(reach, FULL)) ** self.power

    def choose(self, fits: np.ndarray, dem: np.ndarray, num_gpu: int, milli: float, gfree: np.ndarray,
               load: np.ndarray) -> int:
        """The fitting node (index into the cluster) where the weighted fragmentation grows least."""
        types = self.types.arrays()
        w = self.weights(gfree, types)
        before = self._current(gfree, load, types)[fits] @ w
        free = self.cap[fits] - load[fits]
        g = gfree[fits]
        after_g = _take_gpus(g, num_gpu, milli)
        after = type_fragments(free[:, 0] - dem[0], free[:, 1] - dem[1], after_g, self.model[fits], types) @ w
        delta = after - before
        near = np.flatnonzero(delta <= delta.min() + self.tie_milli)
        cand = fits[near]
        if num_gpu == 0 and self.cpu_pods_off_gpu_nodes:
            plain = cand[self.cap[cand, 2] == 0]  # a CPU-only pod on a GPU node only takes what GPU pods need
            cand = plain if plain.size else cand
        with np.errstate(divide="ignore", invalid="ignore"):
            alloc = np.where(self.cap[cand] > 0, (load[cand] + dem) / np.where(self.cap[cand] > 0, self.cap[cand], 1), 0.0)
        return int(cand[int(np.argmin(alloc.mean(axis=1)))])


    def _current(self, gfree: np.ndarray, load: np.ndarray, types: tuple[np.ndarray, ...]) -> np.ndarray:
        """Fragments of every node for every type, recomputed only for nodes whose state changed and
        for types first seen since the last call."""
        if self._gfree is None or self._load is None:
            changed = np.arange(len(load))
        else:
            changed = np.flatnonzero((gfree != self._gfree).any(axis=1) | (load != self._load).any(axis=1))
        free = self.cap - load
        if changed.size:
            old = tuple(a[: self._rows.shape[1]] for a in types)
            self._rows[changed] = type_fragments(free[changed, 0], free[changed, 1], gfree[changed], self.model[changed], old)
        if self._rows.shape[1] < len(types[0]):
            new = tuple(a[self._rows.shape[1]:] for a in types)
            self._rows = np.hstack([self._rows, type_fragments(free[:, 0], free[:, 1], gfree, self.model, new)])
        self._gfree, self._load = gfree.copy(), load.copy()
        return self._rows


def _take_gpus(g: np.ndarray, num_gpu: int, milli: float) -> np.ndarray:
    """Free milli-GPU per slot after the pod lands on each row, GPUs chosen as the replay does
    (a sharing pod takes the tightest GPU that fits, a whole-GPU pod the first fully free ones)."""
    out = g.copy()
    if num_gpu <= 0:
        return out
    rows = np.arange(len(g))
    if num_gpu == 1 and 0 < milli < FULL:
        slack = np.where(g >= milli, g - milli, np.inf)
        out[rows, np.argmin(slack, axis=1)] -= milli
        return out
    full = g >= FULL
    first = np.cumsum(full, axis=1) <= num_gpu
    out[full & first] = 0.0
    return out

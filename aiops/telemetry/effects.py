"""How scenarios and look-alikes change one tick of simulated telemetry.

A :class:`TickState` holds the tick's metric arrays (hosts and VMs) before they become a
``SampleBatch``; the functions here add a failure's precursor, a faded precursor or a benign
look-alike to it and queue the kernel log lines they cause. Magnitudes are calibrated so that
each look-alike reaches the size of a precursor's strongest single signal (see
``aiops.telemetry.scenarios`` for why).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from aiops.telemetry.scenarios import FAILURE_KINDS, Episode

__all__ = ["TickState", "add_load", "apply_precursor", "apply_episode", "precursor_line", "profile"]


@dataclass
class TickState:
    """One tick's telemetry under construction (host arrays, VM arrays, log lines)."""

    t: float
    iv: float
    rng: np.random.Generator
    host: dict[str, np.ndarray]  # cpu, mem, disk, neterr, temp, thr, resp
    vm: dict[str, np.ndarray]    # cpu, mem, disk, net, thr, resp
    vm_host: np.ndarray          # host index of each VM (the simulator's placement)
    vm_mem_base: np.ndarray
    host_ids: list[str]
    host_up: np.ndarray
    vm_up: np.ndarray
    logs: list[tuple[float, str, str]] = field(default_factory=list)

    def lines(self, lam: float, hi: int, kind: str) -> None:
        """Poisson(``lam``) kernel lines of ``kind`` on host ``hi`` within this tick."""
        for _ in range(self.rng.poisson(lam) if lam > 0 else 0):
            ts = self.t - self.rng.uniform(0, self.iv)
            self.logs.append((ts, self.host_ids[hi], precursor_line(kind, self.rng, ts)))


def precursor_line(kind: str, rng: np.random.Generator, ts: float) -> str:
    """A kernel line: disk read error, correctable ECC error, or thermal throttling."""
    up = ts % 1e5
    if kind == "disk":
        return f"kernel: [{up:.6f}] blk_update_request: I/O error, dev sdb, sector {rng.integers(1e9)} op 0x0:(READ) flags 0x0 phys_seg 1 prio class 0"
    if kind == "ecc":
        return (f"kernel: [{up:.6f}] EDAC MC0: 1 CE memory read error on CPU_SrcID#0_MC#0_Chan#{rng.integers(4)}_DIMM#0 "
                f"(channel:{rng.integers(4)} slot:0 page:0x{rng.integers(1 << 20):x} offset:0x0 grain:32 syndrome:0x0)")
    return f"kernel: [{up:.6f}] CPU{rng.integers(64)}: Core temperature above threshold, cpu clock throttled"


def add_load(st: TickState, hi: int | np.ndarray, d: float | np.ndarray) -> None:
    """More CPU on host ``hi``, with the heat, latency and response time that load brings."""
    h = st.host
    old = h["cpu"][hi].copy() if isinstance(hi, np.ndarray) else float(h["cpu"][hi])
    new = np.clip(old + d, 0.0, 1.0)
    h["cpu"][hi] = new
    h["temp"][hi] += 20 * (new - old)
    h["disk"][hi] += 3 * (new - old)
    h["resp"][hi] += 30 * (new**2 - old**2)
    h["thr"][hi] *= (new + 0.01) / (old + 0.01)


def profile(t: float, start: float, end: float, ramp: float = 0.1) -> float:
    """0..1 intensity of an episode: ramps up and down over ``ramp`` of its length."""
    if t < start or t >= end:
        return 0.0
    x = (t - start) / max(end - start, 1e-9)
    return min(1.0, x / ramp, (1 - x) / ramp)


def apply_precursor(st: TickState, kind: str, hi: int, vi: int, p: float, s: float) -> None:
    """A failure's warning at progress ``p`` (0 at onset, 1 at failure), scaled by strength ``s``."""
    if s <= 0 or p <= 0:
        return
    h, rng, iv = st.host, st.rng, st.iv
    if kind == "disk_failure":  # latency creeps up and read errors appear together
        h["disk"][hi] += s * 20 * p**1.2 + (rng.random() < 0.3 * p * s) * rng.exponential(10 * s * p)
        st.lines(s * (0.001 + 0.02 * p**2) * iv, hi, "disk")
    elif kind == "ecc_host_crash":  # correctable errors escalate; retries slow memory access
        st.lines(s * (1 + 300 * p**1.5) / 3600 * iv, hi, "ecc")
        h["resp"][hi] += s * 40 * p
        h["temp"][hi] += 2 * p * s
    elif kind == "thermal_runaway":  # heat without load: a fan or pump is failing
        h["temp"][hi] += s * 30 * p**1.2
        h["resp"][hi] += s * 30 * max(0.0, p - 0.4)
        h["cpu"][hi] = max(0.0, h["cpu"][hi] - 0.05 * p * s)  # throttled: less work done
        st.lines(s * 0.05 * p**3 * iv, hi, "thermal")
    elif kind == "memory_leak_oom":
        base = st.vm_mem_base[vi]
        st.vm["mem"][vi] = base + (0.99 - base) * p * min(1.0, s)
        st.vm["resp"][vi] += 40 * p**3 * s
    elif kind == "network_partition":  # packet errors *and* congestion grow together
        g = s * p**1.2
        h["neterr"][hi] += 0.03 * g * rng.lognormal(0, 0.4)
        h["resp"][hi] += 80 * g
        st.vm["net"][st.vm_host == hi] += 0.03 * g


def _faded(st: TickState, ep: Episode, idx: int) -> None:
    kind = ep.kind.removeprefix("faded_")
    pre = FAILURE_KINDS[kind][0]
    p = (min(st.t, ep.peak_ts) - ep.start_ts) / pre
    decay = 1.0 if st.t <= ep.peak_ts else max(0.0, 1 - (st.t - ep.peak_ts) / max(ep.end_ts - ep.peak_ts, 1.0))
    hi = int(st.vm_host[idx]) if kind == "memory_leak_oom" else idx
    apply_precursor(st, kind, hi, idx, p, ep.strength * decay)


def apply_episode(st: TickState, ep: Episode, idx: int | np.ndarray) -> None:
    """A look-alike or faded precursor; ``idx`` is its host (VM for memory kinds, zone hosts for heat)."""
    if ep.kind.startswith("faded_"):
        _faded(st, ep, int(idx))
        return
    f = profile(st.t, ep.start_ts, ep.end_ts)
    a, h, iv, rng = ep.strength, st.host, st.iv, st.rng
    if ep.kind == "load_spike":
        add_load(st, idx, a * 0.5 * f)
    elif ep.kind == "noisy_neighbour":
        h["disk"][idx] += a * 15 * f
        h["resp"][idx] += a * 45 * f
        st.vm["disk"][st.vm_host == idx] += a * 15 * f
    elif ep.kind == "backup_io_storm":
        add_load(st, idx, 0.1 * a * f)
        h["disk"][idx] += a * 25 * f
        h["thr"][idx] *= 1 + 0.8 * f
    elif ep.kind == "media_errors":
        h["disk"][idx] += a * 1.5 * f
        # ~20 errors: a failing disk's rate 30 min before it dies, spread over 20-90 min (SIM_VERSION 5; 60 before,
        # twice a dying disk's peak rate, which no real remap burst reaches)
        st.lines(a * 20 / (ep.end_ts - ep.start_ts) * iv, int(idx), "disk")
    elif ep.kind == "ecc_burst":
        st.lines(a * 150 / (ep.end_ts - ep.start_ts) * iv, int(idx), "ecc")
    elif ep.kind == "network_blip":
        h["neterr"][idx] += a * 0.012 * f * rng.lognormal(0, 0.3)
        h["resp"][idx] += a * 3 * f
    elif ep.kind == "maintenance_reboot":
        st.host_up[idx] = False
        st.vm_up[st.vm_host == idx] = False
    elif ep.kind == "memory_cache_growth":
        st.vm["mem"][idx] += a * 0.35 * min(1.0, (st.t - ep.start_ts) / (0.6 * (ep.end_ts - ep.start_ts)))
    elif ep.kind == "summer_heat":
        h["temp"][idx] += a * 14 * math.sin(math.pi * (st.t - ep.start_ts) / (ep.end_ts - ep.start_ts))

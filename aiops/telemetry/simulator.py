"""Deterministic fleet simulator: metrics, syslog lines and events with labelled scenarios.

Same seed and same clock give the same telemetry, whatever the tick size used to walk it,
because everything is drawn per simulated day from a day-seeded RNG. The fleet is as messy as a
real one (see ``aiops.telemetry.scenarios``): failures whose precursors are strong, weak or
absent, precursors that fade without a failure, benign look-alikes of every precursor, and
per-host baselines that drift. Failures and recoveries are emitted as platform events
(``host_failed``, ``vm_crashed``, ``host_recovered``, ``disk_replaced``, ...) on the event
stream, like any other platform event; the ground truth (scenarios, look-alikes, campaigns)
stays beside the telemetry for scoring the simulator only.

VM placement lives in one place, ``_vm_host`` (VM index -> host index): every VM-to-host lookup
goes through it (or :meth:`FleetSimulator.host_of`). :meth:`FleetSimulator.move` changes it (the
control plane's migrations, applied by ``aiops.placement.sim_sync``): from the next tick the VM's
telemetry comes from its new host and its old host's failure no longer takes it down. The schedule
(what fails, when) is drawn from the initial placement, ``_vm_home``, so it is a property of the
seed, not of the moves: the same seed fails the same hardware at the same times whatever was moved.
"""
from __future__ import annotations

import math
import time as _time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from aiops.settings import SimulatorSettings
from aiops.telemetry.batch import SampleBatch
from aiops.telemetry.effects import TickState, apply_episode, apply_precursor
from aiops.telemetry.fleet import Fleet, build_fleet
from aiops.telemetry.scenarios import (FADE_P, FAILURE_KINDS, Episode, Scenario, draw_lookalikes, draw_strength,
                                       draw_traits, faded_episode)
from aiops.telemetry.sim_traffic import ATTACK_STEPS, AttackCampaign, AttackStep, TrafficMixin

__all__ = ["HOST_METRICS", "VM_METRICS", "DAY", "FAILURE_KINDS", "ATTACK_STEPS", "Scenario", "Episode", "AttackStep",
           "AttackCampaign", "Tick", "FleetSimulator", "RealTimeClock"]

HOST_METRICS = ("cpu_utilization", "memory_pressure", "disk_io_latency_ms", "network_error_rate",
                "temperature_c", "throughput_mbps", "response_time_ms")
VM_METRICS = ("cpu_utilization", "memory_pressure", "disk_io_latency_ms", "network_error_rate",
              "throughput_mbps", "response_time_ms")
DAY = 86_400.0
_FAILURE_REASON = {"disk_failure": "disk", "ecc_host_crash": "memory_uncorrectable", "thermal_runaway": "thermal",
                   "network_partition": "network", "memory_leak_oom": "oom_killed"}


@dataclass
class Tick:
    ts: float
    metrics: SampleBatch
    logs: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


def _syslog_time(ts: float) -> str:
    d = datetime.fromtimestamp(ts, tz=timezone.utc)
    return f"{d.strftime('%b')} {d.day:2d} {d.strftime('%H:%M:%S')}"


class FleetSimulator(TrafficMixin):
    """Walk a simulated clock and emit telemetry for every interval crossed."""

    def __init__(self, settings: SimulatorSettings) -> None:
        self.cfg = settings
        self.fleet: Fleet = build_fleet(settings.hosts, settings.vms_per_host, settings.zones,
                                        settings.racks_per_zone, settings.seed)
        self.now = settings.start_ts
        rng = np.random.default_rng(settings.seed)
        self._hosts = [h.host_id for h in self.fleet.hosts]
        self._vms = [v.vm_id for v in self.fleet.vms]
        self._host_index = {h: i for i, h in enumerate(self._hosts)}
        self._vm_index = {v: i for i, v in enumerate(self._vms)}
        self._vm_home = np.array([self._host_index[v.host_id] for v in self.fleet.vms], np.int64)
        self._vm_host = self._vm_home.copy()  # placement now
        self._pending: list[dict[str, Any]] = []  # events of moves, emitted with the next tick
        self._crashed: dict[str, np.ndarray] = {}  # scenario id -> VMs its failure took down
        nh, nv = len(self._hosts), len(self._vms)
        self._host_base = rng.uniform(0.15, 0.55, nh)
        self._host_mem = rng.uniform(0.35, 0.65, nh)
        self._nic = np.array([h.nic_gbps for h in self.fleet.hosts], np.float64)
        self._vm_base = rng.uniform(0.1, 0.7, nv)
        self._vm_mem = rng.uniform(0.3, 0.6, nv)
        self._host_ip = [f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256 + 1}" for i in range(nh)]
        zones = [h.zone for h in self.fleet.hosts]
        self._zones = sorted(set(zones))
        self._zone_hosts = {z: np.array([i for i, hz in enumerate(zones) if hz == z], np.int64) for z in self._zones}
        self._traits = draw_traits(nh, settings.seed)
        self.targets = tuple(self._hosts) + tuple(self._vms)
        self.metrics = tuple(dict.fromkeys(HOST_METRICS + VM_METRICS))
        self.target_types = {**{h: "host" for h in self._hosts}, **{v: "vm" for v in self._vms}}
        m_index = {m: i for i, m in enumerate(self.metrics)}
        self._host_cols = np.array([m_index[m] for m in HOST_METRICS], np.int16)
        self._vm_cols = np.array([m_index[m] for m in VM_METRICS], np.int16)
        self.scenarios: list[Scenario] = []
        self.episodes: list[Episode] = []
        self.campaigns: list[AttackCampaign] = []
        self._by_day: dict[int, list[Scenario | Episode]] = {}
        self._injected: list[Scenario | Episode] = []
        self._drift: list[np.ndarray] = []  # per day: (4, hosts) temp, disk factor, resp, mem offsets
        self._ecc_mult: dict[int, np.ndarray] = {}
        self._days_scheduled = -1

    # ---- placement ---------------------------------------------------------
    def host_of(self, vm_id: str) -> str:
        """The host a VM runs on now (the one VM-to-host mapping)."""
        return self._hosts[int(self._vm_host[self._vm_index[vm_id]])]

    def placement(self) -> dict[str, str]:
        """Every VM's host now."""
        return {v: self._hosts[int(h)] for v, h in zip(self._vms, self._vm_host)}

    def move(self, vm_id: str, host_id: str, reason: str = "migration") -> dict[str, Any] | None:
        """Run ``vm_id`` on ``host_id`` from the next tick (a live migration: no downtime).

        Returns the ``vm_migrated`` platform event (also emitted with the next tick), or None when
        the VM is there already. Unknown VMs or hosts raise ``KeyError``.
        """
        vi, hi = self._vm_index[vm_id], self._host_index[host_id]
        src = int(self._vm_host[vi])
        if src == hi:
            return None
        self._vm_host[vi] = hi
        ev = self._event(self.now, "vm_migrated", host_id, vm_id=vm_id, source_host=self._hosts[src], reason=reason)
        self._pending.append(ev)
        return ev

    # ---- scheduling ------------------------------------------------------
    def inject(self, kind: str, target_id: str, failure_ts: float, precursor_s: float | None = None,
               strength: float = 1.0) -> Scenario:
        """Add a scenario by hand (tests, demos)."""
        pre, _, outage, level = FAILURE_KINDS[kind]
        host = target_id if level == "host" else self.host_of(target_id)
        pre = precursor_s or pre
        sc = Scenario(f"sc-{len(self.scenarios):05d}", kind, target_id, host, failure_ts - pre, failure_ts,
                      failure_ts + outage, strength)
        self.scenarios.append(sc)
        self._injected.append(sc)
        return sc

    def inject_episode(self, kind: str, target_id: str, start_ts: float, duration_s: float, strength: float = 1.0,
                       peak_s: float | None = None) -> Episode:
        """Add a look-alike (a ``LOOKALIKE_KINDS`` kind) or a faded precursor (``faded_<failure kind>``) by hand."""
        vm = self.target_types.get(target_id) == "vm"
        host = self.host_of(target_id) if vm else "" if target_id in self._zone_hosts else target_id
        ep = Episode(f"ep-{len(self.episodes):05d}", kind, target_id, host, start_ts, start_ts + duration_s, strength,
                     start_ts + (duration_s if peak_s is None else peak_s))
        self.episodes.append(ep)
        self._injected.append(ep)
        return ep

    def _busy(self, host: str, lo: float, hi: float) -> bool:
        return any(s.host_id == host and s.onset_ts < hi and lo < s.recovery_ts for s in self.scenarios)

    def _schedule_day(self, day: int) -> None:
        rng = np.random.default_rng([self.cfg.seed, day, 1])
        day_start = self.cfg.start_ts + day * DAY
        items: list[Scenario | Episode] = []
        n_fail = rng.poisson(self.cfg.scenario_rate_per_day * len(self._hosts))
        kinds = list(FAILURE_KINDS)
        for _ in range(n_fail):
            kind = kinds[rng.integers(len(kinds))]
            pre, jit, outage, level = FAILURE_KINDS[kind]
            if level == "vm" and self._vms:
                vi = int(rng.integers(len(self._vms)))
                target, host = self._vms[vi], self._hosts[int(self._vm_home[vi])]
            else:
                target = host = self._hosts[rng.integers(len(self._hosts))]
            fail = day_start + rng.uniform(0, DAY)
            pre = pre * (1 + rng.uniform(-jit, jit))
            strength, fades = draw_strength(rng), rng.random() < FADE_P
            if self._busy(host, fail - pre, fail + outage):
                continue  # one incident per host at a time keeps the ground truth unambiguous
            if fades:  # the same warning, but it fades and nothing fails
                ep = faded_episode(rng, f"fd-{day:04d}-{len(self.episodes):05d}", kind, target, host, fail - pre, pre)
                self.episodes.append(ep)
                items.append(ep)
                continue
            sc = Scenario(f"sc-{day:04d}-{len(self.scenarios):05d}", kind, target, host, fail - pre, fail, fail + outage,
                          strength)
            self.scenarios.append(sc)
            items.append(sc)
        look = draw_lookalikes(np.random.default_rng([self.cfg.seed, day, 3]), day, day_start, self._hosts, self._vms,
                               [self._hosts[i] for i in self._vm_home], self._zones, self._traits,
                               self.cfg.lookalike_rate)
        self.episodes.extend(look)
        items.extend(look)
        self._by_day[day] = items
        self._schedule_drift(day)
        for k in range(rng.poisson(self.cfg.attack_rate_per_day)):
            self.campaigns.append(self._draw_campaign(rng, day_start + rng.uniform(0, DAY - 4 * 3600), f"atk-{day:04d}-{k}"))

    def _schedule_drift(self, day: int) -> None:
        """Per-host baselines wander day by day (a random walk; ticks interpolate within the day)."""
        rng = np.random.default_rng([self.cfg.seed, day, 4])
        nh = len(self._hosts)
        step = rng.normal(0, 1, (4, nh)) * np.array([[0.8], [0.05], [1.5], [0.01]]) * min(1.0, self.cfg.lookalike_rate)
        prev = self._drift[-1] if self._drift else np.zeros((4, nh))
        self._drift.append(prev + step)
        self._ecc_mult[day] = rng.lognormal(0, 0.6, nh)

    def _ensure_scheduled(self, until: float) -> None:
        last_day = int((until - self.cfg.start_ts) // DAY) + 1
        while self._days_scheduled < last_day:
            self._days_scheduled += 1
            self._schedule_day(self._days_scheduled)

    def _active(self, t: float) -> list[Scenario | Episode]:
        day = int((t - self.cfg.start_ts) // DAY)
        out: list[Scenario | Episode] = []
        for d in (day - 1, day, day + 1):
            out.extend(self._by_day.get(d, ()))
        out.extend(self._injected)
        return out

    # ---- generation ------------------------------------------------------
    def advance(self, seconds: float) -> list[Tick]:
        """Move the clock forward, one Tick per sampling interval crossed."""
        out = []
        end = self.now + seconds
        while self.now + self.cfg.interval_s <= end + 1e-9:
            self.now += self.cfg.interval_s
            out.append(self.tick(self.now))
        return out

    def _base(self, t: float, rng: np.random.Generator) -> TickState:
        """Healthy telemetry: diurnal load, per-host drift, noise."""
        nh, nv = len(self._hosts), len(self._vms)
        day_f = (t - self.cfg.start_ts) / DAY
        d0 = min(int(day_f), len(self._drift) - 2)
        w = day_f - d0
        drift = self._drift[d0] * (1 - w) + self._drift[d0 + 1] * w
        hour = ((t % DAY) / 3600.0)
        diurnal = 0.5 + 0.3 * math.sin(2 * math.pi * (hour - 8) / 24)
        cpu = np.clip(self._host_base * (0.6 + 0.6 * diurnal) + rng.normal(0, 0.03, nh), 0, 1)
        mem = np.clip(self._host_mem + drift[3] + 0.05 * diurnal + rng.normal(0, 0.01, nh), 0, 1)
        disk = (2 + 3 * cpu + rng.lognormal(0, 0.2, nh)) * np.exp(drift[1])
        neterr = 1e-5 * rng.lognormal(0, 0.5, nh)
        temp = 45 + drift[0] + 20 * cpu + rng.normal(0, 0.7, nh)
        thr = self._nic * 100 * cpu * rng.uniform(0.8, 1.2, nh)
        resp = 20 + drift[2] + 30 * cpu**2 + rng.normal(0, 2, nh)
        vh = self._vm_host
        vcpu = np.clip(self._vm_base * (0.5 + 0.7 * diurnal) + rng.normal(0, 0.04, nv), 0, 1)
        vm = {"cpu": vcpu, "mem": np.clip(self._vm_mem + rng.normal(0, 0.01, nv), 0, 1),
              "disk": disk[vh] * rng.uniform(0.9, 1.3, nv), "net": neterr[vh] * rng.uniform(0.8, 1.2, nv),
              "thr": 200 * vcpu * rng.uniform(0.8, 1.2, nv), "resp": resp[vh] * 0.8 + 25 * vcpu**2 + rng.normal(0, 2, nv)}
        host = {"cpu": cpu, "mem": mem, "disk": disk, "neterr": neterr, "temp": temp, "thr": thr, "resp": resp}
        return TickState(t, self.cfg.interval_s, rng, host, vm, vh, self._vm_mem, self._hosts,
                         np.ones(nh, bool), np.ones(nv, bool))

    def tick(self, t: float) -> Tick:
        self._ensure_scheduled(t)
        rng = np.random.default_rng([self.cfg.seed, int(round((t - self.cfg.start_ts) / self.cfg.interval_s)), 2])
        st = self._base(t, rng)
        events, self._pending = self._pending, []
        for item in self._active(t):
            if isinstance(item, Scenario):
                self._scenario(st, item, events)
            elif item.start_ts <= t < item.end_ts:
                idx = (self._zone_hosts[item.target_id] if item.kind == "summer_heat"
                       else self._vm_index[item.target_id] if self.target_types.get(item.target_id) == "vm"
                       else self._host_index[item.target_id])
                apply_episode(st, item, idx)
                self._maintenance_events(st, item, events)
        self._chronic_ecc(st)
        st.logs.extend(self._auth_lines(t, rng))
        events.extend(self._events(t, rng))
        events.sort(key=lambda e: e["ts"])
        h, v = st.host, st.vm
        h_cols = np.stack([h["cpu"], h["mem"], h["disk"], h["neterr"], h["temp"], h["thr"], h["resp"]])
        v_cols = np.stack([v["cpu"], np.clip(v["mem"], 0, 1), v["disk"], v["net"], v["thr"], v["resp"]])
        batch = self._batch(t, h_cols, v_cols, st.host_up, st.vm_up, rng)
        lines = [f"{_syslog_time(ts)} {host} {msg}" for ts, host, msg in sorted(st.logs)]
        return Tick(t, batch, lines, events)

    def _scenario(self, st: TickState, sc: Scenario, events: list[dict[str, Any]]) -> None:
        """A failure's precursor, its outage, and the failure/recovery events when they happen."""
        t, iv = st.t, st.iv
        hi = self._host_index[sc.host_id]
        host_level = FAILURE_KINDS[sc.kind][3] == "host"
        if t - iv < sc.recovery_ts <= t:
            events.extend(self._recovery_events(sc, hi, host_level))
        if t < sc.onset_ts or t >= sc.recovery_ts:
            return
        if t < sc.failure_ts:
            vi = -1 if host_level else self._vm_index[sc.target_id]
            apply_precursor(st, sc.kind, hi, vi, (t - sc.onset_ts) / (sc.failure_ts - sc.onset_ts), sc.strength)
            return
        first = t - iv < sc.failure_ts
        if host_level:
            st.host_up[hi] = False
            st.vm_up[st.vm_host == hi] = False
            if first:
                st.logs.append((sc.failure_ts, sc.host_id, self._failure_line(sc)))
                events.extend(self._failure_events(sc, hi))
        else:
            vi = self._vm_index[sc.target_id]
            if first:
                st.logs.append((sc.failure_ts, self.host_of(sc.target_id), f"kernel: [{t % 1e5:.6f}] Out of memory: Killed process {4000 + vi} (qemu-{sc.target_id})"))
                events.extend(self._failure_events(sc, hi))
            st.vm["mem"][vi] = self._vm_mem[vi] * 0.5  # restarted after the OOM kill

    def _event(self, ts: float, typ: str, host: str, **extra: Any) -> dict[str, Any]:
        return {"ts": ts, "type": typ, "host": host, "source": "simulator", **extra}

    def _failure_events(self, sc: Scenario, hi: int) -> list[dict[str, Any]]:
        """``host_failed`` and a ``vm_crashed`` per VM taken down, or one ``vm_crashed`` for an OOM kill."""
        reason = _FAILURE_REASON[sc.kind]
        if FAILURE_KINDS[sc.kind][3] != "host":
            return [self._event(sc.failure_ts, "vm_crashed", self.host_of(sc.target_id), vm_id=sc.target_id, reason=reason)]
        self._crashed[sc.scenario_id] = down = np.flatnonzero(self._vm_host == hi)  # the VMs on it now, not before
        out = [self._event(sc.failure_ts, "host_failed", sc.host_id, reason=reason)]
        out += [self._event(sc.failure_ts, "vm_crashed", sc.host_id, vm_id=self._vms[vi], reason="host_failed")
                for vi in down]
        return out

    def _recovery_events(self, sc: Scenario, hi: int, host_level: bool) -> list[dict[str, Any]]:
        if not host_level:
            return [self._event(sc.recovery_ts, "vm_recovered", self.host_of(sc.target_id), vm_id=sc.target_id)]
        out = [self._event(sc.recovery_ts - 60, "disk_replaced", sc.host_id, device="sdb")] if sc.kind == "disk_failure" else []
        out.append(self._event(sc.recovery_ts, "host_recovered", sc.host_id))
        down = self._crashed.pop(sc.scenario_id, np.flatnonzero(self._vm_host == hi))
        out += [self._event(sc.recovery_ts, "vm_recovered", self._hosts[int(self._vm_host[vi])], vm_id=self._vms[vi])
                for vi in down]
        return out

    def _maintenance_events(self, st: TickState, ep: Episode, events: list[dict[str, Any]]) -> None:
        """Planned reboots are announced (start and end), so they never read as failures."""
        if ep.kind != "maintenance_reboot":
            return
        if st.t - st.iv < ep.start_ts:
            events.append(self._event(ep.start_ts, "host_maintenance", ep.host_id, action="start"))
        if ep.end_ts - st.iv <= st.t:
            events.append(self._event(ep.end_ts, "host_maintenance", ep.host_id, action="end"))

    def _chronic_ecc(self, st: TickState) -> None:
        """Hosts with a DIMM that logs correctable errors for ever, at a rate that varies by day."""
        day = int((st.t - self.cfg.start_ts) // DAY)
        rate = self._traits.ecc_chronic_per_h * self._ecc_mult[day] * min(1.0, self.cfg.lookalike_rate)
        for hi in np.flatnonzero(rate > 0):
            st.lines(rate[hi] / 3600 * st.iv, int(hi), "ecc")

    def _batch(self, t: float, h_cols: np.ndarray, v_cols: np.ndarray, host_up: np.ndarray, vm_up: np.ndarray,
               rng: np.random.Generator) -> SampleBatch:
        nh = h_cols.shape[1]
        h_idx = np.flatnonzero(host_up)
        v_idx = np.flatnonzero(vm_up)
        nhm, nvm = len(HOST_METRICS), len(VM_METRICS)
        target_idx = np.concatenate([np.repeat(h_idx, nhm), np.repeat(nh + v_idx, nvm)]).astype(np.int32)
        metric_idx = np.concatenate([np.tile(self._host_cols, h_idx.size), np.tile(self._vm_cols, v_idx.size)])
        values = np.concatenate([h_cols[:, h_idx].T.ravel(), v_cols[:, v_idx].T.ravel()]).astype(np.float32)
        # collectors scrape with a little jitter
        ts = t - rng.uniform(0, 0.5, target_idx.size)
        return SampleBatch(self.targets, self.metrics, target_idx, metric_idx, ts, values, self.target_types)

    def _failure_line(self, sc: Scenario) -> str:
        t = sc.failure_ts % 1e5
        msg = {
            "disk_failure": f"kernel: [{t:.6f}] sd 2:0:0:0: [sdb] tag#0 FAILED Result: hostbyte=DID_BAD_TARGET; Buffer I/O error on dev sdb1, logical block 0, async page read",
            "ecc_host_crash": f"kernel: [{t:.6f}] EDAC MC0: 1 UE memory read error on CPU_SrcID#0_MC#0_Chan#1_DIMM#0 (uncorrectable)",
            "thermal_runaway": f"kernel: [{t:.6f}] CPU0: Core temperature above threshold, cpu clock throttled (total events = 9120)",
            "network_partition": f"kernel: [{t:.6f}] mlx5_core 0000:3b:00.0 ens1f0: Link down",
        }[sc.kind]
        return msg

    # ---- ground truth ------------------------------------------------------
    def schedule_until(self, ts: float) -> None:
        """Draw the schedule up to ``ts`` without generating telemetry (diagnosis of a replayed period)."""
        self._ensure_scheduled(ts)

    def ground_truth(self) -> dict[str, Any]:
        """Scenarios, look-alikes / faded precursors and attack steps drawn so far, for scoring only."""
        return {
            "scenarios": [asdict(s) for s in self.scenarios],
            "episodes": [asdict(e) for e in self.episodes],
            "campaigns": [{"campaign_id": c.campaign_id, "steps": [asdict(s) for s in c.steps]} for c in self.campaigns],
        }


class RealTimeClock:
    """Maps wall time to simulated time at a fixed speedup."""

    def __init__(self, sim_start: float, speedup: float) -> None:
        self._wall0 = _time.monotonic()
        self._sim0 = sim_start
        self._speedup = speedup

    def sim_now(self) -> float:
        return self._sim0 + (_time.monotonic() - self._wall0) * self._speedup

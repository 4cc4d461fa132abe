"""Deterministic fleet simulator: metrics, syslog lines and events with labelled scenarios.

Same seed and same clock give the same telemetry, whatever the tick size used to
walk it, because scenarios are drawn per simulated day from a day-seeded RNG.
Failure scenarios carry realistic precursors (disk latency and read errors before a
disk failure, a correctable-ECC storm before a crash, a temperature climb, a memory
leak before OOM, rising packet errors before a partition). Attack campaigns chain
ssh brute force -> login -> sudo -> lateral ssh -> exfiltration. Ground truth is
kept beside the telemetry for evaluation.
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
from aiops.telemetry.fleet import Fleet, build_fleet

__all__ = ["HOST_METRICS", "VM_METRICS", "DAY", "FAILURE_KINDS", "ATTACK_STEPS", "Scenario", "AttackStep",
           "AttackCampaign", "Tick", "FleetSimulator", "RealTimeClock"]

HOST_METRICS = ("cpu_utilization", "memory_pressure", "disk_io_latency_ms", "network_error_rate",
                "temperature_c", "throughput_mbps", "response_time_ms")
VM_METRICS = ("cpu_utilization", "memory_pressure", "disk_io_latency_ms", "network_error_rate",
              "throughput_mbps", "response_time_ms")
DAY = 86_400.0

# kind -> (precursor seconds, jitter fraction, outage seconds, level)
FAILURE_KINDS: dict[str, tuple[float, float, float, str]] = {
    "disk_failure": (6 * 3600, 0.3, 4 * 3600, "host"),
    "ecc_host_crash": (2 * 3600, 0.3, 2 * 3600, "host"),
    "thermal_runaway": (90 * 60, 0.3, 3 * 3600, "host"),
    "memory_leak_oom": (3 * 3600, 0.3, 10 * 60, "vm"),
    "network_partition": (45 * 60, 0.3, 30 * 60, "host"),
}
ATTACK_STEPS = (
    ("brute_force", "credential_access", "T1110"),
    ("valid_login", "initial_access", "T1078"),
    ("privilege_escalation", "privilege_escalation", "T1548.003"),
    ("lateral_movement", "lateral_movement", "T1021.004"),
    ("exfiltration", "exfiltration", "T1048"),
)


@dataclass(frozen=True)
class Scenario:
    scenario_id: str
    kind: str
    target_id: str
    host_id: str
    onset_ts: float
    failure_ts: float
    recovery_ts: float


@dataclass(frozen=True)
class AttackStep:
    step: str
    tactic: str
    technique: str
    ts: float
    host_id: str
    user: str
    src_ip: str
    dst_ip: str


@dataclass(frozen=True)
class AttackCampaign:
    campaign_id: str
    steps: tuple[AttackStep, ...]


@dataclass
class Tick:
    ts: float
    metrics: SampleBatch
    logs: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


def _syslog_time(ts: float) -> str:
    d = datetime.fromtimestamp(ts, tz=timezone.utc)
    return f"{d.strftime('%b')} {d.day:2d} {d.strftime('%H:%M:%S')}"


class FleetSimulator:
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
        self._vm_host = np.array([self._host_index[v.host_id] for v in self.fleet.vms], np.int64)
        nh, nv = len(self._hosts), len(self._vms)
        self._host_base = rng.uniform(0.15, 0.55, nh)
        self._host_mem = rng.uniform(0.35, 0.65, nh)
        self._nic = np.array([h.nic_gbps for h in self.fleet.hosts], np.float64)
        self._vm_base = rng.uniform(0.1, 0.7, nv)
        self._vm_mem = rng.uniform(0.3, 0.6, nv)
        self._host_ip = [f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256 + 1}" for i in range(nh)]
        self.targets = tuple(self._hosts) + tuple(self._vms)
        self.metrics = tuple(dict.fromkeys(HOST_METRICS + VM_METRICS))
        self.target_types = {**{h: "host" for h in self._hosts}, **{v: "vm" for v in self._vms}}
        m_index = {m: i for i, m in enumerate(self.metrics)}
        self._host_cols = np.array([m_index[m] for m in HOST_METRICS], np.int16)
        self._vm_cols = np.array([m_index[m] for m in VM_METRICS], np.int16)
        self.scenarios: list[Scenario] = []
        self.campaigns: list[AttackCampaign] = []
        self._days_scheduled = -1
        self._pending_logs: list[tuple[float, str]] = []
        self._pending_events: list[dict[str, Any]] = []

    # ---- scheduling ------------------------------------------------------
    def inject(self, kind: str, target_id: str, failure_ts: float, precursor_s: float | None = None) -> Scenario:
        """Add a scenario by hand (tests, demos)."""
        pre, _, outage, level = FAILURE_KINDS[kind]
        host = target_id if level == "host" else self.fleet.vms[self._vms.index(target_id)].host_id
        pre = precursor_s or pre
        sc = Scenario(f"sc-{len(self.scenarios):05d}", kind, target_id, host, failure_ts - pre, failure_ts, failure_ts + outage)
        self.scenarios.append(sc)
        return sc

    def _schedule_day(self, day: int) -> None:
        rng = np.random.default_rng([self.cfg.seed, day, 1])
        day_start = self.cfg.start_ts + day * DAY
        n_fail = rng.poisson(self.cfg.scenario_rate_per_day * len(self._hosts))
        kinds = list(FAILURE_KINDS)
        for _ in range(n_fail):
            kind = kinds[rng.integers(len(kinds))]
            pre, jit, outage, level = FAILURE_KINDS[kind]
            if level == "vm" and self._vms:
                vm = self.fleet.vms[rng.integers(len(self._vms))]
                target, host = vm.vm_id, vm.host_id
            else:
                target = host = self._hosts[rng.integers(len(self._hosts))]
            fail = day_start + rng.uniform(0, DAY)
            pre = pre * (1 + rng.uniform(-jit, jit))
            if any(s.host_id == host and s.onset_ts < fail + outage and fail < s.recovery_ts for s in self.scenarios):
                continue  # one incident per host at a time keeps the ground truth unambiguous
            self.scenarios.append(Scenario(f"sc-{day:04d}-{len(self.scenarios):05d}", kind, target, host, fail - pre, fail, fail + outage))
        n_att = rng.poisson(self.cfg.attack_rate_per_day)
        for k in range(n_att):
            self.campaigns.append(self._draw_campaign(rng, day_start + rng.uniform(0, DAY - 4 * 3600), f"atk-{day:04d}-{k}"))

    def _draw_campaign(self, rng: np.random.Generator, t0: float, cid: str) -> AttackCampaign:
        nh = len(self._hosts)
        x = int(rng.integers(nh))
        y = int((x + 1 + rng.integers(max(1, nh - 1))) % nh) if nh > 1 else x
        attacker = f"203.0.113.{rng.integers(1, 254)}"
        drop = f"198.51.100.{rng.integers(1, 254)}"
        user = str(rng.choice(["admin", "deploy", "ubuntu", "oracle"]))
        t1 = t0 + rng.uniform(300, 600)
        t2 = t1 + rng.uniform(60, 300)
        t3 = t2 + rng.uniform(300, 900)
        t4 = t3 + rng.uniform(600, 1800)
        hx, hy = self._hosts[x], self._hosts[y]
        steps = (
            AttackStep("brute_force", "credential_access", "T1110", t0, hx, user, attacker, self._host_ip[x]),
            AttackStep("valid_login", "initial_access", "T1078", t1, hx, user, attacker, self._host_ip[x]),
            AttackStep("privilege_escalation", "privilege_escalation", "T1548.003", t2, hx, user, self._host_ip[x], self._host_ip[x]),
            AttackStep("lateral_movement", "lateral_movement", "T1021.004", t3, hy, "root", self._host_ip[x], self._host_ip[y]),
            AttackStep("exfiltration", "exfiltration", "T1048", t4, hy, "root", self._host_ip[y], drop),
        )
        return AttackCampaign(cid, steps)

    def _ensure_scheduled(self, until: float) -> None:
        last_day = int((until - self.cfg.start_ts) // DAY) + 1
        while self._days_scheduled < last_day:
            self._days_scheduled += 1
            self._schedule_day(self._days_scheduled)

    # ---- generation ------------------------------------------------------
    def advance(self, seconds: float) -> list[Tick]:
        """Move the clock forward, one Tick per sampling interval crossed."""
        out = []
        end = self.now + seconds
        while self.now + self.cfg.interval_s <= end + 1e-9:
            self.now += self.cfg.interval_s
            out.append(self.tick(self.now))
        return out

    def tick(self, t: float) -> Tick:
        self._ensure_scheduled(t)
        iv = self.cfg.interval_s
        rng = np.random.default_rng([self.cfg.seed, int(round((t - self.cfg.start_ts) / iv)), 2])
        nh, nv = len(self._hosts), len(self._vms)
        hour = ((t % DAY) / 3600.0)
        diurnal = 0.5 + 0.3 * math.sin(2 * math.pi * (hour - 8) / 24)
        cpu = np.clip(self._host_base * (0.6 + 0.6 * diurnal) + rng.normal(0, 0.03, nh), 0, 1)
        mem = np.clip(self._host_mem + 0.05 * diurnal + rng.normal(0, 0.01, nh), 0, 1)
        disk = 2 + 3 * cpu + rng.lognormal(0, 0.2, nh)
        neterr = 1e-5 * rng.lognormal(0, 0.5, nh)
        temp = 45 + 20 * cpu + rng.normal(0, 0.7, nh)
        thr = self._nic * 100 * cpu * rng.uniform(0.8, 1.2, nh)
        resp = 20 + 30 * cpu**2 + rng.normal(0, 2, nh)
        vcpu = np.clip(self._vm_base * (0.5 + 0.7 * diurnal) + rng.normal(0, 0.04, nv), 0, 1)
        vmem = np.clip(self._vm_mem + rng.normal(0, 0.01, nv), 0, 1)
        vdisk = disk[self._vm_host] * rng.uniform(0.9, 1.3, nv)
        vnet = neterr[self._vm_host] * rng.uniform(0.8, 1.2, nv)
        vthr = 200 * vcpu * rng.uniform(0.8, 1.2, nv)
        vresp = resp[self._vm_host] * 0.8 + 25 * vcpu**2 + rng.normal(0, 2, nv)
        host_up = np.ones(nh, bool)
        vm_up = np.ones(nv, bool)
        logs: list[tuple[float, str, str]] = []
        for sc in self.scenarios:
            if t < sc.onset_ts or t >= sc.recovery_ts:
                continue
            hi = self._host_index[sc.host_id]
            if t >= sc.failure_ts:
                if FAILURE_KINDS[sc.kind][3] == "host":
                    host_up[hi] = False
                    vm_up[self._vm_host == hi] = False
                    if t - iv < sc.failure_ts:
                        logs.append((sc.failure_ts, sc.host_id, self._failure_line(sc)))
                else:
                    vi = self._vms.index(sc.target_id)
                    if t - iv < sc.failure_ts:
                        logs.append((sc.failure_ts, sc.host_id, f"kernel: [{t % 1e5:.6f}] Out of memory: Killed process {4000 + vi} (qemu-{sc.target_id})"))
                    vmem[vi] = self._vm_mem[vi] * 0.5  # restarted after the OOM kill
                continue
            p = (t - sc.onset_ts) / (sc.failure_ts - sc.onset_ts)
            lam = 0.0
            if sc.kind == "disk_failure":
                disk[hi] += 40 * p**2 + (rng.random() < p) * rng.exponential(15 * p)
                lam, line = (0.002 + 0.05 * p**2) * iv, "disk"
            elif sc.kind == "ecc_host_crash":
                lam, line = (0.003 + 0.3 * p**1.5) * iv, "ecc"
                temp[hi] += 2 * p
            elif sc.kind == "thermal_runaway":
                temp[hi] += 40 * p**1.5
                resp[hi] += 60 * max(0.0, p - 0.5)
                lam, line = (0.05 * p**3) * iv, "thermal"
            elif sc.kind == "memory_leak_oom":
                vi = self._vms.index(sc.target_id)
                vmem[vi] = self._vm_mem[vi] + (0.99 - self._vm_mem[vi]) * p
                vresp[vi] += 40 * p**3
            elif sc.kind == "network_partition":
                neterr[hi] += 0.02 * p**2 * rng.lognormal(0, 0.4)
                resp[hi] += 80 * p**2
                vnet[self._vm_host == hi] += 0.02 * p**2
            for _ in range(rng.poisson(lam) if lam else 0):
                ts = t - rng.uniform(0, iv)
                logs.append((ts, sc.host_id, self._precursor_line(line, rng, ts)))
        # security and benign auth traffic
        logs.extend(self._auth_lines(t, rng))
        events = self._events(t, rng)
        h_cols = np.stack([cpu, mem, disk, neterr, temp, thr, resp])  # metrics x hosts
        v_cols = np.stack([vcpu, vmem, vdisk, vnet, vthr, vresp])
        batch = self._batch(t, h_cols, v_cols, host_up, vm_up, rng)
        lines = [f"{_syslog_time(ts)} {host} {msg}" for ts, host, msg in sorted(logs)]
        return Tick(t, batch, lines, events)

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

    def _precursor_line(self, kind: str, rng: np.random.Generator, ts: float) -> str:
        up = ts % 1e5
        if kind == "disk":
            return f"kernel: [{up:.6f}] blk_update_request: I/O error, dev sdb, sector {rng.integers(1e9)} op 0x0:(READ) flags 0x0 phys_seg 1 prio class 0"
        if kind == "ecc":
            return (f"kernel: [{up:.6f}] EDAC MC0: 1 CE memory read error on CPU_SrcID#0_MC#0_Chan#{rng.integers(4)}_DIMM#0 "
                    f"(channel:{rng.integers(4)} slot:0 page:0x{rng.integers(1 << 20):x} offset:0x0 grain:32 syndrome:0x0)")
        return f"kernel: [{up:.6f}] CPU{rng.integers(64)}: Core temperature above threshold, cpu clock throttled"

    def _auth_lines(self, t: float, rng: np.random.Generator) -> list[tuple[float, str, str]]:
        iv = self.cfg.interval_s
        out: list[tuple[float, str, str]] = []
        nh = len(self._hosts)
        # benign: occasional typos by staff from inside, then success
        for _ in range(rng.poisson(0.002 * nh * iv / 10)):
            h = self._hosts[rng.integers(nh)]
            ip = f"10.200.0.{rng.integers(2, 250)}"
            user = str(rng.choice(["alice", "bob", "carol", "dave"]))
            ts = t - rng.uniform(0, iv)
            port = rng.integers(30000, 65000)
            if rng.random() < 0.3:
                out.append((ts, h, f"sshd[{rng.integers(1000, 60000)}]: Failed password for {user} from {ip} port {port} ssh2"))
            out.append((ts + 0.5, h, f"sshd[{rng.integers(1000, 60000)}]: Accepted publickey for {user} from {ip} port {port} ssh2"))
        for camp in self.campaigns:
            for st in camp.steps:
                pid = 20000 + int(st.ts) % 30000
                if st.step == "brute_force":
                    t_end = camp.steps[1].ts
                    if t - iv < t_end and t >= st.ts:
                        lo, hi = max(st.ts, t - iv), min(t, t_end)
                        for _ in range(rng.poisson(max(0.0, hi - lo) * 0.15)):
                            ts = rng.uniform(lo, hi)
                            u = str(rng.choice([st.user, "root", "test", "guest"]))
                            out.append((ts, st.host_id, f"sshd[{pid}]: Failed password for invalid user {u} from {st.src_ip} port {rng.integers(30000, 65000)} ssh2"))
                elif t - iv < st.ts <= t:
                    if st.step == "valid_login":
                        out.append((st.ts, st.host_id, f"sshd[{pid}]: Accepted password for {st.user} from {st.src_ip} port {rng.integers(30000, 65000)} ssh2"))
                    elif st.step == "privilege_escalation":
                        out.append((st.ts, st.host_id, f"sudo: {st.user} : TTY=pts/0 ; PWD=/home/{st.user} ; USER=root ; COMMAND=/bin/bash"))
                    elif st.step == "lateral_movement":
                        out.append((st.ts, st.host_id, f"sshd[{pid}]: Accepted publickey for root from {st.src_ip} port {rng.integers(30000, 65000)} ssh2"))
        return out

    def _events(self, t: float, rng: np.random.Generator) -> list[dict[str, Any]]:
        iv = self.cfg.interval_s
        ev: list[dict[str, Any]] = []
        nh, nv = len(self._hosts), len(self._vms)
        for _ in range(rng.poisson(0.01 * nh * iv / 10)):
            i = int(rng.integers(nh))
            ev.append({"ts": t - rng.uniform(0, iv), "type": "network_flow", "host": self._hosts[i], "src_ip": self._host_ip[i],
                       "dst_ip": f"10.{rng.integers(256)}.{rng.integers(256)}.{rng.integers(1, 255)}", "dst_port": int(rng.choice([443, 5432, 6379, 8080])),
                       "bytes_out": int(rng.lognormal(10, 1.5)), "bytes_in": int(rng.lognormal(11, 1.5))})
        if nv:
            for _ in range(rng.poisson(0.002 * nv * iv / 10)):
                vm = self.fleet.vms[rng.integers(nv)]
                ev.append({"ts": t - rng.uniform(0, iv), "type": "vm_lifecycle", "host": vm.host_id, "vm_id": vm.vm_id,
                           "tenant": vm.tenant, "action": str(rng.choice(["start", "stop", "reboot", "snapshot", "migrate"]))})
            for _ in range(rng.poisson(0.005 * nv * iv / 10)):
                vm = self.fleet.vms[rng.integers(nv)]
                ev.append({"ts": t - rng.uniform(0, iv), "type": "api_call", "user": f"svc-{vm.tenant}", "tenant": vm.tenant,
                           "action": str(rng.choice(["GetVM", "ListVMs", "UpdateVM", "GetMetrics"])), "vm_id": vm.vm_id, "outcome": "success"})
        for camp in self.campaigns:
            for st in camp.steps:
                if t - iv < st.ts <= t and st.step in ("lateral_movement", "exfiltration"):
                    big = st.step == "exfiltration"
                    ev.append({"ts": st.ts, "type": "network_flow", "host": st.host_id if big else camp.steps[2].host_id,
                               "src_ip": st.src_ip, "dst_ip": st.dst_ip, "dst_port": 443 if big else 22,
                               "bytes_out": int(rng.uniform(2e9, 1e10)) if big else int(rng.uniform(5e3, 5e4)),
                               "bytes_in": int(rng.uniform(1e3, 1e4))})
        ev.sort(key=lambda e: e["ts"])
        return ev

    # ---- ground truth ------------------------------------------------------
    def ground_truth(self) -> dict[str, Any]:
        """Scenarios and attack steps drawn so far, for evaluation."""
        return {
            "scenarios": [asdict(s) for s in self.scenarios],
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

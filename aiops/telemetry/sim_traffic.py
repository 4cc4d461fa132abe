"""Security and platform traffic of the fleet simulator: attack campaigns, auth lines, platform events.

A mixin of :class:`aiops.telemetry.simulator.FleetSimulator` (it reads the simulator's hosts, VMs,
placement and campaigns); kept apart so the simulator module holds the fleet's health.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ATTACK_STEPS", "AttackStep", "AttackCampaign", "TrafficMixin"]

ATTACK_STEPS = (
    ("brute_force", "credential_access", "T1110"),
    ("valid_login", "initial_access", "T1078"),
    ("privilege_escalation", "privilege_escalation", "T1548.003"),
    ("lateral_movement", "lateral_movement", "T1021.004"),
    ("exfiltration", "exfiltration", "T1048"),
)


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


class TrafficMixin:
    """Attack campaigns, staff logins and platform events (flows, VM lifecycle, API calls)."""

    _hosts: list[str]
    _host_ip: list[str]
    _vms: list[str]
    campaigns: list[AttackCampaign]
    cfg: Any
    fleet: Any

    def host_of(self, vm_id: str) -> str:  # provided by the simulator (its one VM-to-host mapping)
        raise NotImplementedError

    def inject_campaign(self, t0: float, campaign_id: str, rng: np.random.Generator,
                        avoid: tuple[str, ...] = ()) -> AttackCampaign:
        """Add an attack campaign starting at ``t0`` by hand (tests, the first-run demo); ``rng`` picks its hosts,
        none of ``avoid`` when the fleet has others."""
        camp = self._draw_campaign(rng, t0, campaign_id)
        for _ in range(20):
            if not {s.host_id for s in camp.steps} & set(avoid):
                break
            camp = self._draw_campaign(rng, t0, campaign_id)
        self.campaigns.append(camp)
        return camp

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
                ev.append({"ts": t - rng.uniform(0, iv), "type": "vm_lifecycle", "host": self.host_of(vm.vm_id), "vm_id": vm.vm_id,
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

"""UEBA: per-entity categorical profiles scored with Good–Turing novelty.

user: source network, host, hour, action; host: users, source networks, actions. The chance of
a never-seen value is the share of values seen exactly once; new entities are in warm-up and are
scored against the population profile of their kind instead of their own.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiops.security.correlation.entities import AssetMap, EntityResolver
from aiops.security.correlation.signals import Signal
from aiops.security.events import SecurityEvent


def _net16(ip: str | None) -> str:
    if not ip:
        return "-"
    if ":" in ip:
        return ip.rsplit(":", 4)[0]
    a, _, rest = ip.partition(".")
    b = rest.partition(".")[0]
    return f"{a}.{b}"


_DAY = 86_400.0


_CYCLIC = frozenset({"hour"})  # a time-of-day profile means nothing before it has seen a whole day


class Profile:
    __slots__ = ("counts", "n", "n1", "first_ts")

    def __init__(self, first_ts: float = 0.0) -> None:
        self.first_ts = first_ts
        self.counts: dict[Any, int] = {}
        self.n = 0
        self.n1 = 0

    def snapshot(self) -> list[Any]:
        """JSON-safe state: [[[value, count], ...], n, n1, first_ts]."""
        return [[[v, c] for v, c in self.counts.items()], self.n, self.n1, self.first_ts]

    @classmethod
    def restore(cls, row: list[Any]) -> "Profile":
        """A profile from :meth:`snapshot` output."""
        counts, n, n1, first = row
        p = cls(float(first))
        p.counts = {v: int(c) for v, c in counts}
        p.n, p.n1 = int(n), int(n1)
        return p

    def p(self, v: Any) -> float:
        """Probability of a value at least this rare: seen → (c+1)/(n+1); unseen → Good–Turing (n1+1)/(n+1)."""
        c = self.counts.get(v, 0)
        return (c + 1.0) / (self.n + 1.0) if c else (self.n1 + 1.0) / (self.n + 1.0)

    def add(self, v: Any) -> None:
        c = self.counts.get(v, 0)
        self.counts[v] = c + 1
        self.n += 1
        if c == 0:
            self.n1 += 1
        elif c == 1:
            self.n1 -= 1


@dataclass
class UebaConfig:
    warmup: int = 20  # observations before an entity's own profile is trusted
    population_warmup: int = 200
    min_score: float = 0.99
    no_learn_score: float = 0.999  # events scoring at least this stay out of the profiles


_AUTH_TACTIC = {
    ("ssh_login", "failure"): ("credential_access", "T1110"),
    ("ssh_invalid_user", "failure"): ("credential_access", "T1110"),
    ("pam_auth", "failure"): ("credential_access", "T1110"),
    ("sudo", "success"): ("privilege_escalation", "T1548.003"),
    ("su", "success"): ("privilege_escalation", "T1548"),
}


class UebaDetector:
    """Per-user and per-host behaviour profiles with rarity scores and a warm-up for new entities."""

    def __init__(self, config: UebaConfig | None = None, resolver: EntityResolver | None = None) -> None:
        self.cfg = config or UebaConfig()
        self.resolver = resolver or EntityResolver()
        self.assets: AssetMap = self.resolver.assets
        self._prof: dict[tuple[str, str, str], Profile] = {}
        self._pop: dict[tuple[str, str], Profile] = {}
        self.scored = 0

    def _features(self, ev: SecurityEvent) -> list[tuple[str, str, str, Any]]:
        """(entity kind, entity id, attribute, value) observed by this event."""
        out: list[tuple[str, str, str, Any]] = []
        act = ev.action
        if act is None:
            return out
        hour = int(ev.timestamp // 3600 % 24)
        if ev.source in ("auth", "syslog", "auditd"):
            host = ev.host or "-"
            okv = ev.outcome or "-"
            net = _net16(ev.src_ip) if ev.src_ip else "local"
            out.append(("host", host, "auth_action", f"{act}:{okv}"))
            out.append(("host", host, "auth_src_net", f"{net}:{okv}"))
            if ev.user and okv == "success":
                uid = f"{ev.user}@{host}"
                out.append(("host", host, "auth_user", ev.user))
                out.append(("user", uid, "src_net", net))
                out.append(("user", uid, "action", act))
                out.append(("user", uid, "hour", hour))
        elif ev.user:  # API-style sources (NovaCron audit, CloudTrail, Windows logons): per-user profile
            out.append(("user", ev.user, "action", act))
            out.append(("user", ev.user, "hour", hour))
            if ev.vm_id:
                out.append(("user", ev.user, "vm", ev.vm_id))
            if ev.src_ip:
                out.append(("user", ev.user, "src_net", _net16(ev.src_ip)))
        return out

    def _p(self, kind: str, eid: str, attr: str, v: Any, ts: float) -> float:
        """Entity profile first; unseen values back off to the population (Katz-style):
        p = P(new value for this entity) × P(value in the population)."""
        pop = self._pop.get((kind, attr))
        pop_ok = pop is not None and pop.n >= self.cfg.population_warmup and (
            attr not in _CYCLIC or ts - pop.first_ts >= _DAY)
        p_pop = pop.p(v) if pop_ok else 1.0  # type: ignore[union-attr]
        prof = self._prof.get((kind, eid, attr))
        if prof is None or prof.n < self.cfg.warmup or (attr in _CYCLIC and ts - prof.first_ts < _DAY):
            return p_pop  # warm-up: judge a new entity by its kind's population
        if prof.counts.get(v, 0):
            return prof.p(v)
        return min(1.0, prof.p(v) * p_pop)

    def observe(self, ev: SecurityEvent, learn: bool = True) -> list[Signal]:
        feats = self._features(ev)
        if not feats:
            return []
        self.scored += 1
        best_p, best = 1.0, None
        for kind, eid, attr, v in feats:
            p = self._p(kind, eid, attr, v, ev.timestamp)
            if p < best_p:
                best_p, best = p, (kind, eid, attr, v)
        s = 1.0 - min(1.0, best_p * len(feats))  # Bonferroni over the attributes looked at
        # Do not learn from what we alert on: otherwise one attack makes the next identical one "normal"
        # (the second lateral SSH into the same host would no longer be rare).
        if learn and s < self.cfg.no_learn_score:
            for kind, eid, attr, v in feats:
                key = (kind, eid, attr)
                prof = self._prof.get(key)
                if prof is None:
                    prof = self._prof[key] = Profile(ev.timestamp)
                prof.add(v)
                pk = (kind, attr)
                pop = self._pop.get(pk)
                if pop is None:
                    pop = self._pop[pk] = Profile(ev.timestamp)
                pop.add(v)
        if s < self.cfg.min_score or best is None:
            return []
        tac, tech = self._tactic(ev)
        ents, edges = self.resolver.nodes(ev)
        kind, eid, attr, v = best
        return [Signal(ts=ev.timestamp, kind="ueba", name=f"ueba_rare_{attr}", score=s, entities=ents, edges=edges,
                       tactics=(tac,) if tac else (), techniques=(tech,) if tech else (),
                       severity="high" if s >= 0.999 else "medium",
                       summary=f"{kind} {eid}: rare {attr}={v} ({ev.action} {ev.outcome or ''})".strip(),
                       detail={"entity_kind": kind, "entity": eid, "attribute": attr, "value": v, "p": best_p})]

    def _tactic(self, ev: SecurityEvent) -> tuple[str | None, str | None]:
        if ev.action == "ssh_login" and ev.outcome == "success":
            if self.assets.host_of(ev.src_ip) is not None:
                return "lateral_movement", "T1021.004"
            return "initial_access", "T1078"
        hit = _AUTH_TACTIC.get((ev.action or "", ev.outcome or ""))
        if hit:
            return hit
        a = (ev.action or "").lower()
        if any(w in a for w in ("delete", "terminate", "destroy")):
            return "impact", "T1485"
        return None, None

    def snapshot(self) -> dict[str, Any]:
        """The learned profiles as JSON-safe rows ({"prof": [[key, *profile]...], "pop": ...})."""
        return {name: [[list(k), *p.snapshot()] for k, p in profs.items()]
                for name, profs in (("prof", self._prof), ("pop", self._pop))}

    def restore(self, doc: dict[str, Any]) -> None:
        """Replace the profiles with :meth:`snapshot` output."""
        self._prof = {tuple(row[0]): Profile.restore(row[1:]) for row in doc["prof"]}  # type: ignore[misc]
        self._pop = {tuple(row[0]): Profile.restore(row[1:]) for row in doc["pop"]}  # type: ignore[misc]

    def profiles(self) -> int:
        return len(self._prof)

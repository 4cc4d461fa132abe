"""Graph correlation of suspicious signals into incidents.

Entities (user, host, VM, IP, process, domain) are nodes; every suspicious signal (a Sigma
alert, a detector anomaly, a threat-intel hit) adds timed edges between the entities it
names. An incident is a connected component of such edges inside a sliding window.

Why union-find and not ``nx.connected_components``: recomputing components per event is
O(graph) and the stream must sustain tens of thousands of events per second. Components are
kept incrementally (union by size, path halving); expiry is lazy: an entity whose component
has been quiet for longer than the window gets a fresh node id (a new *generation*), so stale
members can never leak into new activity, and a periodic sweep deletes expired components.
networkx is used where it is cheap and useful: per-incident graphs for export, pivot paths
(A → B → C) and rendering.

Two thresholds keep benign noise out of the graph: a signal at or above ``seed_score`` may
start a component; a weaker one (≥ ``attach_score``) is kept only if it touches an entity
that is already part of live suspicious activity. That is how a lateral SSH login that is
only mildly unusual on its own is linked once its source host is already compromised.
"""
from __future__ import annotations

import bisect
import math
import time
from dataclasses import dataclass, field
from typing import Any

from aiops.security.correlation.signals import TACTIC_STAGE, Signal


@dataclass(slots=True)
class Incident:
    incident_id: str
    created_ts: float
    raised_wall: float
    first_ts: float = 0.0
    last_ts: float = 0.0
    risk: float = 0.0
    severity: str = "low"
    status: str = "open"  # open | closed (window expired) | merged
    merged_into: str | None = None
    merged_from: list[str] = field(default_factory=list)
    tactics: dict[str, float] = field(default_factory=dict)
    progression: int = 0
    root: int = -1

    def summary(self, comp: "Component | None") -> dict[str, Any]:
        out = {"id": self.incident_id, "status": self.status, "severity": self.severity, "risk": round(self.risk, 4),
               "created_ts": self.created_ts, "first_ts": self.first_ts, "last_ts": self.last_ts,
               "tactics": sorted(self.tactics, key=lambda t: TACTIC_STAGE.get(t, 9)), "progression": self.progression,
               "merged_from": list(self.merged_from), "merged_into": self.merged_into}
        if comp is not None:
            out["entities"] = sorted(comp.entities)
            out["techniques"] = sorted({x for s in comp.signals for x in s.techniques})
            out["signals"] = comp.n_signals
        return out


@dataclass(slots=True)
class Component:
    first_ts: float
    last_ts: float
    members: list[tuple[str, int]] = field(default_factory=list)
    entities: set[str] = field(default_factory=set)
    signals: list[Signal] = field(default_factory=list)
    edges: list[tuple[str, str, str, float]] = field(default_factory=list)
    tactic_score: dict[str, float] = field(default_factory=dict)
    stage_first: dict[int, float] = field(default_factory=dict)
    dedup: dict[tuple[str, tuple[str, ...]], Signal] = field(default_factory=dict)
    n_signals: int = 0
    max_score: float = 0.0
    intel: float = 0.0
    chain: set[str] = field(default_factory=set)  # distinct ATT&CK-tagged Sigma rules (low and up) in the component
    chain_strong: int = 0  # how many of them are medium or higher
    incident: Incident | None = None

    def absorb(self, other: "Component", max_signals: int) -> None:
        self.first_ts = min(self.first_ts, other.first_ts)
        self.last_ts = max(self.last_ts, other.last_ts)
        self.members.extend(other.members)
        self.entities |= other.entities
        room = max_signals - len(self.signals)
        if room > 0:
            self.signals.extend(other.signals[:room])
        self.edges.extend(other.edges[: max(0, 4 * max_signals - len(self.edges))])
        for t, s in other.tactic_score.items():
            if s > self.tactic_score.get(t, 0.0):
                self.tactic_score[t] = s
        for st, ts in other.stage_first.items():
            if ts < self.stage_first.get(st, math.inf):
                self.stage_first[st] = ts
        for k, v in other.dedup.items():
            self.dedup.setdefault(k, v)
        self.n_signals += other.n_signals
        self.max_score = max(self.max_score, other.max_score)
        self.intel = max(self.intel, other.intel)
        self.chain_strong += sum(1 for r in other.chain if r not in self.chain and r.startswith("!"))
        self.chain |= other.chain


@dataclass(frozen=True)
class CorrelatorConfig:
    window_s: float = 7200.0
    seed_score: float = 0.999
    attach_score: float = 0.99
    raise_risk: float = 0.8
    min_tactics: int = 2
    solo_score: float = 0.9995  # a single sigma (level high+) or intel signal this strong raises an incident alone
    solo_kinds: tuple[str, ...] = ("sigma", "intel")
    # a chain: this many distinct ATT&CK-tagged Sigma rules on one host/identity inside the window, at least
    # chain_strong of them medium or higher, raise an incident even within a single tactic (0 disables)
    chain_rules: int = 2
    chain_strong: int = 1
    max_signals: int = 500
    sweep_every_s: float = 600.0
    id_prefix: str = ""  # e.g. the engine's start time: ids stay unique across restarts (persisted records)


def progression(stage_first: dict[int, float]) -> int:
    """Longest run of kill-chain stages that also appear in time order (0..4)."""
    if not stage_first:
        return 0
    order = [st for st, _ in sorted(stage_first.items(), key=lambda kv: kv[1])]
    best: list[int] = []  # patience LIS (strictly increasing)
    for st in order:
        i = bisect.bisect_left(best, st)
        if i == len(best):
            best.append(st)
        else:
            best[i] = st
    return len(best)


def incident_risk(tactic_score: dict[str, float], stage_first: dict[int, float], intel: float) -> tuple[float, int]:
    """Risk in [0, 1]: noisy-OR of the strongest evidence per tactic, scaled by kill-chain progression,
    then combined with threat-intel confidence on its entities.

    Meaning: ~ probability that the component is malicious if each tactic's evidence were independent,
    discounted when the activity does not progress through the kill chain (0.7 for one stage,
    1.0 for three or more in time order).
    """
    q = 1.0
    for s in tactic_score.values():
        q *= 1.0 - min(max(s, 0.0), 1.0)
    prog = progression(stage_first)
    risk = (1.0 - q) * min(1.0, 0.55 + 0.15 * max(prog, 1))
    risk = 1.0 - (1.0 - risk) * (1.0 - intel)
    return risk, prog


def severity_of(risk: float, prog: int) -> str:
    if risk >= 0.9 and prog >= 3:
        return "critical"
    if risk >= 0.8:
        return "high"
    if risk >= 0.5:
        return "medium"
    return "low"


class GraphCorrelator:
    """Incremental entity-graph correlator; feed signals in (roughly) time order."""

    def __init__(self, config: CorrelatorConfig | None = None) -> None:
        self.cfg = config or CorrelatorConfig()
        self._cur: dict[str, int] = {}
        self._parent: dict[int, int] = {}
        self._size: dict[int, int] = {}
        self._comp: dict[int, Component] = {}
        self._next_id = 0
        self._next_sig = 0
        self._n_inc = 0
        self.incidents: dict[str, Incident] = {}
        self._closed_comps: dict[str, Component] = {}
        self.now = 0.0
        self._last_sweep = 0.0
        self.stats = {"signals": 0, "below_attach": 0, "orphans": 0, "linked": 0, "deduplicated": 0,
                      "incidents": 0, "merges": 0, "expired_components": 0}

    # ---- union-find -------------------------------------------------------
    def _find(self, x: int) -> int:
        p = self._parent
        while p[x] != x:
            p[x] = p[p[x]]
            x = p[x]
        return x

    def _new_node(self, ent: str, ts: float) -> int:
        nid = self._next_id
        self._next_id += 1
        self._parent[nid] = nid
        self._size[nid] = 1
        c = Component(first_ts=ts, last_ts=ts)
        c.members.append((ent, nid))
        c.entities.add(ent)
        self._comp[nid] = c
        self._cur[ent] = nid
        return nid

    def _union(self, a: int, b: int) -> int:
        if a == b:
            return a
        if self._size[a] < self._size[b]:
            a, b = b, a
        self._parent[b] = a
        self._size[a] += self._size.pop(b)
        ca, cb = self._comp[a], self._comp.pop(b)
        ia, ib = ca.incident, cb.incident
        if ia is not None and ib is not None:
            keep, drop = (ia, ib) if ia.created_ts <= ib.created_ts else (ib, ia)
            drop.status, drop.merged_into = "merged", keep.incident_id
            keep.merged_from.append(drop.incident_id)
            keep.merged_from.extend(drop.merged_from)
            ca.incident = keep
            self.stats["merges"] += 1
        elif ib is not None:
            ca.incident = ib
        ca.absorb(cb, self.cfg.max_signals)
        if ca.incident is not None:
            ca.incident.root = a
        return a

    def _live_root(self, ent: str, ts: float) -> int | None:
        nid = self._cur.get(ent)
        if nid is None or nid not in self._parent:
            return None
        r = self._find(nid)
        if self._comp[r].last_ts < ts - self.cfg.window_s:
            return None
        return r

    # ---- public -------------------------------------------------------------
    def observe(self, sig: Signal) -> list[Incident]:
        """Add one signal; returns incidents created or grown by it (empty most of the time)."""
        st = self.stats
        st["signals"] += 1
        ts = sig.ts
        if ts > self.now:
            self.now = ts
            if ts - self._last_sweep >= self.cfg.sweep_every_s:
                self.sweep(ts)
        if sig.score < self.cfg.attach_score or not sig.entities:
            st["below_attach"] += 1
            return []
        roots = [r for e in sig.entities if (r := self._live_root(e, ts)) is not None]
        if sig.score < self.cfg.seed_score and not roots:
            st["orphans"] += 1
            return []
        if roots:
            st["linked"] += 1
        root: int | None = None
        for r in roots:
            root = r if root is None else self._union(self._find(root), self._find(r))
        for e in sig.entities:
            if self._live_root(e, ts) is None:  # unseen, or its old component expired: new generation
                nid = self._new_node(e, ts)
                root = nid if root is None else self._union(self._find(root), nid)
        assert root is not None
        root = self._find(root)
        c = self._comp[root]
        c.last_ts = max(c.last_ts, ts)
        c.first_ts = min(c.first_ts, ts)
        key = (sig.name, sig.entities)
        prev = c.dedup.get(key)
        if prev is not None:
            st["deduplicated"] += 1
            prev.detail["repeats"] = prev.detail.get("repeats", 1) + 1
            prev.score = max(prev.score, sig.score)
        else:
            self._next_sig += 1
            sig.sid = self._next_sig
            c.dedup[key] = sig
            c.n_signals += 1
            if len(c.signals) < self.cfg.max_signals:
                c.signals.append(sig)
            for a, b, lab in sig.edges:
                c.edges.append((a, b, lab, ts))
        if sig.score > c.max_score:
            c.max_score = sig.score
        if sig.kind == "intel":
            c.intel = max(c.intel, float(sig.detail.get("confidence", sig.score)))
        elif sig.kind == "sigma" and sig.techniques:
            strong = sig.score >= self.cfg.seed_score
            key = ("!" if strong else "") + sig.name
            if key not in c.chain:
                c.chain.add(key)
                c.chain_strong += strong
        for t in sig.tactics or ("anomaly",):
            if sig.score > c.tactic_score.get(t, 0.0):
                c.tactic_score[t] = sig.score
            stg = TACTIC_STAGE.get(t)
            if stg is not None and ts < c.stage_first.get(stg, math.inf):
                c.stage_first[stg] = ts
        return self._evaluate(root, c, ts)

    def _evaluate(self, root: int, c: Component, ts: float) -> list[Incident]:
        risk, prog = incident_risk(c.tactic_score, c.stage_first, c.intel)
        inc = c.incident
        if inc is None:
            n_tac = sum(1 for t in c.tactic_score if t != "anomaly")
            solo = c.max_score >= self.cfg.solo_score and any(s.kind in self.cfg.solo_kinds and s.score >= self.cfg.solo_score
                                                               for s in c.signals)
            chain = 0 < self.cfg.chain_rules <= len({r.lstrip("!") for r in c.chain}) and c.chain_strong >= self.cfg.chain_strong
            if not ((n_tac >= self.cfg.min_tactics and risk >= self.cfg.raise_risk) or solo or chain):
                return []
            self._n_inc += 1
            inc = Incident(incident_id=f"inc-{self.cfg.id_prefix}{self._n_inc:06d}", created_ts=ts, raised_wall=time.perf_counter(), root=root)
            c.incident = inc
            self.incidents[inc.incident_id] = inc
            self.stats["incidents"] += 1
        inc.first_ts, inc.last_ts = c.first_ts, c.last_ts
        inc.risk, inc.progression = risk, prog
        inc.severity = severity_of(risk, prog)
        inc.tactics = {t: s for t, s in c.tactic_score.items() if t != "anomaly"}
        inc.root = root
        return [inc]

    def sweep(self, now: float) -> int:
        """Delete components quiet for longer than the window; their incidents close. Returns the count."""
        self._last_sweep = now
        cutoff = now - self.cfg.window_s
        dead = [r for r, c in self._comp.items() if c.last_ts < cutoff]
        for r in dead:
            c = self._comp.pop(r)
            for ent, nid in c.members:
                if self._cur.get(ent) == nid:
                    del self._cur[ent]
                self._parent.pop(nid, None)
                self._size.pop(nid, None)
            if c.incident is not None and c.incident.status == "open":
                c.incident.status = "closed"
                self._closed_comps[c.incident.incident_id] = c
        self.stats["expired_components"] += len(dead)
        return len(dead)

    def component_of(self, incident_id: str) -> Component | None:
        inc = self.incidents.get(incident_id)
        if inc is None:
            return None
        while inc.merged_into is not None:
            inc = self.incidents[inc.merged_into]
        if inc.incident_id in self._closed_comps:
            return self._closed_comps[inc.incident_id]
        if inc.root in self._parent:
            c = self._comp.get(self._find(inc.root))
            if c is not None and c.incident is inc:
                return c
        return None

    def component_of_entity(self, entity: str) -> Component | None:
        """The live component an entity belongs to (None when it has none or it expired)."""
        r = self._live_root(entity, self.now)
        return None if r is None else self._comp[r]

    def open_incidents(self) -> list[Incident]:
        return [i for i in self.incidents.values() if i.status == "open"]

    def live_components(self) -> int:
        return len(self._comp)

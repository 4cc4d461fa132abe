"""Network and behaviour (UEBA) anomaly detectors producing calibrated scores.

Every score here means the same thing: ``score = 1 − p`` where ``p`` estimates how often
benign activity is at least this unusual. That makes scores from different detectors
comparable, and lets the correlator use one pair of thresholds (0.99 ≈ 1 in 100,
0.999 ≈ 1 in 1,000 benign observations).

* Network: a pyod IsolationForest fitted on a warm-up window of flows and calibrated by split
  conformal prediction (fit on one half, rank against the other half: p = (k+1)/(n+1)); plus
  a per-host robust baseline of bytes out (median / MAD, normal tail) and per-host destination
  port rarity. The three p-values are Bonferroni-combined. Flows are scored in micro-batches
  (a flush bound on count, wall time and event time) with the trees stacked into numpy arrays
  (aiops.security.detection.forest_scoring), so a small batch costs well under a millisecond.
* UEBA: per-entity categorical profiles (user: source network, host, hour, action; host:
  users, source networks, actions) with Good–Turing novelty: the chance of a never-seen value
  is the share of values seen exactly once. New entities are in warm-up and are scored
  against the population profile of their kind instead of their own.
"""
from __future__ import annotations

import math
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from aiops.security.correlation.graph import AssetMap, EntityResolver, Signal, is_external
from aiops.security.events import SecurityEvent
from aiops.security.detection.forest_scoring import PyodIForestScorer

LATERAL_PORTS = frozenset({22, 23, 135, 139, 445, 3389, 5985, 5986})


def conformal_p(calib_sorted: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Split-conformal p-values: share of calibration scores ≥ each score (higher = more anomalous)."""
    n = calib_sorted.size
    k = n - np.searchsorted(calib_sorted, scores, side="left")
    return (k + 1.0) / (n + 1.0)


def _net16(ip: str | None) -> str:
    if not ip:
        return "-"
    if ":" in ip:
        return ip.rsplit(":", 4)[0]
    a, _, rest = ip.partition(".")
    b = rest.partition(".")[0]
    return f"{a}.{b}"


# ----------------------------------------------------------------------------- network


@dataclass
class NetworkConfig:
    warmup_flows: int = 2000
    batch: int = 1024  # under load batches fill by time, at most this many flows
    max_delay_s: float = 0.05  # flows wait at most this long (wall) for a batch before being scored
    max_span_s: float = 300.0  # ... and at most this much event time: half the graph sweep, so replays and
    # backlogs, which run faster than real time, hand flow signals to the correlator in time
    n_estimators: int = 100
    seed: int = 0
    host_min_flows: int = 30
    sequence: bool = False  # also run the GRU flow-sequence model (detectors_sequence.py) on the same batches


def flow_features(evs: list[SecurityEvent], port_freq: dict[int, float]) -> np.ndarray:
    """[log bytes out, log bytes in, out/in log-ratio, destination external, fleet port frequency]."""
    x = np.empty((len(evs), 5), np.float64)
    for i, e in enumerate(evs):
        f = e.fields
        bo = _bytes(f.get("bytes_out") or f.get("OriginatingBytes") or f.get("orig_bytes"))
        bi = _bytes(f.get("bytes_in") or f.get("RespondingBytes") or f.get("resp_bytes"))
        lo, li = math.log1p(bo), math.log1p(bi)
        port = _port(e)
        x[i] = (lo, li, lo - li, 1.0 if is_external(e.dst_ip) else 0.0, port_freq.get(port, 0.0))
    return x


def _bytes(v: Any) -> float:
    """A byte count from any source field: numbers or numeric text; anything else (None, "-", NaN) is 0."""
    try:
        x = float(v or 0)
    except (TypeError, ValueError):
        return 0.0
    return x if x > 0 and math.isfinite(x) else 0.0


def _port(e: SecurityEvent) -> int:
    f = e.fields
    p = f.get("dst_port", f.get("id.resp_p", f.get("DestinationPort")))
    try:
        return int(p) if p is not None else -1
    except (TypeError, ValueError, OverflowError):
        return -1


def flow_tactic(e: SecurityEvent, port: int, large_out: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """ATT&CK reading of an unusual flow: big upload to the internet = exfiltration; remote-access
    port inside the fleet = lateral movement; otherwise no tactic (an anomaly without a story)."""
    if is_external(e.dst_ip) and large_out:
        return ("exfiltration",), ("T1048",)
    if port in LATERAL_PORTS and not is_external(e.dst_ip):
        return ("lateral_movement",), ("T1021",)
    return (), ()


class _HostBaseline:
    """Running robust location/scale of log bytes out (P² would be overkill: a bounded sample suffices)
    and destination-port counts with the number of ports seen once (Good–Turing novelty)."""

    __slots__ = ("vals", "ports", "n", "n1", "med", "mad", "dirty")

    def __init__(self) -> None:
        self.vals: list[float] = []
        self.ports: dict[int, int] = {}
        self.n = 0
        self.n1 = 0
        self.med = 0.0
        self.mad = 1.0
        self.dirty = True

    def add(self, lo: float, port: int) -> None:
        self.n += 1
        c = self.ports.get(port, 0)
        self.ports[port] = c + 1
        if c == 0:
            self.n1 += 1
        elif c == 1:
            self.n1 -= 1
        if len(self.vals) < 512:
            self.vals.append(lo)
        else:
            self.vals[self.n % 512] = lo
        # the median of hundreds of flows moves slowly: refresh often while young, then every 64 flows
        if self.n < 64 or self.n % (16 if self.n < 512 else 64) == 0:
            self.dirty = True

    def p_port(self, port: int) -> float:
        """Chance of a destination port at least this rare for this host (unseen: Good–Turing)."""
        c = self.ports.get(port, 0)
        return (c + 1.0) / (self.n + 1.0) if c else (self.n1 + 1.0) / (self.n + 1.0)

    def stats(self) -> tuple[float, float]:
        if self.dirty:
            if len(self.vals) < 128:  # numpy's per-call overhead dominates on short samples
                med = statistics.median(self.vals)
                mad = statistics.median([abs(v - med) for v in self.vals])
            else:
                a = np.asarray(self.vals)
                med = float(np.median(a))
                mad = float(np.median(np.abs(a - med)))
            self.med, self.mad = float(med), max(mad * 1.4826, 0.25)
            self.dirty = False
        return self.med, self.mad


class NetworkAnomalyDetector:
    """IsolationForest (pyod) on flow features + per-host baselines; scores are 1 − p."""

    def __init__(self, config: NetworkConfig | None = None, resolver: EntityResolver | None = None) -> None:
        self.cfg = config or NetworkConfig()
        self.resolver = resolver or EntityResolver()
        self.model: Any = None
        self._forest: Any = None
        self.calib: np.ndarray | None = None
        self._warm: list[SecurityEvent] = []
        self._port_count: dict[int, int] = defaultdict(int)
        self._port_freq: dict[int, float] = {}
        self._n_ports = 0
        self._hosts: dict[str, _HostBaseline] = defaultdict(_HostBaseline)
        self._buf: list[SecurityEvent] = []
        self._walls: list[float] = []
        self._buf_wall = 0.0
        self.scored = 0
        self.fit_seconds = 0.0
        self.sequence: Any = None
        self.sequence_error: str | None = None

    @property
    def ready(self) -> bool:
        return self._forest is not None

    def fit(self, flows: list[SecurityEvent]) -> None:
        """Fit on benign-majority flows: even half trains the forest, odd half calibrates p-values."""
        from pyod.models.iforest import IForest

        t0 = time.perf_counter()
        for e in flows:
            self._port_count[_port(e)] += 1
        self._n_ports = sum(self._port_count.values())
        self._port_freq = {p: c / self._n_ports for p, c in self._port_count.items()}
        x = flow_features(flows, self._port_freq)
        tr, ca = x[0::2], x[1::2]
        self.model = IForest(n_estimators=self.cfg.n_estimators, random_state=self.cfg.seed, n_jobs=1)
        self.model.fit(tr)
        self._forest = PyodIForestScorer(self.model)  # same scores, without the per-tree call overhead
        self.calib = np.sort(self._forest(ca))
        for e in flows:
            self._learn_host(e, x_lo=math.log1p(float(e.fields.get("bytes_out") or 0)))
        if self.cfg.sequence:
            from aiops.security.detection.sequence import FlowSequenceDetector

            seq = FlowSequenceDetector(resolver=self.resolver)
            try:
                seq.fit(flows)
                self.sequence = seq
            except ValueError as exc:  # too little per-host history: run without it, say why
                self.sequence_error = str(exc)
        self.fit_seconds = time.perf_counter() - t0

    def _learn_host(self, e: SecurityEvent, x_lo: float) -> None:
        if e.host:
            self._hosts[e.host].add(x_lo, _port(e))

    def observe(self, ev: SecurityEvent, wall: float | None = None) -> list[Signal]:
        """Buffer one flow; returns signals for flows scored by this call (a flush).

        ``wall`` is the flow's arrival (``perf_counter`` domain), carried to its signal as ``ingest_wall``."""
        if not self.ready:
            self._warm.append(ev)
            if len(self._warm) >= self.cfg.warmup_flows:
                warm, self._warm = self._warm, []
                self.fit(warm)
            return []
        now = time.perf_counter()
        if not self._buf:
            self._buf_wall = now  # the batch deadline runs on processing time, whatever the arrival time
        self._buf.append(ev)
        self._walls.append(now if wall is None else wall)
        if len(self._buf) >= self.cfg.batch:
            return self.flush()
        return []

    def due(self, wall: float | None = None, event_ts: float | None = None) -> bool:
        """A flush is due when the oldest buffered flow waited ``max_delay_s`` (wall) or the stream has
        moved ``max_span_s`` of event time past it (replays and backlogs run faster than real time, and
        the correlator must see flow signals roughly in event order)."""
        if not self._buf:
            return False
        if event_ts is not None and event_ts - self._buf[0].timestamp >= self.cfg.max_span_s:
            return True
        now = time.perf_counter() if wall is None else wall
        return now - self._buf_wall >= self.cfg.max_delay_s

    def flush(self) -> list[Signal]:
        if not self._buf or not self.ready:
            return []
        evs, self._buf = self._buf, []
        walls, self._walls = self._walls, []
        return self.score(evs, walls=walls)

    def score(self, evs: list[SecurityEvent], learn: bool = True, min_score: float = 0.99,
              walls: list[float] | None = None) -> list[Signal]:
        """Score flows; return signals for those with score ≥ ``min_score``."""
        assert self.calib is not None
        x = flow_features(evs, self._port_freq)
        p_if = conformal_p(self.calib, self._forest(x))
        out: list[Signal] = []
        self.scored += len(evs)
        for i, e in enumerate(evs):
            lo = x[i, 0]
            port = _port(e)
            p_host = p_port = 1.0
            hb = self._hosts.get(e.host) if e.host else None
            if hb is not None and hb.n >= self.cfg.host_min_flows:
                med, mad = hb.stats()
                z = (lo - med) / mad
                p_host = 0.5 * math.erfc(z / math.sqrt(2.0))
                p_port = hb.p_port(port)
            p = min(1.0, 3.0 * min(float(p_if[i]), p_host, p_port))
            s = 1.0 - p
            if learn and s < 0.999:  # keep alerted flows out of the host baseline (no self-poisoning)
                self._learn_host(e, lo)
            if s < min_score:
                continue
            ents, edges = self.resolver.nodes(e)
            big = p_host < 0.01 or float(p_if[i]) < 0.01
            tactics, tech = flow_tactic(e, port, big and lo > (hb.med if hb else 0.0))
            out.append(Signal(ts=e.timestamp, kind="network", name="network_flow_anomaly", score=s, entities=ents,
                              edges=edges, tactics=tactics, techniques=tech, severity="high" if s >= 0.999 else "medium",
                              summary=f"unusual flow {e.src_ip}→{e.dst_ip}:{port} ({int(math.expm1(lo))} bytes out)",
                              detail={"p_iforest": float(p_if[i]), "p_host_bytes": p_host, "p_host_port": p_port,
                                      "bytes_out": int(math.expm1(lo)), "dst_port": port,
                                      "ingest_wall": walls[i] if walls else None}))
        if self.sequence is not None:
            for i, sig in enumerate(self.sequence.score(evs, min_score=min_score, learn=learn)):
                if sig is not None:
                    e = evs[i]
                    hb = self._hosts.get(e.host) if e.host else None
                    usual = hb.stats()[0] + 3 * hb.stats()[1] if hb is not None and hb.n else 15.0
                    sig.tactics, sig.techniques = flow_tactic(e, _port(e), bool(x[i, 0] > usual))
                    sig.detail["ingest_wall"] = walls[i] if walls else None
                    out.append(sig)
        return out


# ----------------------------------------------------------------------------- UEBA


_DAY = 86_400.0
_CYCLIC = frozenset({"hour"})  # a time-of-day profile means nothing before it has seen a whole day


class _Profile:
    __slots__ = ("counts", "n", "n1", "first_ts")

    def __init__(self, first_ts: float = 0.0) -> None:
        self.first_ts = first_ts
        self.counts: dict[Any, int] = {}
        self.n = 0
        self.n1 = 0

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
        self._prof: dict[tuple[str, str, str], _Profile] = {}
        self._pop: dict[tuple[str, str], _Profile] = {}
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
                    prof = self._prof[key] = _Profile(ev.timestamp)
                prof.add(v)
                pk = (kind, attr)
                pop = self._pop.get(pk)
                if pop is None:
                    pop = self._pop[pk] = _Profile(ev.timestamp)
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

    def profiles(self) -> int:
        return len(self._prof)


def sigma_alert_signal(alert: Any, resolver: EntityResolver, level_score: dict[str, float]) -> Signal:
    """A Sigma alert (``events.Alert``) as a correlator signal; score from the rule level."""
    from aiops.security.correlation.graph import tactics_from_tags

    evs: list[SecurityEvent] = [alert.event] if alert.event is not None else list(alert.events)
    ents: dict[str, None] = {}
    edges: dict[tuple[str, str, str], None] = {}
    for e in evs[-20:]:
        n, ed = resolver.nodes(e)
        for x in n:
            ents.setdefault(x, None)
        for x in ed:
            edges.setdefault(x, None)
    for k, v in (alert.group or {}).items():
        if v is None:
            continue
        if k in ("src_ip", "dst_ip", "ipaddress", "sourceipaddress"):
            node = resolver.ip_node(str(v))
            if node:
                ents.setdefault(node, None)
        elif k == "host":
            ents.setdefault(f"host:{v}", None)
    tac, tech = tactics_from_tags(alert.tags)
    score = level_score.get(alert.level, 0.5)
    return Signal(ts=alert.timestamp, kind="sigma", name=alert.rule_name or alert.rule_id, score=score,
                  entities=tuple(ents), edges=tuple(edges), tactics=tac, techniques=tech, severity=alert.level,
                  summary=alert.title, detail={"rule_id": alert.rule_id, "count": alert.count, "correlation": alert.kind == "correlation"})


"""Network anomaly detector producing calibrated scores (UEBA lives in ``ueba.py``).

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
"""
from __future__ import annotations

import math
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from aiops.security.correlation.entities import EntityResolver, is_external
from aiops.security.correlation.signals import Signal
from aiops.security.events import SecurityEvent
from aiops.security.detection.common import conformal_p, flow_port
from aiops.security.detection.forest_scoring import PyodIForestScorer, StackedIsolationForest

LATERAL_PORTS = frozenset({22, 23, 135, 139, 445, 3389, 5985, 5986})


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
        port = flow_port(e)
        x[i] = (lo, li, lo - li, 1.0 if is_external(e.dst_ip) else 0.0, port_freq.get(port, 0.0))
    return x


def _bytes(v: Any) -> float:
    """A byte count from any source field: numbers or numeric text; anything else (None, "-", NaN) is 0."""
    try:
        x = float(v or 0)
    except (TypeError, ValueError):
        return 0.0
    return x if x > 0 and math.isfinite(x) else 0.0


def flow_tactic(e: SecurityEvent, port: int, large_out: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """ATT&CK reading of an unusual flow: big upload to the internet = exfiltration; remote-access
    port inside the fleet = lateral movement; otherwise no tactic (an anomaly without a story)."""
    if is_external(e.dst_ip) and large_out:
        return ("exfiltration",), ("T1048",)
    if port in LATERAL_PORTS and not is_external(e.dst_ip):
        return ("lateral_movement",), ("T1021",)
    return (), ()


class HostBaseline:
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

    def snapshot(self) -> list[Any]:
        """JSON-safe state: [vals, [[port, count], ...], n, n1, med, mad, dirty]."""
        return [self.vals, [[p, c] for p, c in self.ports.items()], self.n, self.n1, self.med, self.mad, self.dirty]

    @classmethod
    def restore(cls, row: list[Any]) -> "HostBaseline":
        """A baseline from :meth:`snapshot` output (types re-coerced: JSON turns int keys into lists)."""
        vals, ports, n, n1, med, mad, dirty = row
        b = cls()
        b.vals = [float(v) for v in vals]
        b.ports = {int(p): int(c) for p, c in ports}
        b.n, b.n1, b.med, b.mad, b.dirty = int(n), int(n1), float(med), float(mad), bool(dirty)
        return b

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
        self._hosts: dict[str, HostBaseline] = defaultdict(HostBaseline)
        self._buf: list[SecurityEvent] = []
        self._walls: list[float] = []
        self._buf_wall = 0.0
        self.scored = 0
        self.fit_seconds = 0.0
        self.sequence: Any = None
        self.sequence_error: str | None = None

    def snapshot(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Learned state as (JSON document, numpy arrays), so it is saved without pickle.

        The arrays (conformal calibration and the stacked forest) are empty, and ``ready`` is False,
        when no stacked forest exists: a pyod fallback forest is refitted after a restart instead.
        """
        doc: dict[str, Any] = {
            "ready": self.ready,
            "port_count": [[p, c] for p, c in self._port_count.items()],
            "port_freq": [[p, f] for p, f in self._port_freq.items()],
            "n_ports": self._n_ports,
            "hosts": {h: b.snapshot() for h, b in self._hosts.items()},
        }
        stacked = self._forest.stacked if self._forest is not None else None
        if stacked is None or self.calib is None:
            doc["ready"] = False
            return doc, {}
        return doc, {"calib": self.calib, **stacked.to_arrays()}

    def restore(self, doc: dict[str, Any], arrays: Mapping[str, np.ndarray] | None = None) -> None:
        """Load :meth:`snapshot` output into this (fresh) detector."""
        self._port_count = defaultdict(int, {int(p): int(c) for p, c in doc["port_count"]})
        self._port_freq = {int(p): float(f) for p, f in doc["port_freq"]}
        self._n_ports = int(doc["n_ports"])
        hosts: defaultdict[str, HostBaseline] = defaultdict(HostBaseline)
        hosts.update({h: HostBaseline.restore(row) for h, row in doc["hosts"].items()})
        self._hosts = hosts
        if doc["ready"] and arrays:
            self.calib = np.asarray(arrays["calib"])
            self._forest = PyodIForestScorer(None, StackedIsolationForest.from_arrays(arrays))

    @property
    def ready(self) -> bool:
        return self._forest is not None

    def fit(self, flows: list[SecurityEvent]) -> None:
        """Fit on benign-majority flows: even half trains the forest, odd half calibrates p-values."""
        from pyod.models.iforest import IForest

        t0 = time.perf_counter()
        for e in flows:
            self._port_count[flow_port(e)] += 1
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
            self._hosts[e.host].add(x_lo, flow_port(e))

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
            port = flow_port(e)
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
                    sig.tactics, sig.techniques = flow_tactic(e, flow_port(e), bool(x[i, 0] > usual))
                    sig.detail["ingest_wall"] = walls[i] if walls else None
                    out.append(sig)
        return out



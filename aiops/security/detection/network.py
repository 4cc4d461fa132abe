"""Network anomaly detector producing calibrated scores (UEBA lives in ``ueba.py``).

Every score here means the same thing: ``score = 1 − p`` where ``p`` estimates how often
benign activity is at least this unusual. That makes scores from different detectors
comparable, and lets the correlator use one pair of thresholds (0.99 ≈ 1 in 100,
0.999 ≈ 1 in 1,000 benign observations).

* Network: four parts, each a conformal p-value against the benign warm-up scored out of fold (cross-
  fitting: every part learns from the whole warm-up, and each warm-up flow is scored without itself: the
  forest's out-of-bag trees, the neighbours minus the flow, the port counts minus the flow): an isolation
  forest (pyod) and the mean distance to the nearest warm-up flows, both on the flow's shape (bytes,
  packets, duration, protocol, ports: aiops.security.detection.flow_features), and per source host a
  robust baseline of bytes out and destination-port rarity (Good–Turing). The parts' p-values are combined
  (weighted Fisher; weights from a label-free proxy task) and ranked against the warm-up's combined
  statistics (aiops.security.detection.calibration), so the combination is calibrated as a whole. A host
  without history lacks the host parts, and each missing part counts at its benign mean on the same scale:
  unknown, not guilty. A host part with too little calibrated history in the warm-up weighs 0 (silent).
  Flows are scored in micro-batches (a flush bound on count, wall time and event time) with the trees
  stacked into numpy arrays (aiops.security.detection.forest_scoring).
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
from aiops.security.detection.calibration import NearestNeighbours, PartCalibration, mixed_flows, proxy_weights
from aiops.security.detection.common import flow_port
from aiops.security.detection.flow_features import FLOW_COLUMNS, field, flow_matrix, number
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
    neighbours: int = 5  # k of the nearest-neighbour part
    combine: str = "fisher"  # how part p-values combine before calibration: "fisher" (−Σ w log p), "cauchy" or "min"
    weighting: str = "proxy"  # part weights: "proxy" (label-free, calibration.proxy_weights) or "equal"
    proxy_temperature: float = 0.05  # a part trailing the best proxy AUC by this much weighs 1/e
    sequence: bool = False  # also run the GRU flow-sequence model (detectors_sequence.py) on the same batches


def flow_features(evs: list[SecurityEvent], port_freq: dict[int, float]) -> np.ndarray:
    """The flow-shape columns (aiops.security.detection.flow_features.FLOW_COLUMNS) of a batch of flows."""
    return flow_matrix(evs, port_freq)


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

    def p_port(self, port: int, leave_out: bool = False) -> float:
        """Chance of a destination port at least this rare for this host (unseen: Good–Turing);
        ``leave_out``: as if one flow to this port had not been learned (calibrating on learned flows)."""
        c, n, n1 = self.ports.get(port, 0), self.n, self.n1
        if leave_out and c:
            c, n, n1 = c - 1, n - 1, n1 - (c == 1) + (c == 2)
        return (c + 1.0) / (n + 1.0) if c else (n1 + 1.0) / (n + 1.0)

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
    """Isolation forest + nearest neighbours on flow shape, per-host baselines; one calibrated score 1 − p."""

    def __init__(self, config: NetworkConfig | None = None, resolver: EntityResolver | None = None) -> None:
        self.cfg = config or NetworkConfig()
        self.resolver = resolver or EntityResolver()
        self.model: Any = None
        self._forest: Any = None
        self._knn: NearestNeighbours | None = None
        self.calib: np.ndarray | None = None  # the forest part's calibration scores (sorted)
        self.parts = PartCalibration()
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

        The arrays (calibration, the stacked forest, the neighbours' reference flows) are empty, and
        ``ready`` is False, when no stacked forest exists: a pyod fallback forest is refitted after a restart.
        """
        doc: dict[str, Any] = {
            "ready": self.ready,
            "port_count": [[p, c] for p, c in self._port_count.items()],
            "port_freq": [[p, f] for p, f in self._port_freq.items()],
            "n_ports": self._n_ports,
            "hosts": {h: b.snapshot() for h, b in self._hosts.items()},
        }
        stacked = self._forest.stacked if self._forest is not None else None
        if stacked is None or self.calib is None or self._knn is None:
            doc["ready"] = False
            return doc, {}
        return doc, {"calib": self.calib, **stacked.to_arrays(), **self._knn.to_arrays(), **self.parts.to_arrays()}

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
            self._knn = NearestNeighbours.from_arrays(arrays)
            self.parts = PartCalibration.from_arrays(arrays)

    @property
    def ready(self) -> bool:
        return self._forest is not None

    def fit(self, flows: list[SecurityEvent]) -> None:
        """Fit on benign-majority flows: every part learns from all of them, and all of them calibrate
        every part and the combination, each flow scored out of fold (see the module docstring)."""
        from pyod.models.iforest import IForest

        t0 = time.perf_counter()
        for e in flows:
            self._port_count[flow_port(e)] += 1
        self._n_ports = sum(self._port_count.values())
        self._port_freq = {p: c / self._n_ports for p, c in self._port_count.items()}
        x = flow_features(flows, self._port_freq)
        if self._n_ports > 1:  # each warm-up flow's port frequency without the flow itself
            col = FLOW_COLUMNS.index("dst_port_fleet_frequency")
            x[:, col] = (x[:, col] * self._n_ports - 1.0) / (self._n_ports - 1.0)
        self.model = IForest(n_estimators=self.cfg.n_estimators, random_state=self.cfg.seed, n_jobs=1)
        self.model.fit(x)
        self._forest = PyodIForestScorer(self.model)  # same scores, without the per-tree call overhead
        self._knn = NearestNeighbours(x, self.cfg.neighbours)
        for e in flows:
            self._learn_host(e, _log_bytes_out(e))
        self._calibrate(flows, x)
        if self.cfg.sequence:
            from aiops.security.detection.sequence import FlowSequenceDetector

            seq = FlowSequenceDetector(resolver=self.resolver)
            try:
                seq.fit(flows)
                self.sequence = seq
            except ValueError as exc:  # too little per-host history: run without it, say why
                self.sequence_error = str(exc)
        self.fit_seconds = time.perf_counter() - t0

    def _calibrate(self, flows: list[SecurityEvent], x: np.ndarray) -> None:
        """Out-of-fold statistics of every part on the warm-up it learned from, the parts' weights, and
        the combined statistics per set of parts."""
        assert self._forest is not None and self._knn is not None
        self.parts = PartCalibration(self.cfg.combine)
        s_if = self._forest.out_of_bag(x)
        if s_if is None:  # a forest layout without drawn samples: in-sample scores (slightly optimistic)
            s_if = self._forest(x)
        s_knn = self._knn.leave_one_out()
        self.calib = np.sort(s_if)
        hosts, ports = [e.host for e in flows], [flow_port(e) for e in flows]
        host = self._host_stats(hosts, ports, x[:, 0], leave_out=True)
        known = ~np.isnan(host[:, 0])
        w = self._part_weights(x, hosts, ports, [s_if, s_knn, host[known, 0], host[known, 1]])
        loo = [self.parts.add_part("iforest", s_if), self.parts.add_part("knn", s_knn)]
        for j, name in enumerate(("host_bytes", "host_port")):
            p_host = np.full(len(flows), np.nan)  # unknown source: the part is missing, not alarming
            if known.any():
                p_host[known] = self.parts.add_part(name, host[known, j])
            loo.append(p_host)
        self.parts.add_set("flow", loo, w)  # one calibration, one scale, with and without host history

    def _part_weights(self, x: np.ndarray, hosts: list[str | None], ports: list[int],
                      calib: list[np.ndarray]) -> list[float]:
        """Weights of [iforest, knn, host_bytes, host_port] from the proxy task (calibration.proxy_weights):
        synthetic flows mix the columns of two warm-up flows and keep the first one's source host (and
        the port of whichever flow gave the port column), so every part, host parts included, is asked
        the same question: does this flow fit what its source usually does?"""
        if self.cfg.weighting != "proxy":
            return [1.0] * 4
        assert self._forest is not None and self._knn is not None
        rng = np.random.default_rng(self.cfg.seed)
        syn, a, b, mask = mixed_flows(x, rng)
        col = FLOW_COLUMNS.index("dst_port_fleet_frequency")
        syn_ports = [ports[j] if m else ports[i] for i, j, m in zip(a, b, mask[:, col])]
        host = self._host_stats([hosts[i] for i in a], syn_ports, syn[:, 0])
        known = ~np.isnan(host[:, 0])
        stats = [self._forest(syn), self._knn(syn), host[known, 0], host[known, 1]]
        usable = [len(c) >= 30 and len(s) >= 30 for c, s in zip(calib, stats)]
        w = proxy_weights([c for c, u in zip(calib, usable) if u], [s for s, u in zip(stats, usable) if u],
                          self.cfg.proxy_temperature)
        if not (usable[0] and usable[1]):  # a warm-up too short for the proxy: equal shape parts
            return [1.0, 1.0, 0.0, 0.0]
        it = iter(w)  # a host part with too little calibrated history stays out (weight 0): uncalibrated, silent
        return [float(next(it)) if u else 0.0 for u in usable]

    def _host_stats(self, hosts: list[str | None], ports: list[int], lo: np.ndarray,
                    leave_out: bool = False) -> np.ndarray:
        """Per flow: [robust z of log bytes out, −log port rarity] against its host's history; NaN when the
        host has too little history (unknown). ``leave_out``: the flows were learned; rate each as if it
        had not been (its port count less one; the median and MAD barely move for one flow)."""
        out = np.full((len(hosts), 2), np.nan)
        need = self.cfg.host_min_flows + (1 if leave_out else 0)
        for i, h in enumerate(hosts):
            hb = self._hosts.get(h) if h else None
            if hb is not None and hb.n >= need:
                med, mad = hb.stats()
                out[i] = ((lo[i] - med) / mad, -math.log(hb.p_port(ports[i], leave_out)))
        return out

    def part_p_values(self, evs: list[SecurityEvent], x: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Each part's conformal p-value (host parts NaN for hosts without history) and the combined one."""
        assert self._forest is not None and self._knn is not None
        x = flow_features(evs, self._port_freq) if x is None else x
        p_if = self.parts.p("iforest", self._forest(x)) if "iforest" in self.parts.parts else np.ones(len(evs))
        p_knn = self.parts.p("knn", self._knn(x)) if "knn" in self.parts.parts else np.ones(len(evs))
        host = self._host_stats([e.host for e in evs], [flow_port(e) for e in evs], x[:, 0])
        known = ~np.isnan(host[:, 0])
        p_hb, p_hp = np.full(len(evs), np.nan), np.full(len(evs), np.nan)
        if known.any():
            if "host_bytes" in self.parts.parts:
                p_hb[known] = self.parts.p("host_bytes", host[known, 0])
                p_hp[known] = self.parts.p("host_port", host[known, 1])
            else:  # no calibration flow had host history: the raw tails, Bonferroni-combined below
                p_hb[known] = 0.5 * np.vectorize(math.erfc)(host[known, 0] / math.sqrt(2.0))
                p_hp[known] = np.exp(-host[known, 1])
        p = self.parts.combine("flow", [p_if, p_knn, p_hb, p_hp])
        return {"iforest": p_if, "knn": p_knn, "host_bytes": p_hb, "host_port": p_hp, "combined": p}

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
        x = flow_features(evs, self._port_freq)
        ps = self.part_p_values(evs, x)
        out: list[Signal] = []
        self.scored += len(evs)
        los, combined = x[:, 0].tolist(), ps["combined"].tolist()  # plain floats: no numpy scalar per flow
        for i, e in enumerate(evs):
            lo, s = los[i], 1.0 - combined[i]
            if learn and s < 0.999:  # keep alerted flows out of the host baseline (no self-poisoning)
                self._learn_host(e, lo)
            if s < min_score:
                continue
            port = flow_port(e)
            p_host = float(ps["host_bytes"][i]) if not math.isnan(ps["host_bytes"][i]) else None
            p_port = float(ps["host_port"][i]) if not math.isnan(ps["host_port"][i]) else None
            hb = self._hosts.get(e.host) if e.host else None
            big = (p_host is not None and p_host < 0.01) or float(ps["iforest"][i]) < 0.01
            tactics, tech = flow_tactic(e, port, big and lo > (hb.med if hb else 0.0))
            ents, edges = self.resolver.nodes(e)
            out.append(Signal(ts=e.timestamp, kind="network", name="network_flow_anomaly", score=s, entities=ents,
                              edges=edges, tactics=tactics, techniques=tech, severity="high" if s >= 0.999 else "medium",
                              summary=f"unusual flow {e.src_ip}→{e.dst_ip}:{port} ({int(math.expm1(lo))} bytes out)",
                              detail={"p_iforest": float(ps["iforest"][i]), "p_knn": float(ps["knn"][i]),
                                      "p_host_bytes": p_host, "p_host_port": p_port, "host_history": p_host is not None,
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




def _log_bytes_out(e: SecurityEvent) -> float:
    return math.log1p(number(field(e.fields, "bytes_out")))

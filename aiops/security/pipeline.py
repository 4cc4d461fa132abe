"""The in-process security chain: event → (intel, Sigma, detectors) → signals → graph correlator.

One object, no Ray: the lead's correlator actor wraps an instance and calls :meth:`process`
per event (or :meth:`process_many` per batch) and :meth:`poll` on a timer so that buffered
flows are scored within ``NetworkConfig.max_delay_s`` even when traffic is sparse.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from aiops.security.correlation.entities import AssetMap, EntityResolver
from aiops.security.correlation.graph import CorrelatorConfig, GraphCorrelator, Incident
from aiops.security.correlation.signals import Signal
from aiops.security.detection.network import NetworkAnomalyDetector, NetworkConfig
from aiops.security.detection.ueba import UebaConfig, UebaDetector
from aiops.security.detection.sigma_alerts import sigma_alert_signal
from aiops.security.events import SecurityEvent

# Sigma levels → score. Not a p-value: a curated rule firing is treated like a 1-in-1,000
# observation at "medium" (enough to start a component), informational rules are building blocks.
SIGMA_LEVEL_SCORE = {"informational": 0.0, "low": 0.99, "medium": 0.999, "high": 0.9995, "critical": 0.9999}


@dataclass
class PipelineStats:
    events: int = 0
    flows: int = 0
    signals: int = 0
    sigma_alerts: int = 0
    intel_hits: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


class SecurityPipeline:
    """Detectors + correlator with shared entity resolution (IP → host learnt from flows)."""

    def __init__(self, correlator: CorrelatorConfig | None = None, network: NetworkConfig | None = None,
                 ueba: UebaConfig | None = None, sigma: Any = None, intel: Any = None,
                 assets: AssetMap | None = None, keep_signals: int = 10_000,
                 on_signal: Callable[[Signal, Incident | None], None] | None = None) -> None:
        self.assets = assets or AssetMap()
        self.resolver = EntityResolver(self.assets)
        self.graph = GraphCorrelator(correlator)
        self.network = NetworkAnomalyDetector(network, self.resolver)
        self.ueba = UebaDetector(ueba, self.resolver)
        self.sigma = sigma  # aiops.security.sigma.pipeline.DetectionPipeline or None
        self.intel = intel  # aiops.security.intel.threat_intel.ThreatIntel or None
        self.stats = PipelineStats()
        self.recent: deque[Signal] = deque(maxlen=keep_signals)
        self.signal_incident: dict[int, str] = {}
        self.on_signal = on_signal  # called for every signal kept by the graph (score ≥ attach)
        self._sigma_ls: dict[Any, bool] = {}

    def signals_for(self, ev: SecurityEvent, arrived: float | None = None) -> list[Signal]:
        """Every detector's signals for one event (flows may come back later, batched).

        ``arrived`` (``time.perf_counter()`` domain) is when the event reached this process; it
        defaults to now and is what incident latency is measured from.
        """
        st = self.stats
        st.events += 1
        wall = time.perf_counter() if arrived is None else arrived
        sigs: list[Signal] = []
        if ev.action == "network_flow":
            st.flows += 1
            self.assets.learn(ev)
            sigs.extend(self.network.observe(ev, wall))
        else:
            sigs.extend(self.ueba.observe(ev))
        if self.intel is not None:
            hits = self.intel.signals(ev, self.resolver)
            st.intel_hits += len(hits)
            sigs.extend(hits)
        if self.sigma is not None and (ev.rule_hits or (ev.rule_hits is None and self._sigma_applies(ev))):
            for a in self.sigma.process(ev):
                st.sigma_alerts += 1
                s = sigma_alert_signal(a, self.resolver, SIGMA_LEVEL_SCORE)
                if s.score > 0:
                    sigs.append(s)
        for s in sigs:  # flows come back from the detector's buffer with their own ingest time
            if "ingest_wall" not in s.detail:
                s.detail["ingest_wall"] = wall
        if self.network.due(event_ts=ev.timestamp):
            sigs.extend(self.network.flush())
        return sigs

    def _sigma_applies(self, ev: SecurityEvent) -> bool:
        """Skip the Sigma engine for log sources no loaded rule applies to (flows, VM lifecycle):
        same alerts, but no per-event field view is built for nothing."""
        ok = self._sigma_ls.get(ev.logsource)
        if ok is None:
            engine = getattr(self.sigma, "engine", None)
            ok = engine is None or bool(engine.bucket(ev.logsource).rules)
            self._sigma_ls[ev.logsource] = ok
        return ok

    def _correlate(self, sigs: Iterable[Signal]) -> list[Incident]:
        out: list[Incident] = []
        st = self.stats
        for s in sigs:
            st.signals += 1
            st.by_kind[s.kind] = st.by_kind.get(s.kind, 0) + 1
            got = self.graph.observe(s)
            if s.score >= self.graph.cfg.attach_score:
                self.recent.append(s)
            if got and s.sid:
                self.signal_incident[s.sid] = got[0].incident_id
            if self.on_signal is not None and s.score >= self.graph.cfg.attach_score:
                self.on_signal(s, got[0] if got else None)
            out.extend(got)
        return out

    def correlate(self, sigs: Iterable[Signal]) -> list[Incident]:
        """Feed signals from :meth:`signals_for` (after a caller annotated them, e.g. with provenance)."""
        return self._correlate(sigs)

    def process(self, ev: SecurityEvent, arrived: float | None = None) -> list[Incident]:
        """Incidents created or grown by this event."""
        return self._correlate(self.signals_for(ev, arrived))

    def process_many(self, events: Iterable[SecurityEvent], arrived: float | None = None) -> list[Incident]:
        out: list[Incident] = []
        for ev in events:
            out.extend(self._correlate(self.signals_for(ev, arrived)))
        return out

    def poll(self) -> list[Incident]:
        """Timer hook: flush flows buffered longer than the network detector's max delay."""
        if self.network.due():
            return self._correlate(self.network.flush())
        return []

    def drain(self) -> list[Incident]:
        """Score everything still buffered (end of a replay)."""
        return self._correlate(self.network.flush())

    def incident_of_signal(self, sid: int) -> str | None:
        inc_id = self.signal_incident.get(sid)
        while inc_id is not None and self.graph.incidents[inc_id].merged_into:
            inc_id = self.graph.incidents[inc_id].merged_into
        return inc_id

    def summary(self) -> dict[str, Any]:
        return {"events": self.stats.events, "flows": self.stats.flows, "signals": self.stats.signals,
                "signals_by_kind": dict(self.stats.by_kind), "sigma_alerts": self.stats.sigma_alerts,
                "intel_hits": self.stats.intel_hits, "network_ready": self.network.ready,
                "ueba_profiles": self.ueba.profiles(), "correlator": dict(self.graph.stats),
                "live_components": self.graph.live_components(), "wall": time.time()}

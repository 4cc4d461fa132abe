"""Security service behind the HTTP API: anomaly store, threat summary and response requests.

Wraps a :class:`SecurityPipeline` (detectors + graph correlator), a :class:`ResponseEngine`
and the API token table. Anomalies are the signals the correlator kept that are either strong
on their own (score ≥ seed) or part of an incident, plus one record per incident (kind
``incident``), so an operator can respond to a single alert or to a whole incident.
The async methods are what ``aiops.api.security.make_router`` calls; a Ray actor can expose
the same methods.
"""
from __future__ import annotations

import logging
import time
from collections import Counter, OrderedDict, deque
from datetime import datetime, timezone
from typing import Any, Iterable

from aiops.alerting.severity import SEVERITIES
from aiops.security.anomaly_store import AnomalyStore
from aiops.security.correlation.graph import Incident
from aiops.security.correlation.signals import Signal
from aiops.security.correlation.export import incident_report
from aiops.security.pipeline import SecurityPipeline
from aiops.security.events import SecurityEvent
from aiops.security.response.auth import Principal
from aiops.security.response.config import ResponseConfig
from aiops.security.response.engine import ResponseEngine, ResponseError, ResponseRecord

SEV_ORDER = SEVERITIES
STORE_RETRY_S = 30.0  # after a failed write-through, the next attempt waits this long


def _sev(s: str) -> str:
    s = (s or "medium").lower()
    return {"informational": "low"}.get(s, s if s in SEV_ORDER else "medium")


def _targets(entities: Iterable[str], detail: dict[str, Any] | None = None) -> dict[str, str]:
    """Default action targets named by an anomaly: the first VM, external/unknown IP and user."""
    out: dict[str, str] = {}
    for e in entities:
        kind, _, val = e.partition(":")
        if kind == "vm" and "vm_id" not in out:
            out["vm_id"] = val
        elif kind == "ip" and "ip" not in out:
            out["ip"] = val
        elif kind == "user" and "user" not in out:
            out["user"] = val.split("@", 1)[0]
        elif kind == "host" and "host" not in out:
            out["host"] = val
    return out


class SecurityService:
    def __init__(self, pipeline: SecurityPipeline | None = None, response: ResponseEngine | None = None,
                 response_config: ResponseConfig | None = None, max_anomalies: int = 50_000,
                 store: AnomalyStore | None = None) -> None:
        self.pipeline = pipeline or SecurityPipeline()
        cfg = response_config or (response.cfg if response else ResponseConfig(audit_log=None))
        self.response = response or ResponseEngine(cfg)
        self.anomalies: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.max_anomalies = max_anomalies
        self.last_updated = time.time()
        self.pipeline.on_signal = self._on_signal
        self._replay_suppressions(self.response.audit.start_rows)
        self.response.audit.release_start_rows()  # both have rebuilt their state from it
        # seconds from an event's arrival to the end of the call that raised or grew its incident
        self.incident_latency: deque[float] = deque(maxlen=10_000)
        self._incident_walls: list[float] = []
        # write-through of the records operators act on (None: memory only)
        self.store = store
        self._dirty: set[str] = set()
        self.store_errors = 0
        self.store_last_error: str | None = None
        self._store_retry_at = 0.0
        self.event_errors: Counter[str] = Counter()  # events a detector failed on, by source and error
        if store is not None:
            for rec in store.load():
                if rec.get("kind") == "incident" and rec.get("status") == "open":
                    # its graph component died with the previous process: it can no longer grow or expire
                    rec["status"], rec["closed_reason"] = "closed", "correlator restarted"
                    self._dirty.add(rec["id"])
                self.anomalies[rec["id"]] = rec

    # ---- ingest -------------------------------------------------------------
    def persist(self) -> int:
        """Write changed records to the store (after each batch and each response).

        A store that fails (Redis away) costs correlation nothing: the changes stay marked and are
        written on the first attempt after ``STORE_RETRY_S``; failures are counted in ``store_errors``.
        """
        if self.store is None or not self._dirty:
            self._dirty.clear()
            return 0
        now = time.monotonic()
        if now < self._store_retry_at:
            return 0
        rows = [self.anomalies[i] for i in self._dirty if i in self.anomalies]
        try:
            self.store.save(rows)
        except Exception as exc:  # noqa: BLE001 - any store failure: keep correlating, retry later
            self.store_errors += 1
            self.store_last_error = f"{type(exc).__name__}: {exc}"[:300]
            log.warning("anomaly store save failed, retrying in %ss: %s", STORE_RETRY_S, self.store_last_error,
                        exc_info=True)
            self._store_retry_at = now + STORE_RETRY_S
            return 0
        self._dirty.clear()
        return len(rows)

    def _put(self, rec: dict[str, Any]) -> None:
        self.anomalies[rec["id"]] = rec
        self.anomalies.move_to_end(rec["id"])
        self._dirty.add(rec["id"])
        while len(self.anomalies) > self.max_anomalies:
            self.anomalies.popitem(last=False)

    def _on_signal(self, sig: Signal, inc: Incident | None) -> None:
        self.last_updated = time.time()
        if inc is None and sig.score < self.pipeline.graph.cfg.seed_score:
            return
        pre = self.pipeline.graph.cfg.id_prefix
        rid = f"anom-{pre}{sig.sid}" if sig.sid else f"anom-{pre}x{id(sig)}"
        self._put({"id": rid, "kind": sig.kind, "name": sig.name, "timestamp": sig.ts, "severity": _sev(sig.severity),
                   "score": round(sig.score, 6), "entities": list(sig.entities), "targets": _targets(sig.entities),
                   "description": sig.summary, "tactics": list(sig.tactics), "techniques": list(sig.techniques),
                   "status": "open", "incident_id": inc.incident_id if inc else None, "responses": []})
        if inc is not None:
            self._incident_record(inc)
            wall = sig.detail.get("ingest_wall")
            if wall is not None:
                self._incident_walls.append(wall)

    def _incident_record(self, inc: Incident) -> None:
        comp = self.pipeline.graph.component_of(inc.incident_id)
        ents = sorted(comp.entities) if comp else []
        prev = self.anomalies.get(inc.incident_id)
        rec = {"id": inc.incident_id, "kind": "incident", "name": "correlated_incident", "timestamp": inc.created_ts,
               "severity": inc.severity, "score": round(inc.risk, 6), "entities": ents, "targets": _targets(
                   [e for e in ents if not e.startswith("ip:10.") and not e.startswith("ip:192.168.")] + ents),
               "description": f"{len(inc.tactics)} tactics ({', '.join(sorted(inc.tactics))}) across {len(ents)} entities",
               "tactics": sorted(inc.tactics), "techniques": sorted({t for s in (comp.signals if comp else []) for t in s.techniques}),
               "status": prev["status"] if prev else "open", "incident_id": inc.incident_id,
               "responses": prev["responses"] if prev else [], "first_ts": inc.first_ts, "last_ts": inc.last_ts}
        self._put(rec)

    def ingest_events(self, events: Iterable[SecurityEvent], arrived: float | None = None) -> dict[str, int]:
        """Run a batch through the pipeline; ``arrived`` (``perf_counter`` domain) is when it reached us."""
        n = 0
        incs: list[Incident] = []
        for ev in events:
            try:
                incs.extend(self.pipeline.process(ev, arrived))
            except Exception as exc:  # noqa: BLE001 - one odd event must not cost the rest of the batch
                self.event_errors[f"{ev.source}:{type(exc).__name__}"] += 1
                continue
            n += 1
        try:
            incs.extend(self.pipeline.poll())
        except Exception as exc:  # noqa: BLE001 - same for a buffered flow batch
            self.event_errors[f"flush:{type(exc).__name__}"] += 1
        for i in {i.incident_id: i for i in incs}.values():
            self._incident_record(i)
        self._apply_late_outcomes()
        if self._incident_walls:
            done = time.perf_counter()
            self.incident_latency.extend(done - w for w in self._incident_walls)
            self._incident_walls.clear()
        self.persist()
        return {"events": n, "incident_updates": len(incs)}

    def _apply_late_outcomes(self) -> None:
        """A response that timed out but ran after all mitigates its anomaly after all."""
        for rec in self.response.drain_late():
            anomaly = self.anomalies.get(rec.anomaly_id)
            if anomaly is not None and rec.status == "executed":
                anomaly["status"] = "mitigated"
                self._dirty.add(rec.anomaly_id)

    def check_escalations(self, now: float | None = None) -> int:
        """Escalate responses waiting too long for approval, judged on their anomalies."""
        return self.response.check_escalations(self.anomalies, now)

    def latency_summary(self) -> dict[str, float | int | None]:
        """Incident raise/update latency over the last 10,000 updates (p50, p99, max, in seconds)."""
        xs = sorted(self.incident_latency)
        if not xs:
            return {"n": 0, "p50_s": None, "p99_s": None, "max_s": None}
        return {"n": len(xs), "p50_s": round(xs[len(xs) // 2], 6), "p99_s": round(xs[min(len(xs) - 1, int(0.99 * len(xs)))], 6),
                "max_s": round(xs[-1], 6)}

    def close_expired(self) -> None:
        for inc in self.pipeline.graph.incidents.values():
            rec = self.anomalies.get(inc.incident_id)
            if rec is not None and inc.status in ("closed", "merged") and rec["status"] == "open":
                rec["status"] = inc.status
                self._dirty.add(rec["id"])

    # ---- API ----------------------------------------------------------------
    async def list_anomalies(self, severity: str | None = None, entity: str | None = None, status: str | None = None,
                             start: float | None = None, end: float | None = None, kind: str | None = None,
                             offset: int = 0, limit: int = 50, bucket_s: float | None = None) -> dict[str, Any]:
        self.close_expired()
        sev_set = {s.strip() for s in severity.split(",")} if severity else None
        rows = []
        for r in self.anomalies.values():
            if sev_set and r["severity"] not in sev_set:
                continue
            if status and r["status"] != status:
                continue
            if kind and r["kind"] != kind:
                continue
            if start is not None and r["timestamp"] < start:
                continue
            if end is not None and r["timestamp"] > end:
                continue
            if entity and not any(entity == e or entity == e.partition(":")[2] or e.partition(":")[2].startswith(entity + "@")
                                  for e in r["entities"]):
                continue
            rows.append(r)
        rows.sort(key=lambda r: r["timestamp"], reverse=True)
        summary = {"total": len(rows), "by_severity": dict(Counter(r["severity"] for r in rows)),
                   "by_status": dict(Counter(r["status"] for r in rows)), "by_kind": dict(Counter(r["kind"] for r in rows)),
                   "open_incidents": sum(1 for r in rows if r["kind"] == "incident" and r["status"] == "open")}
        timeline: list[dict[str, Any]] = []
        if rows:
            lo, hi = rows[-1]["timestamp"], rows[0]["timestamp"]
            b = bucket_s or max(60.0, (hi - lo) / 24.0 or 60.0)
            buckets: dict[float, Counter[str]] = {}
            for r in rows:
                k = lo + ((r["timestamp"] - lo) // b) * b
                buckets.setdefault(k, Counter())[r["severity"]] += 1
            timeline = [{"start": k, "end": k + b, "count": sum(c.values()), "by_severity": dict(c)} for k, c in sorted(buckets.items())]
        return {"anomalies": rows[offset: offset + limit], "summary": summary, "timeline": timeline,
                "offset": offset, "limit": limit, "total": len(rows)}

    async def get_anomaly(self, anomaly_id: str) -> dict[str, Any] | None:
        return self.anomalies.get(anomaly_id)

    async def incident(self, incident_id: str) -> dict[str, Any] | None:
        return incident_report(self.pipeline.graph, incident_id)

    async def threats(self) -> dict[str, Any]:
        self.close_expired()
        g = self.pipeline.graph
        active = []
        for inc in g.open_incidents():
            comp = g.component_of(inc.incident_id)
            s = inc.summary(comp)
            active.append({"id": inc.incident_id, "type": "incident", "severity": inc.severity, "risk_score": round(inc.risk, 4),
                           "title": f"{inc.severity} incident: {' → '.join(s['tactics'])}", "tactics": s["tactics"],
                           "techniques": s.get("techniques", []), "entities": s.get("entities", []),
                           "first_seen": inc.first_ts, "last_seen": inc.last_ts, "signals": s.get("signals", 0)})
        intel = self.pipeline.intel
        if intel is not None:
            for ind in intel.indicators():
                if ind.hits:
                    active.append({"id": f"ioc:{ind.type}:{ind.value}", "type": "indicator", "severity": "high" if ind.confidence >= 70 else "medium",
                                   "risk_score": round(ind.confidence / 100.0, 4), "title": ind.description or f"{ind.type} {ind.value}",
                                   "source": ind.source, "hits": ind.hits, "first_seen": ind.first_seen, "last_seen": ind.last_seen})
        active.sort(key=lambda a: a["risk_score"], reverse=True)
        overall = max((a["risk_score"] for a in active if a["type"] == "incident"), default=0.0)
        return {"active_threats": active, "overall_risk_score": overall,
                "last_updated": datetime.fromtimestamp(self.last_updated, tz=timezone.utc).isoformat()}

    async def respond(self, anomaly_id: str, action: str, parameters: dict[str, Any], manual: bool, comment: str | None,
                      principal: Principal, idempotency_key: str | None = None, dry_run: bool | None = None) -> dict[str, Any] | None:
        anomaly = self.anomalies.get(anomaly_id)
        if anomaly is None:
            return None
        # ``manual`` is the client's claim and plays no part: a request with a principal is manual
        rec: ResponseRecord = self.response.request(anomaly, action, parameters, comment=comment, principal=principal,
                                                    idempotency_key=idempotency_key, dry_run=dry_run)
        if not rec.duplicate:
            anomaly["responses"].append(rec.response_id)
            if rec.status == "executed":
                anomaly["status"] = "mitigated"
            elif rec.status == "pending_approval" and anomaly["status"] == "open":
                anomaly["status"] = "pending_approval"
            self._dirty.add(anomaly_id)
            self.persist()
        return rec.to_dict()

    # ---- suppressions (allowlists) ---------------------------------------------
    def _suppressions(self) -> Any:
        sigma = self.pipeline.sigma
        return sigma.suppressions if sigma is not None else None

    def _replay_suppressions(self, rows: list[dict[str, Any]]) -> None:
        """Suppressions added or removed through the API are in the audit trail: apply them again
        after a restart, on top of the ones from configs/security.yaml."""
        store = self._suppressions()
        if store is None:
            return
        for r in rows:
            try:
                if r.get("event") == "suppression_added":
                    store.add({**r["suppression"], "suppressed": 0})
                elif r.get("event") == "suppression_removed":
                    store.remove(r["suppression_id"])
            except (KeyError, ValueError):  # already there (config) / already gone / no longer valid
                continue

    async def list_suppressions(self) -> list[dict[str, Any]]:
        store = self._suppressions()
        return [s.model_dump() for s in store.entries()] if store is not None else []

    async def add_suppression(self, entry: dict[str, Any], principal: Principal) -> dict[str, Any]:
        """Add one (SuppressionsUnavailable: no rules loaded; SuppressionExists: the id exists). Audited."""
        from aiops.security.sigma.suppression import Suppression, SuppressionsUnavailable

        store = self._suppressions()
        if store is None:
            raise SuppressionsUnavailable("no Sigma rules are loaded, so there is nothing to suppress")
        sup = Suppression.model_validate({**entry, "created_by": principal.name, "suppressed": 0})
        store.add(sup)
        self.response.audit.write("suppression_added", suppression_id=sup.id, by=principal.name,
                                  suppression=sup.model_dump(exclude={"suppressed"}))
        return sup.model_dump()

    async def remove_suppression(self, sid: str, principal: Principal) -> dict[str, Any] | None:
        """Remove one (None: unknown id); the answer carries how many alerts it had suppressed. Audited."""
        store = self._suppressions()
        if store is None:
            return None
        try:
            sup = store.remove(sid)
        except KeyError:
            return None
        self.response.audit.write("suppression_removed", suppression_id=sid, by=principal.name, suppressed=sup.suppressed)
        return sup.model_dump()

    async def list_responses(self, status: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Response requests, newest first (`status` filters, e.g. pending_approval for the approvers' queue)."""
        recs = [r for r in self.response.records.values() if status is None or r.status == status]
        recs.sort(key=lambda r: r.created, reverse=True)
        return [r.to_dict() for r in recs[:limit]]

    async def audit_trail(self, limit: int = 200) -> list[dict[str, Any]]:
        """The newest `limit` rows of the hash-chained audit trail, newest first."""
        return list(reversed(self.response.audit.records()[-limit:]))

    async def approve(self, response_id: str, principal: Principal) -> dict[str, Any] | None:
        rec = self.response.records.get(response_id)
        if rec is None:
            return None
        anomaly = self.anomalies.get(rec.anomaly_id, {})
        rec = self.response.approve(response_id, principal, anomaly)
        if rec.status == "executed" and anomaly:
            anomaly["status"] = "mitigated"
            self._dirty.add(anomaly["id"])
            self.persist()
        return rec.to_dict()


__all__ = ["SecurityService", "ResponseError"]

log = logging.getLogger(__name__)

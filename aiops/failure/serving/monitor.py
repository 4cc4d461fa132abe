"""The fleet monitor's policy, Ray-free: each round, take fleet-wide predictions, keep them as the snapshot
every ingress serves (bytes, versioned), raise deduplicated alerts at the served model's operating point,
and record operators' mitigations."""
from __future__ import annotations

import logging
import json
import math
import time
from typing import Any, Awaitable, Callable

import orjson

from aiops.alerting.alerter import Alerter
from aiops.failure.errors import NoModel
from aiops.failure.serving.alerts import AlertBook, alert_thresholds, failure_alert_specs
from aiops.failure.serving.risk_history import RiskHistory
from aiops.failure.serving.service import FleetPredictions
from aiops.failure.serving.unsupervised import is_unsupervised

__all__ = ["FleetMonitor", "Snapshot"]

log = logging.getLogger(__name__)

Snapshot = tuple[int, str | None, float | None, dict[str, bytes] | None]  # version, model, horizon_s, bodies


class FleetMonitor:
    """Snapshot, alert book and mitigation log; `step` runs one round with an injected `predict_fleet`."""

    def __init__(self, predict_fleet: Callable[[], Awaitable[FleetPredictions]], alerter: Alerter,
                 alert_threshold: float | None, rearm_below: float,
                 store_mitigation: Callable[[bytes], Awaitable[None]] | None = None, keep_alerts: int = 1000,
                 api_base: str = "http://127.0.0.1:8000", unsupervised_threshold: float | None = None) -> None:
        self._predict_fleet = predict_fleet
        self.alerter = alerter
        self.api_base = api_base
        self.alert_threshold = alert_threshold
        self.rearm_below = rearm_below
        self.unsupervised_threshold = unsupervised_threshold  # None: the label-free risk never alerts
        self._store_mitigation = store_mitigation
        self.keep_alerts = keep_alerts
        self.book = AlertBook(*alert_thresholds(alert_threshold, rearm_below, None))
        self.snapshot: dict[str, bytes] = {}  # serialised once by the model replica, served as-is by every ingress
        self.probabilities: dict[str, float] = {}
        self.horizon_s: float | None = None
        self.version = 0
        self.model_version: str | None = None
        self.mitigations: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.errors = 0
        self.last_error: str | None = None
        self.history = RiskHistory()  # each target's recent risk, for the console's trend

    async def step(self) -> None:
        """One round; NoModel is quiet (nothing deployed yet), any other failure is counted and kept."""
        try:
            fleet = await self._predict_fleet()
            self.apply(fleet)
            await self._alert(fleet)
        except NoModel:
            pass
        except Exception as exc:
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {str(exc)[:300]}"
            log.warning("failure monitor round failed: %s", self.last_error, exc_info=True)

    def apply(self, fleet: FleetPredictions) -> None:
        """Make a round the new snapshot; a promotion moves the alert thresholds to the new model's."""
        if fleet.model_version != self.model_version:
            self.book.set_thresholds(*self._thresholds(fleet))
        self.snapshot, self.probabilities = fleet.bodies, fleet.probabilities
        self.model_version, self.horizon_s = fleet.model_version, fleet.horizon_s
        self.version += 1
        self.history.record(time.time(), fleet.probabilities, fleet.model_version)

    def _thresholds(self, fleet: FleetPredictions) -> tuple[float, float]:
        """The supervised model's operating point (or the configured one); for the label-free fallback only the
        configured unsupervised level, and no alerts at all without one (its risk is uniform on normal rows)."""
        if not is_unsupervised(fleet.model_version):
            return alert_thresholds(self.alert_threshold, self.rearm_below, fleet.decision_threshold)
        if self.unsupervised_threshold is None:
            return math.inf, self.rearm_below
        return self.unsupervised_threshold, min(self.rearm_below, 0.8 * self.unsupervised_threshold)

    async def _alert(self, fleet: FleetPredictions) -> None:
        new = self.book.update_lazy((t, p, lambda t=t: orjson.loads(fleet.bodies[t]))
                                    for t, p in fleet.probabilities.items())
        self.sent.extend(new)
        del self.sent[:-self.keep_alerts]
        self.evaluate_alerts()

    def evaluate_alerts(self) -> None:
        """Re-state every open alert (those that closed are resolved); delivery runs in the alerter's tasks."""
        self.alerter.evaluate(failure_alert_specs(self.book.active.values(), self.api_base))

    def get_snapshot(self, since: int) -> Snapshot:
        """The snapshot for an ingress that holds version `since` (bodies None when it is current)."""
        return self.version, self.model_version, self.horizon_s, None if since == self.version else self.snapshot

    async def record_mitigation(self, target_id: str, action: str, comment: str) -> dict[str, Any]:
        """Log an operator's action (and store it when a store is given); the target may alert again later."""
        rec = {"target_id": target_id, "action": action, "comment": comment, "ts": time.time(),
               "prediction": self.probabilities.get(target_id)}
        self.mitigations.append(rec)
        if self._store_mitigation is not None:
            await self._store_mitigation(json.dumps(rec).encode())
        self.book.mitigated(target_id)
        self.evaluate_alerts()  # resolved now, not at the next round
        return rec

    def stats(self, name: str) -> dict[str, Any]:
        """What `aiops status` and the tests read about the monitor."""
        return {"name": name, "snapshot_version": self.version, "targets": len(self.snapshot),
                "alert_threshold": None if math.isinf(self.book.threshold) else self.book.threshold,
                "unsupervised": is_unsupervised(self.model_version), "alerts_sent": len(self.sent), "errors": self.errors,
                "last_error": self.last_error, "model_version": self.model_version, "alerting": self.alerter.stats()}

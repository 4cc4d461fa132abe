"""Failure alerts: one per target per episode, with hysteresis; stated as alert specs for `aiops.alerting`."""
from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping
from urllib.parse import quote

from aiops.alerting.board import AlertSpec

__all__ = ["DEFAULT_ALERT_THRESHOLD", "alert_thresholds", "AlertBook", "failure_alert_specs"]


DEFAULT_ALERT_THRESHOLD = 0.7


def alert_thresholds(configured: float | None, rearm_below: float, model_threshold: float | None) -> tuple[float, float]:
    """(alert at, re-arm below): the configured threshold wins; else the model's own decision threshold,
    so alerts fire at the operating point training validated (its recall and precision); else 0.7."""
    threshold = configured if configured is not None else (model_threshold or DEFAULT_ALERT_THRESHOLD)
    return threshold, min(rearm_below, 0.8 * threshold)


class AlertBook:
    """Raises an alert when p >= threshold; re-arms only after p < rearm_below (no flapping)."""

    def __init__(self, threshold: float, rearm_below: float) -> None:
        if rearm_below > threshold:
            raise ValueError("rearm_below must not exceed the alert threshold")
        self.threshold = threshold
        self.rearm_below = rearm_below
        self.active: dict[str, dict[str, Any]] = {}

    def update(self, predictions: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """New alerts for this round of predictions."""
        return self.update_lazy((p["target_id"], p["failure_probability"], (lambda p=p: p)) for p in predictions)

    def update_lazy(self, rounds: Iterable[tuple[str, float, Callable[[], Mapping[str, Any]]]]) -> list[dict[str, Any]]:
        """`update` over (target, probability, full prediction on demand): only a new alert needs the rest of
        the prediction, so a caller holding serialised predictions decodes just those."""
        new = []
        for t, prob, full in rounds:
            if t in self.active:
                if prob < self.rearm_below:
                    del self.active[t]
                continue
            if prob >= self.threshold:
                alert = _alert(t, prob, full())
                self.active[t] = alert
                new.append(alert)
        return new

    def set_thresholds(self, threshold: float, rearm_below: float) -> None:
        """A new model brought its own operating point; open alerts stay open."""
        if rearm_below > threshold:
            raise ValueError("rearm_below must not exceed the alert threshold")
        self.threshold, self.rearm_below = threshold, rearm_below

    def mitigated(self, target_id: str) -> None:
        """An operator acted: forget the open alert so a later relapse alerts again."""
        self.active.pop(target_id, None)


def _alert(target_id: str, prob: float, p: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "target_id": target_id, "target_type": p.get("target_type"), "severity": p["severity"],
        "failure_probability": prob, "time_to_failure": p.get("time_to_failure"),
        "contributing_factors": [f["description"] for f in p.get("contributing_factors", [])[:3]],
        "recommendations": p.get("recommendations", []), "model_version": p.get("model_version"),
        "raised_at": p.get("last_updated"),
    }


def failure_alert_specs(active: Iterable[Mapping[str, Any]], api_base: str) -> list[AlertSpec]:
    """The open failure alerts as alert specs: one per target, at the severity it was raised with; the
    generatorURL is the target's prediction in this API."""
    out = []
    for a in active:
        target = str(a["target_id"])
        out.append(AlertSpec(
            key=target, name="FailurePredicted", severity=a["severity"],
            labels={"target": target, "target_type": a.get("target_type") or "unknown"},
            annotations={"summary": f"{target} predicted to fail (p={a['failure_probability']:.2f})",
                         "factors": "; ".join(a.get("contributing_factors", [])),
                         "recommendation": "; ".join(a.get("recommendations", [])),
                         "model_version": a.get("model_version")},
            generator_url=f"{api_base}/api/ai/predictions/failures/{quote(target, safe='')}",
            starts_at=a.get("raised_at"),
            detail={"failure_probability": a["failure_probability"], "time_to_failure": a.get("time_to_failure")}))
    return out

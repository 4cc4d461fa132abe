"""Why a candidate was not promoted, by how much, and what to change.

The pipeline's decision names the thresholds a candidate missed; an operator reading a scheduled job's outcome
also needs the size of each gap and the lever that moves that metric. This is kept apart from the pipeline so
the job, the scheduler and `aiops status` print the same explanation.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

__all__ = ["Shortfall", "acceptance_shortfalls", "explain_decision", "ADVICE", "RESULT_MARKER", "result_line",
           "parse_result_line"]

# What moves each acceptance metric, most effective first. Lowering the threshold itself is listed last on purpose:
# it changes what "good enough" means rather than the model.
ADVICE = {
    "recall": "the model misses failing episodes: train on more labelled episodes (a longer history, or wait for "
              "more: failure.retrain.min_new_episodes), add features that see slow change (longer-window trend/count "
              "features in configs/features.yaml), or search more (tune.num_samples); if precision has room, a lower "
              "acceptance.threshold_precision alerts earlier (trading precision); lowering acceptance.min_recall "
              "only hides it",
    "precision": "too many alarms on targets that did not fail: more history of healthy look-alikes (a longer "
                 "history), record maintenance/backups as events so they are not learnt as precursors, record "
                 "mitigations through the API; if recall has room, a higher acceptance.threshold_precision alerts "
                 "less (trading recall); lowering acceptance.min_precision only hides it",
    "median_lead_min": "alerts come too late to act on: features over longer windows (trend, change_rate over hours "
                       "in configs/features.yaml) so precursors show earlier; a horizon (dataset.horizon_s) at least "
                       "as long as the lead you need",
}
_NOT_MEASURED = ("not measured: the held-out period holds no failure episodes to score; train on a longer history "
                 "(more episodes) or with fewer, larger outer folds")
_THRESHOLDS = (("recall", "min_recall"), ("precision", "min_precision"), ("median_lead_min", "min_median_lead_min"))


@dataclass(frozen=True)
class Shortfall:
    """One acceptance threshold a candidate missed."""
    metric: str
    value: float | None
    threshold: float
    gap: float | None
    advice: str

    def line(self) -> str:
        if self.value is None:
            return f"{self.metric}: {self.advice}"
        return (f"{self.metric} {self.value:.3f} < {self.threshold:g} (short by {self.gap:.3f}, "
                f"{self.gap / self.threshold:.0%} of the threshold): {self.advice}" if self.threshold else
                f"{self.metric} {self.value:.3f} < {self.threshold:g}: {self.advice}")


def acceptance_shortfalls(metrics: Mapping[str, Any], acceptance: Any) -> list[Shortfall]:
    """Each acceptance threshold (`AcceptanceConfig`) the metrics miss, with its gap and the lever to move it."""
    out = []
    for metric, attr in _THRESHOLDS:
        threshold = getattr(acceptance, attr, None)
        if threshold is None:
            continue
        value = metrics.get(metric)
        if value is None or value != value:  # None or NaN: nothing to score on
            out.append(Shortfall(metric, None, float(threshold), None, _NOT_MEASURED))
        elif value < threshold:
            out.append(Shortfall(metric, float(value), float(threshold), float(threshold - value), ADVICE[metric]))
    return out


def explain_decision(report: Mapping[str, Any], acceptance: Any) -> dict[str, Any]:
    """The job's verdict: promoted or not, the decision's reason, each shortfall and what to change."""
    decision = report.get("decision") or {}
    promoted = bool(decision.get("promoted"))
    reason = str(decision.get("reason", ""))
    shortfalls = [] if promoted else acceptance_shortfalls(report.get("metrics") or {}, acceptance)
    change = [s.line() for s in shortfalls]
    if not promoted and not shortfalls and "production" in reason:
        change = [f"it passed acceptance but is not better than production on the same held-out rows; nothing to fix "
                  f"unless the fleet changed: {report.get('version')} stays registered, and `python -m "
                  f"jobs.train_failure --force-promote` (after review) promotes a retrained one"]
    summary = ("promoted " + str(report.get("version"))) if promoted else f"not promoted: {reason}"
    return {"promoted": promoted, "version": report.get("version"), "reason": reason, "summary": summary,
            "shortfalls": [asdict(s) for s in shortfalls], "what_to_change": change}


RESULT_MARKER = "train_failure result: "


def result_line(result: Mapping[str, Any]) -> str:
    """The job's last line: one JSON object a scheduler can read back from the job's log."""
    import json

    return RESULT_MARKER + json.dumps(result, default=str, separators=(",", ":"))


def parse_result_line(log: str) -> dict[str, Any] | None:
    """The last result line in a job's log (None when the job printed none, e.g. it crashed first)."""
    import json

    for line in reversed(log.splitlines()):
        at = line.find(RESULT_MARKER)
        if at >= 0:
            try:
                return json.loads(line[at + len(RESULT_MARKER):])
            except ValueError:
                return None
    return None

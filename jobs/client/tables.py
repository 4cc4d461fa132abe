"""Human tables for the `aiops` client commands: plain text, aligned, one renderer per answer.

Each `render_*` takes the API's JSON answer and returns the text to print (`--json` prints the
answer itself), so the shapes shown here are the API's, and tests need no engine.
"""
from __future__ import annotations

import time
from typing import Any, Sequence

from aiops.durations import format_duration

__all__ = ["table", "fmt_pct", "fmt_ts", "fmt_age", "render_prediction", "render_predictions", "render_recommendations",
           "render_incidents", "render_plans", "render_apply", "MAX_CELL"]

MAX_CELL = 48  # wider cells are cut with an ellipsis so a row stays on one line


def _cell(value: Any) -> str:
    text = "-" if value is None or value == "" else str(value)
    text = " ".join(text.split())
    return text if len(text) <= MAX_CELL else text[:MAX_CELL - 1] + "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[int] = ()) -> str:
    """Columns padded to their widest cell; the columns in `right` are right-aligned (numbers)."""
    cells = [[_cell(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(row: Sequence[str]) -> str:
        out = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        return "  ".join(out).rstrip()
    return "\n".join([line(list(headers))] + [line(r) for r in cells])


def fmt_pct(p: float | None, digits: int = 1) -> str:
    return "-" if p is None else f"{100 * float(p):.{digits}f}%"


def fmt_ts(ts: float | None) -> str:
    """Unix seconds as UTC time (the engine's clock may be simulated: no local zone guessing)."""
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(float(ts)))


def fmt_age(seconds: float | None) -> str:
    return "-" if seconds is None else format_duration(float(seconds))


def render_prediction(p: dict[str, Any]) -> str:
    """One target: the headline, its top contributing factors and the recommendations."""
    ci = p.get("confidence_interval") or (None, None)
    head = table(["target", "type", "failure risk", "80% interval", "severity", "time to failure", "model"],
                 [[p["target_id"], p.get("target_type"), fmt_pct(p["failure_probability"]),
                   f"{fmt_pct(ci[0])}-{fmt_pct(ci[1])}", p.get("severity"), fmt_age(p.get("time_to_failure")),
                   p.get("model_version")]], right=(2,))
    parts = [head, f"features as of {fmt_ts(p.get('features_as_of'))}"]
    factors = p.get("contributing_factors") or []
    if factors:
        rows = [[f["feature"], "-" if f.get("value") is None else f"{f['value']:.4g}", f"{f['contribution']:+.3f}",
                 f.get("description")] for f in factors[:8]]
        parts += ["", "contributing factors", table(["feature", "value", "contribution", "why"], rows, right=(1, 2))]
    recs = p.get("recommendations") or []
    if recs:
        parts += ["", "recommendations"] + [f"  - {r}" for r in recs]
    return "\n".join(parts)


def render_predictions(batch: dict[str, Any]) -> str:
    """Several targets, one row each, riskiest first."""
    preds = sorted(batch.get("predictions", []), key=lambda p: -p["failure_probability"])
    rows = [[p["target_id"], fmt_pct(p["failure_probability"]), p.get("severity"), fmt_age(p.get("time_to_failure")),
             (p.get("contributing_factors") or [{}])[0].get("feature")] for p in preds]
    out = [table(["target", "failure risk", "severity", "time to failure", "top factor"], rows, right=(1,)),
           f"horizon {fmt_age(batch.get('time_horizon_s'))}; model {batch.get('model_version') or '-'}"]
    if batch.get("not_found"):
        out.append(f"no telemetry for: {', '.join(batch['not_found'])}")
    return "\n".join(out)


def render_recommendations(r: dict[str, Any]) -> str:
    """Ranked nodes with score, confidence, cost and the first pro and con."""
    rows = []
    for n in r.get("recommendations", []):
        cost = n.get("estimated_cost") or {}
        rows.append([n["rank"], n["node_id"], n.get("zone"), f"{n['placement_score']:.3f}", f"{n['confidence']:.2f}",
                     f"{cost.get('hourly', 0):.3f} {cost.get('currency', '')}".strip(),
                     (n.get("pros") or ["-"])[0], (n.get("cons") or ["-"])[0]])
    out = [table(["rank", "node", "zone", "score", "confidence", "cost/h", "best", "worst"], rows, right=(0, 3, 4, 5)),
           f"{r.get('feasible_nodes')} of {r.get('total_nodes')} nodes feasible, {r.get('nodes_scored')} scored in "
           f"{1000 * float(r.get('analysis_time') or 0):.0f} ms; placement id {r.get('placement_id')}"]
    rejected = {k: v for k, v in (r.get("rejections") or {}).items() if v}
    if rejected:
        out.append("ruled out: " + ", ".join(f"{k} {v}" for k, v in sorted(rejected.items(), key=lambda kv: -kv[1])))
    return "\n".join(out)


def render_incidents(listing: dict[str, Any]) -> str:
    """Security incidents (anomalies of kind incident), newest evidence first."""
    items = sorted(listing.get("anomalies", []), key=lambda a: -(a.get("last_ts") or a.get("timestamp") or 0))
    rows = [[a["id"], a.get("severity"), f"{a.get('score', 0):.2f}", a.get("status"), fmt_ts(a.get("last_ts") or a.get("timestamp")),
             ", ".join(a.get("entities") or []), a.get("name")] for a in items]
    if not rows:
        return "no incidents"
    shown = f"{len(rows)} of {listing.get('total', len(rows))} incidents"
    return table(["id", "severity", "risk", "status", "last evidence", "entities", "name"], rows, right=(2,)) + "\n" + shown


def render_plans(listing: dict[str, Any]) -> str:
    """Stored placement plans, newest first."""
    rows = [[p["plan_id"], p["kind"], p["status"], fmt_ts(p.get("created")), p.get("actions"),
             ", ".join(p.get("hosts") or []), p.get("stranded") or 0, fmt_ts(p.get("applied_at"))]
            for p in listing.get("plans", [])]
    if not rows:
        return "no plans (POST /api/ai/placement/plan or /evacuations makes one)"
    return table(["plan", "kind", "status", "created", "actions", "hosts", "stranded", "applied"], rows, right=(4, 6))


def render_apply(a: dict[str, Any]) -> str:
    """What approving a plan did: its status, the moves made and the ones skipped with their reasons."""
    again = " (it was already applied: nothing done again)" if a.get("already_applied") else ""
    lines = [f"plan {a['plan_id']}: {a['status']}{again}; {len(a.get('applied', []))} applied, "
             f"{len(a.get('skipped', []))} skipped; control plane version {a.get('control_plane_version')}"]
    moves = [[x.get("op"), x.get("vm_id"), x.get("from"), x.get("to"), "done"] for x in a.get("applied", [])]
    moves += [[x.get("op"), x.get("vm_id"), x.get("from"), x.get("to"), x.get("reason")] for x in a.get("skipped", [])]
    if moves:
        lines.append(table(["op", "vm", "from", "to", "result"], moves))
    return "\n".join(lines)

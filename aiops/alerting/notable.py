"""What `aiops up` tells the person watching it: one line per notable thing, each said once.

Notable: the kind of served failure model changes (the label-free score starts serving, a supervised
model is promoted, replaced or rolled back; a refit of the label-free score is not news); a host has
stayed at high or critical risk for ``hold_s`` (a load spike or a flapping link passes before that,
as with Prometheus' ``for:``), said again only when it gets worse, or after it has been back to low; a
security incident opens, or gains steps; a placement plan is applied (an operator's approval or
``placement.auto_evacuate``: the API does not say which, so neither does the line), said once, and only for
plans applied after the watcher's first look (a restarted watcher does not replay history). Everything else
(a risk wobbling inside a band, an incident's score moving) is left to the API and the dashboards: the
terminal is for the few things a person should act on. The policy is plain Python over the API's answers (a
watcher polls and prints), so it can be tested without an engine.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from aiops.alerting.severity import at_least, severity_rank

__all__ = ["APPLIED_STATUSES", "HostRisk", "IncidentSteps", "NotablePolicy", "incident_steps"]

# What PlanService.apply leaves on a plan that moved or created VMs (``not_applied`` changed nothing).
APPLIED_STATUSES = ("applied", "partially_applied")


@dataclass(frozen=True)
class HostRisk:
    """A host that has just become notable: its prediction, with the factors named."""

    host_id: str
    severity: str
    probability: float
    factors: tuple[str, ...]
    model_version: str


@dataclass(frozen=True)
class IncidentSteps:
    """An incident and its steps (tactics in the order their first evidence arrived)."""

    incident_id: str
    severity: str
    risk: float
    steps: tuple[str, ...]
    entities: tuple[str, ...]
    opened: bool  # False: an open incident that gained steps


def incident_steps(report: Mapping[str, Any]) -> tuple[str, ...]:
    """Tactics of an incident report (GET /security/incidents/{id}) in the order their evidence arrived,
    each with the name of the first signal that showed it: ``credential_access (ssh_brute_force)``."""
    out: dict[str, str] = {}
    for sig in sorted(report.get("timeline") or [], key=lambda s: s.get("ts") or 0.0):
        for tactic in sig.get("tactics") or ():
            out.setdefault(tactic, f"{tactic} ({sig.get('name', '?')})")
    for tactic in (report.get("incident") or {}).get("tactics") or ():
        out.setdefault(tactic, tactic)  # a tactic without a timeline entry (trimmed): still a step
    return tuple(out.values())


class NotablePolicy:
    """De-duplicated notable things from successive polls of the API (state kept between calls)."""

    def __init__(self, floor: str = "high", rearm_below: str = "medium", hold_s: float = 1800.0) -> None:
        self.floor = floor
        self.rearm_below = rearm_below
        self.hold_s = hold_s  # telemetry seconds (the predictions' features_as_of) a host stays at the floor first
        self._version: str | None = None
        self._supervised: bool | None = None
        self._hosts: dict[str, str] = {}  # host -> the severity last said
        self._since: dict[str, float] = {}  # host -> when it reached the floor (not yet said)
        self._incidents: dict[str, frozenset[str]] = {}  # incident -> tactics last said
        self._plans: set[str] | None = None  # applied plans already seen (None: not looked yet)

    # ---- the served model ---------------------------------------------------------------------------
    def model(self, info: Mapping[str, Any] | None) -> str | None:
        """A line when the served failure model changed (None: nothing new, or no model yet)."""
        if not info or not info.get("version") or info["version"] == self._version:
            return None
        supervised = not (info.get("supervised") is False or str(info.get("type", "")).startswith("unsupervised"))
        first, was = self._version is None, self._supervised
        self._version, self._supervised = str(info["version"]), supervised
        if not supervised:
            if was is False:
                return None  # a refit of the label-free score
            return (f"failure model: serving the label-free health score {self._version} until a supervised model is "
                    "promoted (risk = how unusual a host is against the fleet's normal rows)")
        rec, prec = info.get("recall"), info.get("precision")
        quality = f" (recall {rec:.2f}, precision {prec:.2f} on held-out data)" if rec is not None and prec is not None else ""
        verb = "serving" if first else "promoted"
        return f"failure model: {verb} supervised model {self._version}{quality}"

    # ---- hosts --------------------------------------------------------------------------------------
    def hosts_at_risk(self, predictions: Iterable[Mapping[str, Any]], now: float = 0.0) -> list[HostRisk]:
        """Hosts at the floor's band for ``hold_s`` (by their ``features_as_of``, else ``now``), or worse since
        last said; hosts back below ``rearm_below`` may be said again later."""
        out = []
        for p in predictions:
            if p.get("target_type", "host") != "host":
                continue
            host, sev = str(p["target_id"]), str(p.get("severity") or "low")
            said = self._hosts.get(host)
            if said is not None and not at_least(sev, self.rearm_below):
                del self._hosts[host]  # back to normal: re-armed
            if not at_least(sev, self.floor):
                self._since.pop(host, None)
                continue
            if said is None:
                since = self._since.setdefault(host, float(p.get("features_as_of") or now))
                if float(p.get("features_as_of") or now) - since < self.hold_s:
                    continue
            elif severity_rank(sev) <= severity_rank(said):
                continue
            self._hosts[host] = sev
            factors = tuple(str(f.get("description") or f.get("feature")) for f in p.get("contributing_factors") or ())
            out.append(HostRisk(host, sev, float(p.get("failure_probability") or 0.0), factors[:3],
                                str(p.get("model_version") or "")))
        out.sort(key=lambda r: (-severity_rank(r.severity), -r.probability, r.host_id))
        return out

    @staticmethod
    def host_line(risk: HostRisk, plan: Mapping[str, Any] | None, error: str | None = None) -> str:
        """`host-0002 at high risk (0.99): ...; evacuation plan plan-x: 6 VMs to 4 hosts (approve: ...)`."""
        why = "; ".join(risk.factors) or "no factors given"
        head = f"{risk.host_id} at {risk.severity} risk ({risk.probability:.2f}, {risk.model_version}): {why}"
        if plan is None:
            return f"{head}; no evacuation plan ({error or 'not asked'})"
        moves = [a for a in plan.get("actions") or () if a.get("to")]
        targets = {a["to"] for a in moves}
        stranded = len(plan.get("stranded") or ())
        return (f"{head}; evacuation plan {plan['plan_id']}: {len(moves)} VM moves to {len(targets)} hosts"
                + (f", {stranded} stranded" if stranded else "")
                + f" (approve: POST /api/ai/placement/plans/{plan['plan_id']}/apply)")

    # ---- incidents ----------------------------------------------------------------------------------
    def incidents_to_tell(self, records: Iterable[Mapping[str, Any]]) -> list[str]:
        """Ids of open incidents (anomaly records of kind ``incident``) that are new or gained tactics."""
        out = []
        for r in records:
            if r.get("kind") != "incident" or r.get("status") != "open":
                continue
            if frozenset(r.get("tactics") or ()) != self._incidents.get(str(r["id"])):
                out.append(str(r["id"]))
        return out

    def incident(self, record: Mapping[str, Any], report: Mapping[str, Any] | None) -> IncidentSteps | None:
        """The incident to tell (None when it has nothing new); marks its tactics as said."""
        iid, tactics = str(record["id"]), frozenset(record.get("tactics") or ())
        said = self._incidents.get(iid)
        if said == tactics:
            return None
        self._incidents[iid] = tactics
        steps = incident_steps(report) if report else tuple(sorted(tactics))
        ents = tuple(e for e in record.get("entities") or () if e.split(":", 1)[0] in ("host", "user", "ip"))
        return IncidentSteps(iid, str(record.get("severity") or "low"), float(record.get("score") or 0.0), steps,
                             ents[:4], said is None)

    @staticmethod
    def incident_line(inc: IncidentSteps) -> str:
        """`incident inc-1 opened (high, risk 0.80): a → b → c on host:h, user:u`."""
        verb = "opened" if inc.opened else "grew"
        on = f" on {', '.join(inc.entities)}" if inc.entities else ""
        return f"incident {inc.incident_id} {verb} ({inc.severity}, risk {inc.risk:.2f}): {' → '.join(inc.steps)}{on}"

    # ---- applied plans ------------------------------------------------------------------------------
    def plans_to_tell(self, summaries: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """Applied plans (GET /placement/plans summaries) not said yet, oldest first. The first listing is only
        remembered: what was applied before the watcher started is history, and a restart must not replay it."""
        listed = {str(s["plan_id"]): s for s in summaries if s.get("status") in APPLIED_STATUSES}
        if self._plans is None:
            self._plans = set(listed)
            return []
        self._plans &= set(listed)  # a plan gone from the listing (evicted, older than the limit) never returns
        new = [s for pid, s in listed.items() if pid not in self._plans]
        return sorted(new, key=lambda s: (float(s.get("applied_at") or 0.0), str(s["plan_id"])))

    def plan_applied(self, summary: Mapping[str, Any], plan: Mapping[str, Any] | None) -> str | None:
        """The line for a newly applied plan (None when already said); marks it as said, so it is said once."""
        pid = str(summary["plan_id"])
        if self._plans is not None and pid in self._plans:
            return None
        self._plans = (self._plans or set()) | {pid}
        return self.plan_line(summary, plan)

    @staticmethod
    def plan_line(summary: Mapping[str, Any], plan: Mapping[str, Any] | None) -> str:
        """`evacuation plan p-1 applied: 6 VMs moved off host-0002 to 4 hosts`: from the plan's apply result
        (GET /placement/plans/{id}) when there is one, else the summary's planned count."""
        kind, pid = str(summary.get("kind") or "plan"), str(summary["plan_id"])
        label = "placement plan" if kind == "plan" else f"{kind} plan"
        status = str(summary.get("status") or "applied").replace("_", " ")
        hosts = [str(h) for h in summary.get("hosts") or ()]
        off = f" off {', '.join(hosts[:3])}{' and others' if len(hosts) > 3 else ''}" if hosts else ""
        result = (plan or {}).get("applied") or {}
        done = result.get("applied")
        if done is None:  # no apply result to read: what the plan meant to do
            body = f"{_count(int(summary.get('actions') or 0), 'planned VM action')}{off}"
        elif not done:
            body = f"no VM moved{off}"
        else:
            created = [a for a in done if a.get("op") == "create"]
            moved = [a for a in done if a.get("op") != "create"]
            bits = ([f"{_count(len(moved), 'VM')} moved{off} to {_count(len({a.get('to') for a in moved}), 'host')}"]
                    if moved else [])
            if created:
                bits.append(f"{_count(len(created), 'VM')} created on {_count(len({a.get('to') for a in created}), 'host')}")
            body = " and ".join(bits)
        skipped, stranded = len(result.get("skipped") or ()), int(summary.get("stranded") or 0)
        return (f"{label} {pid} {status}: {body}" + (f", {skipped} skipped" if skipped else "")
                + (f", {stranded} stranded (no host could take them)" if stranded else ""))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"

"""The notable-events policy of `aiops up`: what is said, and that each thing is said once."""
from __future__ import annotations

from aiops.alerting.notable import NotablePolicy, incident_steps


def _pred(host: str, sev: str, p: float = 0.9, kind: str = "host", at: float = 0.0) -> dict:
    return {"target_id": host, "target_type": kind, "severity": sev, "failure_probability": p, "features_as_of": at,
            "model_version": "unsupervised-health-x",
            "contributing_factors": [{"feature": "temperature_c_mean_5m", "description": "temperature above baseline"}]}


def test_model_line_once_per_version_and_says_what_kind():
    pol = NotablePolicy()
    assert pol.model(None) is None
    first = pol.model({"version": "unsupervised-health-1", "type": "unsupervised-health", "supervised": False})
    assert first is not None and "label-free" in first
    assert pol.model({"version": "unsupervised-health-1", "supervised": False}) is None
    assert pol.model({"version": "unsupervised-health-2", "supervised": False}) is None  # a refit is not news
    promoted = pol.model({"version": "v0003", "type": "xgboost", "recall": 0.91, "precision": 0.85})
    assert promoted is not None and "promoted" in promoted and "v0003" in promoted and "recall 0.91" in promoted
    assert "label-free" in (pol.model({"version": "unsupervised-health-3", "supervised": False}) or "")  # rolled back


def test_a_host_is_said_on_entry_on_escalation_and_again_only_after_rearming():
    pol = NotablePolicy(hold_s=0)
    assert pol.hosts_at_risk([_pred("h1", "medium"), _pred("vm-1", "critical", kind="vm")]) == []
    told = pol.hosts_at_risk([_pred("h1", "high")])
    assert [(r.host_id, r.severity) for r in told] == [("h1", "high")]
    assert told[0].factors == ("temperature above baseline",)
    assert pol.hosts_at_risk([_pred("h1", "high")]) == []
    assert pol.hosts_at_risk([_pred("h1", "medium")]) == []  # still not back to normal: not re-armed
    assert pol.hosts_at_risk([_pred("h1", "high")]) == []
    assert [r.severity for r in pol.hosts_at_risk([_pred("h1", "critical")])] == ["critical"]
    assert pol.hosts_at_risk([_pred("h1", "low")]) == []  # back to normal: re-armed
    assert [r.host_id for r in pol.hosts_at_risk([_pred("h1", "high")])] == ["h1"]


def test_a_host_must_stay_at_risk_for_the_hold_before_it_is_said():
    pol = NotablePolicy(hold_s=1800)
    assert pol.hosts_at_risk([_pred("spike", "critical", at=0), _pred("fan", "high", at=0)]) == []
    assert pol.hosts_at_risk([_pred("spike", "medium", at=900), _pred("fan", "high", at=900)]) == []  # spike passed
    assert pol.hosts_at_risk([_pred("spike", "high", at=1500), _pred("fan", "high", at=1500)]) == []
    told = pol.hosts_at_risk([_pred("spike", "high", at=1800), _pred("fan", "high", at=1800)])
    assert [r.host_id for r in told] == ["fan"]  # the spike's clock restarted when it dropped


def test_worst_host_first():
    told = NotablePolicy(hold_s=0).hosts_at_risk([_pred("a", "high", 0.8), _pred("b", "critical", 0.95), _pred("c", "high", 0.9)])
    assert [r.host_id for r in told] == ["b", "c", "a"]


def test_host_line_names_the_plan_and_how_to_approve_it():
    risk = NotablePolicy(hold_s=0).hosts_at_risk([_pred("h1", "high", 0.97)])[0]
    plan = {"plan_id": "plan-7", "actions": [{"op": "migrate", "vm_id": "v1", "from": "h1", "to": "h2"},
                                             {"op": "migrate", "vm_id": "v2", "from": "h1", "to": "h3"},
                                             {"op": "migrate", "vm_id": "v3", "from": "h1", "to": "h2"}]}
    line = NotablePolicy.host_line(risk, plan)
    assert line.startswith("h1 at high risk (0.97")
    assert "plan plan-7: 3 VM moves to 2 hosts" in line and "/placement/plans/plan-7/apply" in line
    assert "no evacuation plan (409: no capacity)" in NotablePolicy.host_line(risk, None, "409: no capacity")


def _incident(iid: str, tactics: list[str], status: str = "open") -> dict:
    return {"id": iid, "kind": "incident", "status": status, "severity": "high", "score": 0.8, "tactics": tactics,
            "entities": ["host:host-0006", "ip:203.0.113.9", "user:admin", "process:sshd"]}


def test_incident_said_when_opened_and_when_it_gains_steps_not_otherwise():
    pol = NotablePolicy()
    recs = [_incident("inc-1", ["credential_access", "initial_access"]), _incident("inc-2", ["impact"], "closed"),
            {"id": "anom-1", "kind": "sigma", "status": "open", "tactics": ["execution"]}]
    assert pol.incidents_to_tell(recs) == ["inc-1"]
    opened = pol.incident(recs[0], None)
    assert opened is not None and opened.opened and opened.entities == ("host:host-0006", "ip:203.0.113.9", "user:admin")
    line = NotablePolicy.incident_line(opened)
    assert line.startswith("incident inc-1 opened (high, risk 0.80)") and "credential_access → initial_access" in line
    assert pol.incidents_to_tell(recs) == [] and pol.incident(recs[0], None) is None
    grown = _incident("inc-1", ["credential_access", "initial_access", "privilege_escalation"])
    assert pol.incidents_to_tell([grown]) == ["inc-1"]
    again = pol.incident(grown, None)
    assert again is not None and not again.opened and "grew" in NotablePolicy.incident_line(again)


def test_incident_steps_follow_the_evidence_in_time_order():
    report = {"incident": {"tactics": ["initial_access", "credential_access", "privilege_escalation", "exfiltration"]},
              "timeline": [{"ts": 30, "name": "sudo_to_root", "tactics": ["privilege_escalation"]},
                           {"ts": 10, "name": "ssh_brute_force", "tactics": ["credential_access"]},
                           {"ts": 20, "name": "login_after_failures", "tactics": ["initial_access", "credential_access"]}]}
    assert incident_steps(report) == ("credential_access (ssh_brute_force)", "initial_access (login_after_failures)",
                                      "privilege_escalation (sudo_to_root)", "exfiltration")


def _applied(pid: str, status: str = "applied", at: float = 100.0, kind: str = "evacuation") -> dict:
    """A GET /placement/plans summary of an applied plan (PlanService.plan_summary's fields)."""
    return {"plan_id": pid, "kind": kind, "status": status, "created": at - 5, "requires_approval": True,
            "hosts": ["host-0002"] if kind == "evacuation" else [], "actions": 3, "stranded": 0, "complete": True,
            "applied_at": at}


def _full(pid: str, tos: list[str], skipped: int = 0) -> dict:
    """The plan's GET /placement/plans/{id}, with PlanService.apply's result."""
    done = [{"op": "migrate", "vm_id": f"v{i}", "from": "host-0002", "to": to} for i, to in enumerate(tos)]
    return {"plan_id": pid, "kind": "evacuation", "applied": {"status": "applied", "applied": done,
                                                              "skipped": [{"vm_id": "vx", "reason": "r"}] * skipped}}


def test_plans_applied_before_the_first_look_are_remembered_silently():
    pol = NotablePolicy()
    assert pol.plans_to_tell([_applied("old-1"), _applied("old-2", "partially_applied")]) == []
    assert pol.plans_to_tell([_applied("old-1"), _applied("old-2", "partially_applied")]) == []  # never replayed
    assert pol.plan_applied(_applied("old-1"), None) is None


def test_a_newly_applied_plan_is_said_once_oldest_first():
    pol = NotablePolicy()
    assert pol.plans_to_tell([]) == []  # first look: nothing applied yet
    listing = [_applied("p-2", at=200.0), _applied("p-1", at=150.0), _applied("nope", "not_applied"),
               _applied("prop", "proposed")]
    new = pol.plans_to_tell(listing)
    assert [s["plan_id"] for s in new] == ["p-1", "p-2"]
    line = pol.plan_applied(new[0], _full("p-1", ["h3", "h4", "h3"]))
    assert line == "evacuation plan p-1 applied: 3 VMs moved off host-0002 to 2 hosts"
    assert pol.plan_applied(new[0], _full("p-1", ["h3"])) is None
    assert [s["plan_id"] for s in pol.plans_to_tell(listing)] == ["p-2"]  # not fetched yet: still to tell
    assert pol.plan_applied(new[1], None) is not None
    assert pol.plans_to_tell(listing) == []


def test_plan_line_says_what_the_data_says_and_not_who_applied_it():
    partial = NotablePolicy.plan_line({**_applied("p-3", "partially_applied"), "stranded": 1}, _full("p-3", ["h5"], skipped=2))
    assert partial == ("evacuation plan p-3 partially applied: 1 VM moved off host-0002 to 1 host, 2 skipped, "
                       "1 stranded (no host could take them)")
    # an evicted plan (404 on its body): the summary's planned count
    assert NotablePolicy.plan_line(_applied("p-4"), None) == "evacuation plan p-4 applied: 3 planned VM actions off host-0002"
    created = {"applied": {"applied": [{"op": "create", "vm_id": "n1", "to": "h1"}], "skipped": []}}
    assert NotablePolicy.plan_line(_applied("p-5", kind="plan"), created) == "placement plan p-5 applied: 1 VM created on 1 host"
    # PlanSummary / PlanOut do not tell an operator's approval from placement.auto_evacuate: the line claims neither
    for line in (partial, NotablePolicy.plan_line(_applied("p-6"), _full("p-6", ["h1"]))):
        assert "automatic" not in line and "approved" not in line

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

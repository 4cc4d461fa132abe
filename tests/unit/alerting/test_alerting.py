"""Alert state (re-sent while active, resolved once, plausible startsAt), delivery off the caller's loop
with bounded retry, and the one severity vocabulary: no Ray, no receivers, injected fakes."""
from __future__ import annotations

import asyncio
import re
import time

import orjson
import pytest
import yaml

from aiops.alerting.alerter import Alerter
from aiops.alerting.board import AlertBoard, AlertSpec, iso
from aiops.alerting.config import AlertingSettings
from aiops.alerting.delivery import AlertmanagerSink, Backoff, StreamSink
from aiops.alerting.severity import SEVERITIES, at_least, severity_rank
from aiops.settings import PROJECT_ROOT


def spec(key: str = "h1", severity: str = "high", starts_at: float | None = 900.0) -> AlertSpec:
    return AlertSpec(key=key, name="FailurePredicted", severity=severity, labels={"target": key},
                     annotations={"summary": "x" * 5000}, generator_url=f"http://api/{key}", starts_at=starts_at)


def test_active_alert_is_resent_every_evaluation_until_resolved_and_resolved_once():
    board = AlertBoard("failure", hold_s=40.0)
    sent = [board.evaluate([spec()], now) for now in (1000.0, 1010.0, 1020.0)]
    for now, ev in zip((1000.0, 1010.0, 1020.0), sent):
        (a,) = ev.firing
        assert a["startsAt"] == iso(900.0) and a["endsAt"] == iso(now + 40.0) and ev.resolved == []
        assert a["generatorURL"] == "http://api/h1" and a["labels"]["severity"] == "high"
        assert a["labels"]["alertname"] == "FailurePredicted" and len(a["annotations"]["summary"]) == 2048
    assert [e["status"] for ev in sent for e in ev.events] == ["firing"]  # the stream sees the transition once
    gone = board.evaluate([], 1030.0)
    (r,) = gone.resolved
    assert r["endsAt"] == iso(1030.0) and r["startsAt"] == iso(900.0) and r["labels"] == sent[0].firing[0]["labels"]
    assert [e["status"] for e in gone.events] == ["resolved"]
    later = [board.evaluate([], now) for now in (1040.0, 1050.0)]
    assert all(ev.alerts == [] and ev.events == [] for ev in later)  # resolved once, never again


def test_starts_at_is_first_seen_when_missing_or_implausible_never_the_epoch():
    board = AlertBoard("security", hold_s=30.0)
    ev = board.evaluate([spec("a", starts_at=None), spec("b", starts_at=0.0), spec("c", starts_at=float("nan")),
                         spec("d", starts_at=4e9)], 1000.0)
    assert {a["startsAt"] for a in ev.firing} == {iso(1000.0)}
    ev = board.evaluate([spec("a", starts_at=None)], 1010.0)
    assert ev.firing[0]["startsAt"] == iso(1000.0)  # kept from the first evaluation


def test_a_changed_severity_resolves_the_old_form_and_fires_the_new():
    board = AlertBoard("failure", hold_s=30.0)
    board.evaluate([spec(severity="high")], 1000.0)
    ev = board.evaluate([spec(severity="critical")], 1010.0)
    assert [a["labels"]["severity"] for a in ev.resolved] == ["high"]
    assert [a["labels"]["severity"] for a in ev.firing] == ["critical"]
    assert ev.alerts[0]["labels"]["severity"] == "high"  # the old form ends first


def test_alerter_filters_by_severity_and_queues_without_waiting():
    posted: list = []

    async def post(alerts):
        posted.append(alerts)

    published: list = []

    async def publish(subject, data, msg_id):
        published.append((subject, orjson.loads(data), msg_id))

    async def main() -> Alerter:
        alerter = Alerter("security", 40.0, "high", AlertmanagerSink(post, Backoff(0.01, 0.05)),
                          StreamSink(publish, Backoff(0.01, 0.05)), "aiops.alerts.security")
        alerter.start()
        alerter.evaluate([spec("i1", "medium"), spec("i2", "critical")])
        alerter.evaluate([spec("i1", "medium")])
        await alerter.stop()
        return alerter

    alerter = asyncio.run(main())
    keys = [(a["labels"]["target"], a["endsAt"] > a["startsAt"]) for batch in posted for a in batch]
    assert {k for k, _ in keys} == {"i2"}  # medium is below the floor
    assert [(s, e["status"]) for s, e, _ in published] == [("aiops.alerts.security", "firing"),
                                                           ("aiops.alerts.security", "resolved")]
    assert len({m for _, _, m in published}) == 2 and alerter.stats()["resolved"] == 1


def test_alertmanager_sink_retries_with_backoff_and_sends_only_the_latest_form():
    calls: list = []

    async def flaky(alerts):
        calls.append([a["endsAt"] for a in alerts])
        if len(calls) < 3:
            raise ConnectionError("alertmanager down")

    async def main() -> AlertmanagerSink:
        sink = AlertmanagerSink(flaky, Backoff(0.02, 0.05))
        task = asyncio.create_task(sink.run())
        board = AlertBoard("failure", hold_s=40.0)
        now = time.time()
        sink.submit(board.evaluate([spec()], now).alerts)
        await asyncio.sleep(0)
        sink.submit(board.evaluate([spec()], now + 10).alerts)  # replaces the unsent older form
        for _ in range(100):
            if sink.sent:
                break
            await asyncio.sleep(0.01)
        sink.stop()
        await task
        return sink

    sink = asyncio.run(main())
    assert len(calls) == 3 and sink.errors == 2 and sink.sent == 1 and sink.pending() == 0
    assert calls[-1] == calls[-2] and len(calls[-1]) == 1  # one alert, its latest endsAt
    assert "alertmanager down" in sink.last_error


def test_sinks_are_bounded_and_count_what_they_drop():
    async def never(*_):
        raise AssertionError("not started")

    am = AlertmanagerSink(never, Backoff(1, 1), max_pending=10)
    am.submit(AlertBoard("f", 30.0).evaluate([spec(f"h{i}") for i in range(25)], time.time()).alerts)
    st = StreamSink(never, Backoff(1, 1), max_pending=10)
    st.submit("s", [{"id": i} for i in range(25)])
    assert (am.pending(), am.dropped, st.pending(), st.dropped) == (10, 15, 10, 15)


def test_backoff_doubles_up_to_its_cap_and_resets():
    b = Backoff(1.0, 4.0)
    delays = [b.next_delay() for _ in range(5)]
    assert all(0.5 * c <= d <= c for d, c in zip(delays, (1, 2, 4, 4, 4)))
    b.reset()
    assert b.next_delay() <= 1.0


def test_settings_normalise_the_endpoint_and_refuse_bad_values():
    assert AlertingSettings(alertmanager_url="http://am:9093/").alerts_endpoint == "http://am:9093/api/v2/alerts"
    assert AlertingSettings(alertmanager_url="http://am/api/v2/alerts").alerts_endpoint == "http://am/api/v2/alerts"
    for bad in ({"alertmanager_url": "am:9093"}, {"incident_min_severity": "warning"}, {"ends_after_intervals": 1}):
        with pytest.raises(ValueError):
            AlertingSettings(**bad)


def test_one_severity_vocabulary_for_alerts_api_and_prometheus_rules():
    from typing import get_args

    from aiops.api.failure import FailurePrediction
    from aiops.api.security import Anomaly
    from aiops.failure.serving.horizon import SEVERITY
    from aiops.security.correlation.graph import severity_of
    from aiops.security.service import SEV_ORDER

    assert SEV_ORDER == SEVERITIES and {name for _, name in SEVERITY} == set(SEVERITIES)
    for model in (FailurePrediction, Anomaly):
        assert set(get_args(model.model_fields["severity"].annotation)) == set(SEVERITIES)
    assert {severity_of(r, p) for r in (0.0, 0.3, 0.6, 0.9, 1.0) for p in range(6)} <= set(SEVERITIES)
    for path in (PROJECT_ROOT / "configs" / "prometheus").glob("*.yml"):
        rules = [r for g in yaml.safe_load(path.read_text())["groups"] for r in g["rules"] if "alert" in r]
        assert rules and {r["labels"]["severity"] for r in rules} <= set(SEVERITIES), path
    test_file = (PROJECT_ROOT / "tests" / "promtool" / "aiops-alerts_test.yml").read_text()
    assert set(re.findall(r"severity: (\w+)", test_file)) <= set(SEVERITIES)
    assert at_least("critical", "high") and not at_least("medium", "high") and not at_least("warning", "low")
    with pytest.raises(ValueError):
        severity_rank("warning")

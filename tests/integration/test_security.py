"""Security engine on real parts: simulator and NATS into the correlator actor, API with tokens."""
from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from tests.conftest import API_HEADERS
from tests.integration.helpers import consumer_drained as _consumer_drained, delete_stream as _delete_stream  # noqa: F401
from tests.integration.helpers import make_settings as _settings, nats_settings as _nats_settings, publish as _publish
from tests.integration.helpers import system_factory, try_call as _try, wait_consumer as _wait_consumer  # noqa: F401
from tests.integration.helpers import wait_for as _wait

pytestmark = pytest.mark.integration


def test_simulated_attack_becomes_an_incident_and_respond_needs_the_right_token(system_factory):  # noqa: F811
    settings = _settings(**{"simulator.attack_rate_per_day": 48.0, "simulator.speedup": 600.0})
    system = system_factory(settings)
    client = httpx.Client(base_url=system.url, timeout=10, headers=API_HEADERS)
    anon = httpx.Client(base_url=system.url, timeout=10)

    def incident():
        r = client.get("/api/ai/security/anomalies", params={"kind": "incident"})
        if r.status_code != 200:
            return None
        items = [a for a in r.json()["anomalies"] if a["kind"] == "incident"]
        return items[0] if items else None

    inc = _wait(incident, 90, every=2, what="a correlated incident from the simulated attacks")
    assert {"credential_access"} <= set(inc["tactics"]) or len(inc["tactics"]) >= 2
    threats = client.get("/api/ai/security/threats").json()
    assert {"active_threats", "overall_risk_score", "last_updated"} <= set(threats)
    metrics = client.get("/metrics").text
    assert "aiops_security_correlator_up 1.0" in metrics and "aiops_security_events_total" in metrics

    sup = {"id": "it-scanner", "reason": "scanner", "entities": {"src_ip": "10.254.1.0/24"}}
    responder = {"Authorization": "Bearer test-responder"}
    assert anon.post("/api/ai/security/suppressions", json=sup).status_code == 401
    assert client.post("/api/ai/security/suppressions", json=sup, headers=responder).status_code == 201
    assert client.post("/api/ai/security/suppressions", json=sup, headers=responder).status_code == 409  # through Ray
    assert "it-scanner" in [x["id"] for x in client.get("/api/ai/security/suppressions").json()]
    assert client.delete("/api/ai/security/suppressions/it-scanner", headers=responder).status_code == 200
    assert client.delete("/api/ai/security/suppressions/it-scanner", headers=responder).status_code == 404

    body = {"action": "snapshot_vm", "parameters": {"vm_id": "vm-000001"}, "comment": "forensics", "manual": True}
    url = f"/api/ai/security/anomalies/{inc['id']}/respond"
    assert anon.post(url, json=body).status_code == 401
    assert client.post(url, json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.post(url, json=body, headers={"Authorization": "Bearer test-viewer"}).status_code == 403
    headers = {"Authorization": "Bearer test-responder", "Idempotency-Key": "it-1"}
    first = client.post(url, json=body, headers=headers)
    again = client.post(url, json=body, headers=headers)
    assert first.status_code in (200, 201, 202), first.text
    assert again.json().get("response_id", again.json().get("id")) == first.json().get("response_id", first.json().get("id"))
    # steering is refused with a 4xx and a reason, through the ingress and the actor
    steer = {"action": "block_ip", "parameters": {"ip": "203.0.113.5", "target": "0.0.0.0/0"}}
    r = client.post(url, json=steer, headers={"Authorization": "Bearer test-responder"})
    assert r.status_code == 422 and "target" in r.json()["message"], r.text
    path = {"action": "snapshot_vm", "parameters": {"vm_id": "../users/alice/disable?x="}}
    r = client.post(url, json=path, headers={"Authorization": "Bearer test-responder"})
    assert r.status_code == 422 and "vm_id" in r.json()["message"] and "Traceback" not in r.text, r.text


def test_security_records_over_nats_reach_the_correlator(system_factory, nats_url):  # noqa: F811
    settings = _nats_settings(nats_url, None, **{"simulator.enabled": False})
    system = system_factory(settings)
    lines = [f"Jan  1 00:00:{i:02d} host-0001 sshd[4242]: Failed password for invalid user admin from 203.0.113.7 port 5{i:03d} ssh2"
             for i in range(40)]
    lines.append("Jan  1 00:07:00 host-0001 sshd[4242]: Accepted password for admin from 203.0.113.7 port 6000 ssh2")
    try:
        _wait_consumer(settings)
        asyncio.run(_publish(nats_url, settings.nats.subject_prefix, [
            ("events.security.sshd", "\n".join(lines).encode()),
            ("events.security.cloudtrail", b'[{"not": "a cloudtrail record"}]'),
            ("events.security.nosuchformat", b"whatever"),
            ("events.security.platform", b'{"type":"api_call","ts":1767225600,"user":"svc-a","action":"GetVM"}\n'
                                         b'{"type":"teleport","ts":1767225600}'),
        ]))
        corr = system.collectors["security-correlator"]
        import ray

        stats = _wait(lambda: (s := ray.get(corr.stats.remote()))["events_in"] >= 42 and len(s["rejections"]) >= 3 and s,
                      60, what="security events from NATS")
        assert stats["events_in"] == 42  # 41 sshd lines + 1 platform event; the bad ones cost nothing else
        assert any(k.startswith("cloudtrail:") for k in stats["rejections"])
        assert stats["rejections"].get("nosuchformat:unknown_format") == 1
        assert stats["rejections"].get("platform:unknown_type:teleport") == 1
        collector = system.collectors["collector-nats"]  # counts once the correlator's call returned
        nats_stats = _wait(lambda: (c := ray.get(collector.stats.remote()))["events"] >= 42 and c, 30, what="collector counts")
        assert nats_stats["rejections"].get("bad_security_record") == 3 and nats_stats["events"] == 42
        client = httpx.Client(base_url=system.url, timeout=10, headers=API_HEADERS)
        anomalies = _wait(lambda: client.get("/api/ai/security/anomalies").json()["anomalies"], 30, what="anomalies")
        assert any("203.0.113.7" in " ".join(a["entities"]) for a in anomalies)
    finally:
        asyncio.run(_delete_stream(nats_url, settings.nats.stream))


def test_a_redelivered_nats_message_is_correlated_once(ray_cluster):
    import ray

    from actors.security_service import SecurityCorrelator
    from aiops.security.intake import SecurityIntake

    settings = _settings()
    actor = ray.remote(SecurityCorrelator).options(num_cpus=0.05).remote(settings)
    intake = SecurityIntake(year=2026)
    line = "Jan  1 00:07:00 host-0001 sshd[4242]: Accepted password for admin from 203.0.113.7 port 6000 ssh2"
    try:
        first = [("nats:S:1", False, intake.parse_payload("sshd", line)), ("nats:S:2", False, intake.parse_payload("sshd", line))]
        assert ray.get(actor.ingest_events.remote([], None, None, None, first)) == 2
        again = [("nats:S:2", True, intake.parse_payload("sshd", line)), ("nats:S:3", False, intake.parse_payload("sshd", line))]
        assert ray.get(actor.ingest_events.remote([], None, None, None, again)) == 1
        # a first delivery is never skipped: a recreated stream starts its sequence numbers again at 1
        recreated = [("nats:S:1", False, intake.parse_payload("sshd", line))]
        assert ray.get(actor.ingest_events.remote([], None, None, None, recreated)) == 1
        stats = ray.get(actor.stats.remote())
        assert stats["events_in"] == 4 and stats["redeliveries_skipped"] == 1
    finally:
        ray.kill(actor)


def test_aiops_status_lists_the_engine_actors(ray_cluster):
    import ray

    from actors.security_service import start_security_correlator
    from jobs.cli import engine_lines

    settings = _settings()
    actor = start_security_correlator(settings)
    try:
        ray.get(actor.stats.remote())
        lines = dict(engine_lines(settings))
        assert lines["failure-monitor"] == "not running" and lines["placement-optimizer"] == "not running"
        assert lines["security-correlator"].startswith("events_in=0  anomalies=0") and "rejected=0" in lines["security-correlator"]
    finally:
        ray.kill(actor)


def test_a_restarted_correlator_keeps_its_anomalies_and_acts_once_per_request(ray_cluster, clean_redis):
    import time

    import ray

    from actors.security_service import start_security_correlator
    from aiops.auth import TokenAuth
    from aiops.security.intake import SecurityIntake

    settings = _settings(**{"redis.url": clean_redis, "redis.key_prefix": "aiops-restart"})
    actor = start_security_correlator(settings)
    lines = [f"Jan  1 10:00:{k:02d} host-0003 sshd[77]: Failed password for invalid user u{k} from 203.0.113.9 port 4{k:04d} ssh2"
             for k in range(12)] + ["Jan  1 10:01:30 host-0003 sshd[78]: Accepted password for admin from 203.0.113.9 port 40999 ssh2"]
    try:
        ray.get(actor.ingest_events.remote(SecurityIntake(year=2026).parse_payload("sshd", "\n".join(lines))))
        listed = ray.get(actor.list_anomalies.remote())
        assert listed["total"] >= 1
        target = listed["anomalies"][0]
        who = TokenAuth.from_settings(settings.api).authenticate("test-responder")
        first = ray.get(actor.respond.remote(target["id"], "snapshot_vm", {"vm_id": "vm-000001"}, True, "it", who, "restart-1", False))
        assert first["status"] == "executed"

        assert ray.get(actor.snapshot_learned.remote()) > 0  # the run loop does this every learned_snapshot_s
        ray.kill(actor, no_restart=False)  # Ray restarts it (max_restarts=-1); __init__ runs again
        deadline = time.time() + 60
        while True:  # the kill lands asynchronously: wait for the new process (it has seen no events)
            try:
                stats = ray.get(actor.stats.remote(), timeout=10)
                if stats["events_in"] == 0:
                    break
            except Exception:
                pass
            assert time.time() < deadline, "the correlator did not come back"
            time.sleep(0.5)
        assert stats["responses_restored"] >= 1 and stats["learned_restored"] and stats["learned_error"] is None
        after = ray.get(actor.list_anomalies.remote())
        assert {a["id"] for a in after["anomalies"]} == {a["id"] for a in listed["anomalies"]}
        kept = ray.get(actor.get_anomaly.remote(target["id"]))
        assert kept["status"] == "mitigated" and kept["responses"] == [first["response_id"]]
        again = ray.get(actor.respond.remote(target["id"], "snapshot_vm", {"vm_id": "vm-000001"}, True, "it", who, "restart-1", False))
        assert again["duplicate"] and again["response_id"] == first["response_id"]
    finally:
        ray.kill(actor)


def test_the_redis_anomaly_store_keeps_the_most_recently_written_records(clean_redis):
    import redis

    from aiops.security.anomaly_store import RedisAnomalyStore

    store = RedisAnomalyStore(redis.Redis.from_url(clean_redis), "aiops-trim", max_records=2)
    store.save([{"id": "a", "timestamp": 3_000.0}, {"id": "b", "timestamp": 2_000.0}])
    store.save([{"id": "replayed", "timestamp": 10.0, "status": "pending_approval"}])  # old event time, written last
    assert sorted(r["id"] for r in store.load()) == ["b", "replayed"]
    store.save([{"id": "a", "timestamp": 3_000.0, "status": "mitigated"}])  # rewriting refreshes its place
    assert {r["id"]: r.get("status") for r in store.load()} == {"replayed": "pending_approval", "a": "mitigated"}


def test_a_tailed_auth_log_feeds_the_correlator(system_factory, tmp_path):  # noqa: F811
    import asyncio

    import ray

    from actors.collectors import LogTailer
    from actors.router import ShardRouter
    from actors.security_service import start_security_correlator
    from aiops.settings import LogSource

    log = tmp_path / "auth.log"
    log.write_text("")
    settings = _settings(**{"simulator.enabled": False}).model_copy(
        update={"logs": (LogSource(path=log, security="auth"),)})
    system = system_factory(settings, serve_api=False, run_collectors=False)  # shards for the log counters only
    actor = start_security_correlator(settings)
    try:
        ray.get(actor.stats.remote())
        tailer = LogTailer("collector-logs-sec-test", settings, ShardRouter(settings, system.shards))
        asyncio.run(tailer.poll_once())
        with open(log, "a") as fh:
            for k in range(12):
                fh.write(f"Jan  1 10:00:{k:02d} host-0003 sshd[77]: Failed password for invalid user u{k} from 203.0.113.9 port 4{k:04d} ssh2\n")
            fh.write("Jan  1 10:01:30 host-0003 sshd[78]: Accepted password for admin from 203.0.113.9 port 40999 ssh2\n")
            fh.write("this is not an auth line\n")
        asyncio.run(tailer.poll_once())
        stats = ray.get(actor.stats.remote())
        assert stats["events_in"] == 13 and tailer.stats_.events == 13
        names = {a["name"] for a in ray.get(actor.list_anomalies.remote())["anomalies"]}
        assert "ssh_bruteforce_then_login" in names
    finally:
        ray.kill(actor)
    import pytest as _pytest

    from actors.system import validate_settings  # formats are checked at start-up, not by the settings model

    with _pytest.raises(ValueError, match="unknown security log format"):
        validate_settings(settings.model_copy(update={"logs": (LogSource(path=log, security="nosuch"),)}))

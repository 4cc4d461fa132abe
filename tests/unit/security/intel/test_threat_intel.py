"""Threat intelligence: CSV / STIX 2.1 loading and matching on ingest."""
from __future__ import annotations

import json

from aiops.security.correlation.entities import EntityResolver
from aiops.security.events import LogSource, SecurityEvent
from aiops.security.intel.threat_intel import ThreatIntel, load_csv, load_stix

T = 1_767_225_600.0


def ev(**kw):
    return SecurityEvent(timestamp=kw.pop("ts", T), source=kw.pop("source", "zeek"), logsource=LogSource(product="zeek"), **kw)


def test_csv_loading_reports_bad_rows(tmp_path):
    p = tmp_path / "ioc.csv"
    p.write_text("type,value,source,confidence,first_seen,last_seen,valid_until,description,tags\n"
                 "ip,198.51.100.7,feedA,90,2025-12-01T00:00:00Z,2026-01-01T00:00:00Z,,drop site,attack.exfiltration\n"
                 "cidr,203.0.113.0/24,feedA,60,,,,scanner range,\n"
                 "domain,evil.example,feedB,80,,,,c2,\n"
                 "hash,d41d8cd98f00b204e9800998ecf8427e,feedB,70,,,,tool,\n"
                 "ip,,feedA,90,,,,empty,\n"
                 "weird,1.2.3.4,feedA,90,,,,bad type,\n"
                 "ip,1.2.3.4,feedA,400,,,,bad confidence,\n", encoding="utf-8")
    inds, errors = load_csv(p)
    assert [i.type for i in inds] == ["ip", "cidr", "domain", "md5"]
    assert len(errors) == 3 and all("ioc.csv" in e for e in errors)
    assert inds[0].first_seen == 1_764_547_200.0 and inds[0].source == "feedA" and inds[0].tags == ("attack.exfiltration",)


def test_stix_bundle(tmp_path):
    bundle = {"type": "bundle", "id": "bundle--1", "objects": [
        {"type": "identity", "id": "identity--x", "name": "CERT-Example"},
        {"type": "indicator", "id": "indicator--1", "created_by_ref": "identity--x", "pattern_type": "stix",
         "pattern": "[ipv4-addr:value = '198.51.100.7'] OR [domain-name:value = 'evil.example']", "confidence": 85,
         "valid_from": "2025-11-01T00:00:00Z", "modified": "2025-11-02T00:00:00Z", "name": "exfil infra",
         "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": "exfiltration"}]},
        {"type": "indicator", "id": "indicator--2", "pattern_type": "stix",
         "pattern": "[file:hashes.'SHA-256' = 'aa" + "0" * 62 + "']", "valid_from": "2025-11-01T00:00:00Z",
         "valid_until": "2025-12-01T00:00:00Z"},
        {"type": "indicator", "id": "indicator--3", "pattern_type": "stix",
         "pattern": "[ipv4-addr:value = '1.1.1.1' AND network-traffic:dst_port = 53]", "valid_from": "2025-11-01T00:00:00Z"},
        {"type": "indicator", "id": "indicator--4", "pattern_type": "sigma", "pattern": "title: x"},
        {"type": "sighting", "id": "sighting--1", "sighting_of_ref": "indicator--1", "first_seen": "2025-10-01T00:00:00Z",
         "last_seen": "2026-01-01T00:00:00Z"}]}
    p = tmp_path / "b.json"
    p.write_text(json.dumps(bundle), encoding="utf-8")
    inds, errors = load_stix(p)
    assert [(i.type, i.value) for i in inds] == [("ip", "198.51.100.7"), ("domain", "evil.example"), ("sha256", "aa" + "0" * 62)]
    assert inds[0].source == "CERT-Example" and inds[0].confidence == 85
    assert inds[0].first_seen == 1_759_276_800.0  # widened by the sighting
    assert inds[0].last_seen == 1_767_225_600.0
    assert len(errors) == 2  # compound pattern, non-STIX pattern type
    ti = ThreatIntel(inds)
    assert ti.match(ev(src_ip="10.0.0.1", dst_ip="198.51.100.7"))[0][1] == "dst_ip"
    assert ti.match(ev(fields={"query": "cdn.evil.example."}))  # parent-domain walk
    # an expired indicator does not match
    assert not ti.match(ev(fields={"Hashes": "SHA256=" + "AA" + "0" * 62}))
    assert ti.match(ev(ts=1_762_000_000.0, fields={"Hashes": "MD5=00,SHA256=" + "AA" + "0" * 62}))


def test_cidr_pattern_and_signals():
    from aiops.security.intel.threat_intel import Indicator

    ti = ThreatIntel([Indicator("cidr", "203.0.113.0/24", "feed", 60, last_seen=T - 200 * 86400),
                      Indicator("pattern", r"jndi:(ldap|rmi)://", "feed", 95)])
    sig = ti.signals(ev(src_ip="203.0.113.9", dst_ip="10.0.0.5", host="h1"), EntityResolver())
    assert len(sig) == 1 and sig[0].kind == "intel" and sig[0].detail["confidence"] == 0.3  # stale: confidence halved
    assert 0.99 < sig[0].score < 0.9999
    sig = ti.signals(ev(source="zeek", src_ip="10.0.0.7", fields={"uri": "/?x=${jndi:ldap://1.2.3.4/a}"}), EntityResolver())
    assert sig and sig[0].detail["confidence"] == 0.95 and sig[0].severity == "critical"
    assert ti.match(ev(src_ip="10.0.0.7", dst_ip="10.0.0.8")) == []


def test_configured_indicator_files_are_loaded_from_files_and_folders(tmp_path):
    from aiops.security.config import SecurityConfig
    from aiops.security.intel.threat_intel import load_threat_intel

    feeds = tmp_path / "feeds"
    feeds.mkdir()
    (feeds / "a.csv").write_text("type,value,source,confidence\nip,198.51.100.7,feed-a,90\nnonsense,x,feed-a,10\n")
    (feeds / "notes.txt").write_text("not an indicator file")
    single = tmp_path / "b.json"
    single.write_text('{"type": "bundle", "objects": [{"type": "indicator", "spec_version": "2.1", "id": "indicator--1", '
                      '"pattern": "[domain-name:value = \'evil.example\']", "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"}]}')
    cfg = SecurityConfig.model_validate({"threat_intel": {"paths": [str(feeds), str(single), str(tmp_path / "absent")]}})
    assert [p.name for p in cfg.threat_intel.files()] == ["a.csv", "b.json"]
    intel = load_threat_intel(cfg)
    assert len(intel) == 2 and len(intel.errors) == 1

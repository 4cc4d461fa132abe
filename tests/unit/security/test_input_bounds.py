"""Bounded input on the security side: STIX confidence checked at load, entity names drawn literally."""
from __future__ import annotations

import json

from fastapi import FastAPI
from fastapi.testclient import TestClient

from aiops.api.security import make_router
from aiops.security.correlation.signals import Signal
from aiops.security.intel.threat_intel import load_stix
from aiops.security.response.config import ResponseConfig
from aiops.security.response.control_plane import SimulatedControlPlane
from aiops.security.response.engine import ResponseEngine
from aiops.security.service import SecurityService

T0 = 1_767_225_600.0


def _indicator(i: int, confidence) -> dict:
    return {"type": "indicator", "id": f"indicator--{i}", "pattern_type": "stix", "confidence": confidence,
            "pattern": f"[ipv4-addr:value = '198.51.100.{i}']", "valid_from": "2025-11-01T00:00:00Z"}


def test_stix_confidence_outside_0_100_is_rejected_at_load(tmp_path):
    bundle = {"type": "bundle", "id": "bundle--1",
              "objects": [_indicator(1, 85), _indicator(2, 101), _indicator(3, -5), _indicator(4, "high"), _indicator(5, True)]}
    p = tmp_path / "b.json"
    p.write_text(json.dumps(bundle), encoding="utf-8")
    inds, errors = load_stix(p)
    assert [(i.value, i.confidence) for i in inds] == [("198.51.100.1", 85)]
    assert len(errors) == 4 and all("outside 0..100" in e for e in errors)


def test_graph_svg_draws_entity_names_with_tex_characters(tmp_path):
    cfg = ResponseConfig(audit_log=None)
    svc = SecurityService(response=ResponseEngine(cfg, SimulatedControlPlane()), response_config=cfg)
    for s in (Signal(T0, "sigma", "ssh_bruteforce", 0.999, ("ip:203.0.113.5", "host:$h1"), tactics=("credential_access",),
                     severity="medium"),
              Signal(T0 + 60, "ueba", "ueba_rare_auth_action", 0.9995, ("host:$h1", "user:$\\frac{a}{$@h1", "vm:vm_^{9}"),
                     tactics=("privilege_escalation",), severity="high")):
        svc.pipeline._correlate([s])
    app = FastAPI()
    app.include_router(make_router(svc), prefix="/api/ai")
    client = TestClient(app)
    incident = "inc-000001"
    svg = client.get(f"/api/ai/security/incidents/{incident}/graph.svg")
    assert svg.status_code == 200 and b"<svg" in svg.content
    assert client.get("/api/ai/security/anomalies").status_code == 200

"""OTRF recordings: detected ATT&CK techniques and whether they correlate (part c of jobs.eval_security)."""
from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from aiops.security.correlation.graph import CorrelatorConfig
from aiops.security.correlation.export import incident_report, render_png, write_json
from aiops.security.pipeline import SecurityPipeline
from aiops.security.detection.network import NetworkConfig
from aiops.security.events import RejectionCounter, SecurityEvent
from aiops.settings import Settings

from jobs.security_eval.campaigns import final_incidents, incident_signals



OTRF_SETS = {
    "aws_s3_exfiltration (CloudTrail)": {"techniques": ["T1078.004", "T1530"], "files": [
        ("cloudtrail", "atomic/aws/collection/ec2_proxy_s3_exfiltration.zip")]},
    "log4shell_jndi (Linux VM: auditd, Sysmon for Linux, VMConnection)": {"techniques": ["T1190", "T1203"], "files": [
        ("azure_syslog", "compound/Log4Shell/syslog_auoms_auditd_log4shell_cve2021_44228_jndi_reference.zip"),
        ("azure_syslog", "compound/Log4Shell/syslog_sysmon_log4shell_cve2021_44228_jndi_reference.zip"),
        ("vmconnection", "compound/Log4Shell/vminsights_vmconnection_log4shell_cve2021_44228_jndi_reference.zip")]},
    "log4shell_java_serialized (Windows: Security, Sysmon)": {"techniques": ["T1190", "T1203"], "files": [
        ("windows", "compound/Log4Shell/securityauditing_log4shell_cve2021_44228_java_serialized_object.zip"),
        ("windows", "compound/Log4Shell/sysmon_log4shell_cve2021_44228_java_serialized_object.zip")]},
    # APT29 day 1 emulation plan (MITRE ATT&CK Evaluations round 2): techniques observable on the wire.
    "apt29_day1 (Zeek)": {"techniques": ["T1071", "T1041", "T1021", "T1105", "T1048"], "glob": "compound/apt29/day1/zeek/*.zip"},
    "apt29_day2 (Zeek)": {"techniques": ["T1071", "T1041", "T1021", "T1105", "T1048"], "glob": "compound/apt29/day2/zeek/*.zip"},
}


def _tech_hit(expected: str, seen: set[str]) -> bool:
    return any(s == expected or s.startswith(expected + ".") or expected.startswith(s + ".") for s in seen)


def eval_otrf(full_sigma_factory: Any, out_dir: Path) -> dict[str, Any]:
    from aiops.security.parsers.registry import parse_file

    root = Settings().data_dir / "security" / "otrf" / "datasets"
    if not root.exists():
        return {"skipped": f"{root} not found"}
    sigma = full_sigma_factory()
    out: dict[str, Any] = {"rules": sigma.stats().get("rules")}
    for name, spec in OTRF_SETS.items():
        files = [(fmt, root / rel) for fmt, rel in spec.get("files", [])]
        if "glob" in spec:
            files += [("zeek", p) for p in sorted(root.glob(spec["glob"]))]
        files = [(f, p) for f, p in files if p.exists()]
        if not files:
            out[name] = {"skipped": "files absent"}
            continue
        rej = RejectionCounter()
        events: list[SecurityEvent] = []
        for fmt, p in files:
            events.extend(parse_file(fmt, p, rej, year=2022))
        events.sort(key=lambda e: e.timestamp)
        n_flows = sum(1 for e in events if e.action == "network_flow")
        pipe = SecurityPipeline(sigma=sigma, network=NetworkConfig(warmup_flows=max(200, int(0.4 * n_flows))),
                                correlator=CorrelatorConfig(window_s=4 * 3600))
        t0 = time.perf_counter()
        for ev in events:
            pipe.process(ev)
        pipe.drain()
        dt = time.perf_counter() - t0
        sig_all = list(pipe.recent)
        seen = {t for s in sig_all for t in s.techniques}
        alerts = Counter(s.summary for s in sig_all if s.kind == "sigma")
        incs = final_incidents(pipe.graph)
        inc_tech = {i.incident_id: {t for s in incident_signals(pipe.graph, i) for t in s.techniques} for i in incs}
        steps = []
        for t in spec["techniques"]:
            det = _tech_hit(t, seen)
            corr = [iid for iid, ts in inc_tech.items() if _tech_hit(t, ts) and len(ts) > 1]
            steps.append({"technique": t, "detected": det, "correlated_in": corr})
        reps = []
        for inc in sorted(incs, key=lambda i: -i.risk)[:2]:
            rep = incident_report(pipe.graph, inc.incident_id)
            if rep:
                slug = name.split(" ")[0]
                write_json(rep, out_dir / f"otrf_{slug}_{inc.incident_id}.json")
                render_png(rep, out_dir / f"otrf_{slug}_{inc.incident_id}.png", title=f"{name}: {inc.incident_id}")
                reps.append({"incident": rep["incident"], "pivots": rep["pivots"][:3]})
        out[name] = {"files": [str(p.relative_to(root)) for _, p in files], "events": len(events), "rejected": rej.as_dict(),
                     "seconds": round(dt, 2), "signals_by_kind": dict(Counter(s.kind for s in sig_all)),
                     "sigma_alerts_top": alerts.most_common(12), "techniques_seen": sorted(seen), "steps": steps,
                     "detected": sum(s["detected"] for s in steps), "correlated": sum(bool(s["correlated_in"]) for s in steps),
                     "expected": len(steps), "incidents": len(incs), "top_incidents": reps}
    return out

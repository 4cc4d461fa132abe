"""Offline hunting: recorded files through the engine's own parsers, Sigma, detectors and correlator.

Same objects as the running engine (``SecurityPipeline`` with the default ``CorrelatorConfig``, the
configured threat intel, the chosen Sigma rules), fed in time order without Ray. Each signal is
tagged with the file, archive member and line of the event that raised it, so every incident in
``incidents.json`` points back at its evidence.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiops.security.correlation.graph import CorrelatorConfig
from aiops.security.detection.network import NetworkConfig
from aiops.security.events import SecurityEvent
from aiops.security.hunt.parse import FileSummary, Provenance, read_events
from aiops.security.pipeline import SecurityPipeline

__all__ = ["HuntResult", "hunt", "hunt_with_settings", "write_outputs", "file_table"]

MAX_EVIDENCE = 50  # events listed per incident (the count is always given)


@dataclass
class HuntResult:
    incidents: list[dict[str, Any]]
    files: dict[str, FileSummary]
    stats: dict[str, Any]


def _pipeline(events: list[tuple[SecurityEvent, Provenance]], sigma: Any, intel: Any,
              correlator: CorrelatorConfig | None) -> SecurityPipeline:
    n_flows = sum(1 for e, _ in events if e.action == "network_flow")
    # No trained baseline offline: the flow detector learns from the first part of the recording.
    net = NetworkConfig(warmup_flows=max(200, int(0.4 * n_flows)))
    return SecurityPipeline(correlator=correlator or CorrelatorConfig(), network=net, sigma=sigma, intel=intel)


def _event_ref(ev: SecurityEvent, prov: Provenance) -> dict[str, Any]:
    return {"file": prov.file, "member": prov.member, "line": prov.line, "ts": ev.timestamp, "source": ev.source,
            "host": ev.host, "user": ev.user, "action": ev.action,
            "event_id": ev.fields.get("EventID") if isinstance(ev.fields, dict) else None}


def hunt(paths: list[str | Path], sigma: Any, intel: Any = None, fmt: str = "auto", year: int | None = None,
         correlator: CorrelatorConfig | None = None, max_events: int = 3_000_000) -> HuntResult:
    """Parse ``paths``, run the chain over the events in time order, and collect the incidents."""
    events, files = read_events(paths, fmt, year, max_events)
    pipe = _pipeline(events, sigma, intel, correlator)
    for ev, prov in events:
        sigs = pipe.signals_for(ev)
        for s in sigs:
            if s.kind != "network" and "evidence" not in s.detail:
                s.detail["evidence"] = prov
            if s.kind == "sigma" and prov.file in files:
                files[prov.file].alerts += 1
        pipe.correlate(sigs)
    pipe.drain()
    incidents = _incidents(pipe, events, files)
    return HuntResult(incidents, files, {"events": len(events), **pipe.summary()})


def _incidents(pipe: SecurityPipeline, events: list[tuple[SecurityEvent, Provenance]],
               files: dict[str, FileSummary]) -> list[dict[str, Any]]:
    g = pipe.graph
    by_prov = {id(p): e for e, p in events}
    out: list[dict[str, Any]] = []
    for inc in g.incidents.values():
        if inc.status == "merged":
            continue
        comp = g.component_of(inc.incident_id)
        sigs = list(comp.signals) if comp else []
        summary = inc.summary(comp)
        evidence: list[dict[str, Any]] = []
        touched: set[str] = set()
        for s in sigs:
            prov = s.detail.get("evidence")
            if isinstance(prov, Provenance):
                touched.add(prov.file)
                ev = by_prov.get(id(prov))
                if ev is not None and len(evidence) < MAX_EVIDENCE:
                    evidence.append({**_event_ref(ev, prov), "signal": s.name, "severity": s.severity,
                                     "techniques": list(s.techniques)})
        for f in touched:
            files[f].incidents += 1
        summary["files"] = sorted(touched)
        summary["signals"] = [{k: v for k, v in s.to_dict().items() if k != "detail"} for s in sigs[:MAX_EVIDENCE]]
        summary["events"] = evidence
        out.append(summary)
    out.sort(key=lambda d: (-d["risk"], d["first_ts"]))
    return out


def write_outputs(res: HuntResult, out_dir: Path) -> dict[str, Path]:
    """``incidents.json`` and ``summary.json`` (per file: records, parsed, rejected by reason, alerts, incidents)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"incidents": out_dir / "incidents.json", "summary": out_dir / "summary.json"}
    paths["incidents"].write_text(json.dumps(res.incidents, indent=1, default=str), encoding="utf-8")
    summary = {"files": [f.to_dict() for f in res.files.values()],
               "stats": {k: v for k, v in res.stats.items() if k != "wall"}}
    paths["summary"].write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
    return paths


def hunt_with_settings(paths: list[str | Path], settings: Any, rules: str = "pack", fmt: str = "auto",
                       year: int | None = None) -> HuntResult:
    """:func:`hunt` with the engine's own Sigma rules (``pack``: configs/rules; ``configured``: the SigmaHQ
    folders of configs/security.yaml too) and threat intel, as the running correlator loads them."""
    from aiops.security.intel.threat_intel import load_threat_intel
    from aiops.security.sigma.pipeline import load_detection_pipeline

    sigma = load_detection_pipeline(rules == "configured", settings)
    intel = load_threat_intel(settings.security.detection)
    return hunt(paths, sigma, intel, fmt=fmt, year=year or settings.security.detection.syslog_year)


def file_table(res: HuntResult, root: str = "") -> list[str]:
    """Markdown rows: file, records, parsed, rejected by reason, alerts, incidents."""
    rows = ["| file | records | parsed | rejected (by reason) | Sigma alerts | incidents |", "|---|---:|---:|---|---:|---:|"]
    for f in res.files.values():
        name = f.file[len(root):].lstrip("/") if root and f.file.startswith(root) else f.file
        rej = ", ".join(f"{k} {v}" for k, v in f.rejected.most_common(4)) or "0"
        if f.skipped_members:
            rej += f"; skipped: {'; '.join(f.skipped_members[:2])}"
        rows.append(f"| {name} | {f.records} | {f.parsed} | {rej} | {f.alerts} | {f.incidents} |")
    return rows

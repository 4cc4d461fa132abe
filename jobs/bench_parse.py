"""CPU cost of parsing and pattern matching: log lines, security records, the collector's Sigma pre-match.

    python -m jobs.bench_parse [--reps 5] [--hosts 100] [--hours 2] [--chain-hosts 100] [--full-rules]

Every figure is CPU time (``time.process_time``) of this process, so it holds on a busy machine;
it is the in-process part of `jobs.bench_ingest` (log lines) and `jobs.bench_security_paths`
(the collector's parse + Sigma pre-match, then the correlator's chain). To compare two checkouts
side by side (e.g. before and after a pattern change), copy this file into the other checkout's
``jobs/`` and run ``python -m jobs.bench_compare --baseline <that checkout> -- jobs.bench_parse``.

Sections (each the best of ``--reps`` passes over the same input, warm caches):
- telemetry: ``aiops.telemetry.logparse.parse_line`` on loghub Linux, OpenSSH and BGL (lines/s);
- security parsers: ``parse_records("auth"|"sshd")`` on loghub Linux / OpenSSH (lines/s);
- collector intake: simulator ticks → events (``SecurityIntake.parse_ticks``), without and with
  the collector's Sigma pre-match (events/s);
- chain: the correlator's in-process ``SecurityPipeline`` (detectors + intel + Sigma) (events/s).
Writes results/bench_parse.json.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any, Callable

from jobs.results import write_json

LOGHUB = {"linux": ("ssh-linux", "Linux", "Linux_2k.log"), "openssh": ("ssh-linux", "OpenSSH", "OpenSSH_2k.log"),
          "bgl": ("bgl-2k", "BGL", "BGL_2k.log")}


def _cpu_rate(fn: Callable[[], int], reps: int) -> dict[str, float]:
    """Items/s of CPU time: the best of ``reps`` passes (the least disturbed by other processes)."""
    best = float("inf")
    n = 0
    for _ in range(reps):
        c0 = time.process_time()
        n = fn()
        best = min(best, time.process_time() - c0)
    return {"items": n, "cpu_s": round(best, 4), "per_s_cpu": round(n / best) if best > 0 else 0.0}


def _each(fn: Callable[[str], Any], lines: list[str]) -> int:
    for line in lines:
        fn(line)
    return len(lines)


def _drain(it: Any, n: int) -> int:
    for _ in it:
        pass
    return n


def _lines(data: Path) -> dict[str, list[str]]:
    out = {}
    for name, parts in LOGHUB.items():
        p = data.joinpath("loghub", *parts)
        if p.exists():
            out[name] = p.read_text(encoding="utf-8", errors="replace").splitlines()
    return out


def bench_telemetry(lines: dict[str, list[str]], reps: int, copies: int) -> dict[str, Any]:
    """Telemetry's line classifier on real syslog / BGL lines."""
    from aiops.telemetry.logparse import parse_line

    out: dict[str, Any] = {}
    for name, ls in lines.items():
        batch = ls * copies
        year = 2005 if name == "bgl" else 2026
        out[name] = _cpu_rate(lambda b=batch, y=year: _each(lambda l: parse_line(l, y), b), reps)
    everything = [l for ls in lines.values() for l in ls] * copies
    out["all"] = _cpu_rate(lambda: _each(parse_line, everything), reps)
    return out


def bench_security_parsers(lines: dict[str, list[str]], reps: int, copies: int) -> dict[str, Any]:
    """The security record parsers on real auth.log / sshd lines (the counted-rejection path included)."""
    from aiops.security.events import RejectionCounter
    from aiops.security.parsers.registry import parse_records

    out: dict[str, Any] = {}
    for fmt, name in (("auth", "linux"), ("sshd", "openssh")):
        if name not in lines:
            continue
        batch = lines[name] * copies
        out[fmt] = _cpu_rate(lambda f=fmt, b=batch: _drain(parse_records(f, b, RejectionCounter(), year=2005), len(b)), reps)
    return out


def _ticks(hosts: int, hours: float) -> list[Any]:
    from aiops.settings import SimulatorSettings
    from aiops.telemetry.simulator import FleetSimulator

    sim = FleetSimulator(SimulatorSettings(hosts=hosts, vms_per_host=2, seed=11, attack_rate_per_day=24.0,
                                           scenario_rate_per_day=0.0))
    return sim.advance(hours * 3600)


def bench_intake(ticks: list[Any], reps: int) -> dict[str, Any]:
    """The simulator collector's side of bench_security_paths: ticks parsed, then Sigma pre-matched."""
    from actors.security_service import load_collector_matcher
    from aiops.security.intake import SecurityIntake
    from aiops.settings import Settings

    matcher = load_collector_matcher(Settings())
    out: dict[str, Any] = {}
    for name, m in (("parse", None), ("parse + sigma prematch", matcher)):
        def run(m: Any = m) -> int:
            intake = SecurityIntake(matcher=m)
            return sum(len(intake.parse_ticks(ticks[i:i + 60])) for i in range(0, len(ticks), 60))
        out[name] = _cpu_rate(run, reps)
    return out


def bench_chain(hosts: int, hours: float, full_rules: bool) -> dict[str, Any]:
    """The correlator's in-process chain (as jobs.eval_security part b), our pack and optionally SigmaHQ."""
    from aiops.security.intake import SecurityIntake
    from aiops.security.intel.threat_intel import Indicator, ThreatIntel
    from aiops.security.pipeline import SecurityPipeline
    from aiops.security.sigma.pipeline import load_detection_pipeline
    from aiops.settings import Settings

    events = SecurityIntake().parse_ticks(_ticks(hosts, hours))
    intel = ThreatIntel([Indicator(type="ip", value=f"198.18.{i // 250}.{i % 250 + 1}", source="bench") for i in range(2000)]
                        + [Indicator(type="pattern", value=r"(?:curl|wget)\s+https?://\S+\|\s*(?:ba)?sh", source="bench")])
    out: dict[str, Any] = {"events": len(events)}
    for name, full in (("our pack", False), ("full SigmaHQ", True)) if full_rules else (("our pack", False),):
        sigma = load_detection_pipeline(full, Settings())
        for ev in events:
            ev._view = None  # the Sigma engine caches a field view on the event
        pipe = SecurityPipeline(intel=intel, sigma=sigma)
        k = 0
        while k < len(events) and (k < len(events) // 5 or not pipe.network.ready):  # warm-up: baselines fitted
            pipe.process(events[k])
            k += 1
        c0 = time.process_time()
        for ev in events[k:]:
            pipe.process(ev)
        pipe.drain()
        cpu = time.process_time() - c0
        out[name] = {"items": len(events) - k, "cpu_s": round(cpu, 3), "per_s_cpu": round((len(events) - k) / cpu)}
    return out


def _table(res: dict[str, Any]) -> None:
    print(f"{'section':<24} {'case':<24} {'items':>8} {'cpu s':>8} {'items/s (CPU)':>14}")
    for sec in ("telemetry", "security_parsers", "intake", "chain"):
        for case, r in res.get(sec, {}).items():
            if isinstance(r, dict):
                print(f"{sec:<24} {case:<24} {r['items']:>8} {r['cpu_s']:>8} {r['per_s_cpu']:>14,}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--copies", type=int, default=5, help="loghub files repeated this many times per pass")
    ap.add_argument("--hosts", type=int, default=100, help="simulated hosts for the intake section")
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--chain-hosts", type=int, default=100, help="0 skips the chain section")
    ap.add_argument("--chain-hours", type=float, default=6.0)
    ap.add_argument("--full-rules", action="store_true", help="also time the chain with the configured SigmaHQ set")
    ap.add_argument("--out", default="results/bench_parse.json")
    args = ap.parse_args(argv)
    from aiops.settings import Settings

    lines = _lines(Path(os.environ.get("AIOPS_DATA_DIR") or Settings().data_dir))
    res: dict[str, Any] = {"command": "python -m jobs.bench_parse " + " ".join(argv or []), "loadavg_before": os.getloadavg()}
    res["telemetry"] = bench_telemetry(lines, args.reps, args.copies)
    res["security_parsers"] = bench_security_parsers(lines, args.reps, args.copies)
    res["intake"] = bench_intake(_ticks(args.hosts, args.hours), args.reps)
    if args.chain_hosts:
        res["chain"] = bench_chain(args.chain_hosts, args.chain_hours, args.full_rules)
    res["loadavg_after"] = os.getloadavg()
    _table(res)
    write_json(args.out, res)
    return res


if __name__ == "__main__":
    main()

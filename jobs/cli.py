"""`aiops` command line: `aiops up` runs the engine, `aiops status` inspects a running one, `aiops down` removes a
deployed one, and the client
commands (`predict`, `place`, `incidents`, `plans`, `approve`: `jobs.client.commands`) call its HTTP API."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from typing import Any

from aiops.auth import TokenSetupError
from aiops.logs import configure_logging
from aiops.settings import ConfigError, Settings, load_settings
from jobs.client.commands import add_client_commands


def _settings(args: argparse.Namespace) -> Settings:
    base = load_settings(args.config)
    overrides: dict[str, Any] = {
        "ray.address": getattr(args, "address", None),
        "redis.url": getattr(args, "redis", None),
        "nats.url": getattr(args, "nats", None),
        "prometheus.url": getattr(args, "prometheus", None),
        "alerting.alertmanager_url": getattr(args, "alertmanager", None),
        "simulator.hosts": getattr(args, "hosts", None),
        "simulator.speedup": getattr(args, "speedup", None),
        "serve.port": getattr(args, "port", None),
        "serve.host": getattr(args, "host", None),
        "api.token_file": getattr(args, "token_file", None),
        "store.num_shards": getattr(args, "shards", None),
    }
    if getattr(args, "no_simulator", False):
        overrides["simulator.enabled"] = False
    return base.with_overrides(**overrides)


def cmd_up(args: argparse.Namespace) -> int:
    """A local convenience over the Serve application of `configs/serve.yaml` (actors.deploy): start or attach
    to Ray, deploy the same application, print where it is and what happens; Ctrl-C removes it again."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    from actors.deploy import deploy_engine, prepare_settings, teardown
    from actors.deploy_actors import engine_actor_names
    from actors.names import SHARD_PREFIX
    from actors.serve_app import start_serve
    from actors.system import init_ray

    t0 = time.monotonic()
    settings = _settings(args)
    configure_logging(settings.logging.level)
    settings, token_line = prepare_settings(settings)  # before anything starts
    ctx = init_ray(settings)
    dashboard = getattr(ctx, "dashboard_url", None) if ctx is not None else None
    stopping = {"flag": False}
    watching = None

    def _stop(signum: int, frame: Any) -> None:
        stopping["flag"] = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        jobs = (dashboard if "://" in dashboard else f"http://{dashboard}") if dashboard else None
        url = start_serve(settings, deploy_engine(settings, jobs))
        actors = [n for n in engine_actor_names(settings.ray.namespace) if not n.startswith(SHARD_PREFIX)]
        print(f"AIOps engine is up ({settings.store.num_shards} feature shards; actors: {', '.join(actors) or 'none'})")
        print(f"  API docs:       {url}/docs")
        print(f"  Console:        {url}/console/")
        print(f"  Health:         {url}/healthz")
        print(f"  Metrics:        {url}/metrics")
        print(f"  {token_line}")
        print(f"  Ray dashboard:  {'http://' + dashboard if dashboard and not dashboard.startswith('http') else dashboard or 'see your cluster'}")
        print("Press Ctrl-C to stop.", flush=True)
        if not args.quiet:
            from jobs.watch import watch_up

            watching = watch_up(settings, url, t0)
        deadline = time.monotonic() + args.duration if args.duration else None
        while not stopping["flag"] and (deadline is None or time.monotonic() < deadline):
            time.sleep(1.0)  # the actors restart and resume their loops by themselves
    finally:
        print("shutting down...", flush=True)
        if watching is not None:
            watching.set()
        teardown(settings)
        ray.shutdown()
    return 0


def _attach(settings: Settings, hint: str) -> bool:
    """Connect this process to the running cluster (settings.ray.address, else the local one); False, said on
    stderr, when there is none."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    try:
        ray.init(address=settings.ray.address or "auto", namespace=settings.ray.namespace, log_to_driver=False)
    except ConnectionError as exc:
        print(f"no running Ray cluster found ({exc}){hint}", file=sys.stderr)
        return False
    return True


def cmd_down(args: argparse.Namespace) -> int:
    """Remove a deployed engine (`serve deploy configs/serve.yaml`, RayService, `aiops up --address`): the
    Serve application and the engine's detached actors in its namespace."""
    import ray

    from actors.deploy import teardown

    settings = _settings(args)
    if not _attach(settings, ""):
        return 1
    removed = teardown(settings)
    print(f"removed Serve application {settings.serve.app_name!r} and {len(removed)} actors in namespace "
          f"{settings.ray.namespace!r}{': ' + ', '.join(removed) if removed else ''}")
    ray.shutdown()
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    import ray

    from actors.names import shard_name
    from actors.platform_service import RayPlatformService
    from actors.router import ShardRouter

    settings = _settings(args)
    if not _attach(settings, "; start one with `aiops up`"):
        return 1
    import asyncio

    service = RayPlatformService(settings)
    try:
        shards = asyncio.run(ShardRouter(settings).shard_stats())
    except ValueError as exc:
        print(f"no AIOps engine in namespace {settings.ray.namespace!r}: {exc}", file=sys.stderr)
        return 1
    collectors = asyncio.run(service.collector_stats())
    print(f"{'shard':<18}{'targets':>9}{'series':>9}{'points held':>14}{'ingested':>12}{'B/point':>9}")
    for i, s in enumerate(shards):
        if s is None:
            print(f"{shard_name(i):<18} not answering")
            continue
        bpp = f"{s['bytes_per_point']:.1f}" if s["bytes_per_point"] else "-"
        print(f"{shard_name(i):<18}{s['targets']:>9}{s['series']:>9}{s['points_held']:>14}{s['points_ingested']:>12}{bpp:>9}")
    print()
    print(f"{'collector':<24}{'samples/s':>11}{'stored':>12}{'rejected':>10}{'errors':>8}  last error")
    for c in collectors:
        print(f"{c['name']:<24}{c['samples_per_s']:>11}{c['samples_stored']:>12}{sum(c['rejections'].values()):>10}{c['errors']:>8}  {c['last_error'] or ''}")
    print()
    print(f"{'engine':<24}state")
    for name, line in engine_lines(settings):
        print(f"{name:<24}{line}")
    print()
    for line in retrain_lines(settings):
        print(line)
    ray.shutdown()
    return 0


def engine_lines(settings: Any) -> list[tuple[str, str]]:
    """One line per engine actor (failure monitor, placement optimiser, security correlator)."""
    import ray

    from actors.names import CORRELATOR_NAME, MONITOR_NAME, OPTIMIZER_NAME

    keys = {MONITOR_NAME: ("targets", "alerts_sent", "model_version", "errors", "last_error"),
            OPTIMIZER_NAME: ("plans_made", "optimiser_seconds", "fleet_refreshes", "last_error"),
            CORRELATOR_NAME: ("events_in", "anomalies", "busy_s", "redeliveries_skipped", "incident_latency")}
    out = []
    for name, wanted in keys.items():
        try:
            st = ray.get(ray.get_actor(name, namespace=settings.ray.namespace).stats.remote(), timeout=10)
        except ValueError:
            out.append((name, "not running"))
            continue
        except Exception as exc:  # noqa: BLE001 - report, keep listing the others
            out.append((name, f"not answering: {exc}"[:120]))
            continue
        lat = st.get("incident_latency")
        if isinstance(lat, dict):
            st["incident_latency"] = f"p99 {lat['p99_s']}s" if lat.get("n") else "-"
        if "rejections" in st:
            st["rejected"] = sum(st["rejections"].values())
            wanted = (*wanted, "rejected")
        out.append((name, "  ".join(f"{k}={st[k]}" for k in wanted if st.get(k) not in (None, ""))))
    return out


def cmd_hunt(args: argparse.Namespace) -> int:
    """Offline hunt over recorded files: the logic is in aiops.security.hunt; this prints and writes."""
    from pathlib import Path

    from aiops.security.hunt import file_table, hunt_with_settings, write_outputs

    res = hunt_with_settings(args.files, load_settings(args.config), rules=args.rules, fmt=args.format, year=args.year)
    paths = write_outputs(res, Path(args.out))
    print("\n".join(file_table(res)))
    print(f"\n{len(res.incidents)} incidents -> {paths['incidents']}; per-file summary -> {paths['summary']}")
    return 0


def retrain_lines(settings: Any) -> list[str]:
    """The retraining schedule: next due and why, new episodes, the last job and its outcome."""
    import ray

    from actors.names import RETRAIN_NAME

    try:
        st = ray.get(ray.get_actor(RETRAIN_NAME, namespace=settings.ray.namespace).stats.remote(), timeout=10)
    except ValueError:
        return [f"retraining: not running (failure.retrain.enabled: {settings.failure.retrain.enabled})"]
    except Exception as exc:  # noqa: BLE001 - report, do not fail the status command
        return [f"retraining: not answering: {exc}"[:160]]
    due = st.get("next_due_ts")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(due)) if due else "-"
    new = st.get("new_episodes")
    lines = [f"retraining: {st.get('decision') or 'not evaluated yet'}",
             f"  next due {when}; new labelled episodes {'-' if new is None else new}/{st['min_new_episodes']}; "
             f"jobs API {st.get('jobs_api') or 'unavailable: ' + str(st.get('jobs_error'))}"]
    if st.get("last_job_id"):
        lines.append(f"  last job {st['last_job_id']} {st.get('last_job_status')} (trigger: {st.get('last_trigger')})"
                     f"{'; failures in a row ' + str(st['consecutive_failures']) if st.get('consecutive_failures') else ''}")
        lines.append(f"  outcome: {st.get('last_outcome') or 'pending'}")
    if st.get("last_error"):
        lines.append(f"  last error: {st['last_error']}")
    return lines


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="aiops", description="NovaCron AIOps engine")
    p.add_argument("--config", help="settings YAML (default configs/aiops.yaml)")
    sub = p.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start or attach to Ray and run collectors, shards and the API")
    up.add_argument("--address", help="Ray cluster: auto or ray://head:10001 (default: start a local one)")
    up.add_argument("--redis", help="redis://127.0.0.1:6379/0 for persistent shards")
    up.add_argument("--nats", help="nats://127.0.0.1:4222 to consume JetStream telemetry")
    up.add_argument("--prometheus", help="http://127.0.0.1:9090 to collect with PromQL")
    up.add_argument("--alertmanager", help="http://127.0.0.1:9093 to push failure alerts and security incidents")
    up.add_argument("--hosts", type=int, help="simulated fleet size")
    up.add_argument("--speedup", type=float, help="simulated seconds per wall second")
    up.add_argument("--shards", type=int, help="number of feature-store shards")
    up.add_argument("--port", type=int, help="HTTP port of the API (default 8000)")
    up.add_argument("--host", help="address the API binds to (default 127.0.0.1; any other needs a configured token)")
    up.add_argument("--token-file", help="all-roles API token file (default ~/.config/aiops/token; made, 0600, "
                                         "when no token is configured)")
    up.add_argument("--no-simulator", action="store_true", help="do not run the built-in fleet simulator")
    up.add_argument("--duration", type=float, help="stop after this many seconds (demos, benchmarks)")
    up.add_argument("--quiet", action="store_true", help="do not print notable things (model served, host at risk, "
                                                        "incident opened) as they happen")
    up.set_defaults(func=cmd_up)
    st = sub.add_parser("status", help="show shards, collectors and engine actors")
    st.add_argument("--address", help="Ray cluster address (default auto)")
    st.set_defaults(func=cmd_status)
    dn = sub.add_parser("down", help="remove a deployed engine: its Serve application and detached actors")
    dn.add_argument("--address", help="Ray cluster address (default auto)")
    dn.set_defaults(func=cmd_down)
    from aiops.security.hunt.sniff import HUNT_FORMATS

    hu = sub.add_parser("hunt", help="run parsers, Sigma, detectors and the correlator over recorded files")
    hu.add_argument("files", nargs="+", help="files, folders or archives (.zip/.tar.gz/.gz, any case; EVTX; JSON; Zeek)")
    hu.add_argument("--format", default="auto", choices=HUNT_FORMATS, help="record format (default: detect per record)")
    hu.add_argument("--rules", default="pack", choices=("pack", "configured"),
                    help="pack: configs/rules; configured: also the SigmaHQ folders of configs/security.yaml")
    hu.add_argument("--year", type=int, help="year for BSD syslog timestamps (they carry none)")
    hu.add_argument("--out", required=True, help="folder for incidents.json and summary.json")
    hu.set_defaults(func=cmd_hunt)
    add_client_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging()  # JSON lines on stderr, redacted; `up` re-applies the settings' logging.level
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 2
    except TokenSetupError as exc:
        print(f"aiops: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

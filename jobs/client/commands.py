"""The `aiops` commands that talk to a running engine over its HTTP API (no Ray in this process).

`aiops predict HOST`, `aiops place --cpu 2 --memory 4`, `aiops incidents`, `aiops plans` and
`aiops approve PLAN_ID` each make one or two API calls, print a table (or the JSON answer with
`--json`) and end 0, 1 for an API error (the message says what to do) or 3 when the API cannot
be reached. `--url` picks the engine (default http://127.0.0.1:8000, or $AIOPS_URL); the token
is $AIOPS_API_TOKEN, else the token file `aiops up` writes (api.token_file in the settings).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

from aiops.auth import client_token, token_file_of
from aiops.settings import load_settings
from jobs.client import tables
from jobs.client.http import DEFAULT_URL, ApiClient, ApiError, TokenSource

__all__ = ["add_client_commands", "client_for", "run_client_command"]

API = "/api/ai"


def client_for(args: argparse.Namespace) -> ApiClient:
    """A client of the engine at --url with the token a shipped client sends (variable, else token file)."""
    api = load_settings(getattr(args, "config", None)).api
    if getattr(args, "token_file", None):
        api = api.model_copy(update={"token_file": Path(args.token_file).expanduser()})
    source = TokenSource(api.token_env, token_file_of(api))
    return ApiClient(args.url, client_token(api), timeout_s=args.timeout, source=source)


def _show(args: argparse.Namespace, answer: Any, render: Callable[[Any], str]) -> None:
    print(json.dumps(answer, indent=2, sort_keys=False) if args.json else render(answer))


def cmd_predict(args: argparse.Namespace, api: ApiClient) -> None:
    if len(args.targets) == 1 and args.horizon is None:
        _show(args, api.get(f"{API}/predictions/failures/{quote(args.targets[0], safe='')}"), tables.render_prediction)
        return
    body = {"target_ids": args.targets, **({"time_horizon": args.horizon} if args.horizon else {})}
    _show(args, api.post(f"{API}/predictions/failures/batch", body), tables.render_predictions)


def cmd_place(args: argparse.Namespace, api: ApiClient) -> None:
    vm: dict[str, Any] = {"cpu_cores": args.cpu, "memory_gb": args.memory}
    optional = {"disk_gb": args.disk, "gpus": args.gpus, "gpu_model": args.gpu_model, "tenant_id": args.tenant}
    vm.update({k: v for k, v in optional.items() if v is not None})
    body: dict[str, Any] = {"vm_specs": vm, "max_recommendations": args.top}
    if args.zone:
        body["constraints"] = {"zones": args.zone}
    if args.horizon is not None:
        body["time_horizon"] = args.horizon
    _show(args, api.post(f"{API}/placement/recommendations", body), tables.render_recommendations)


def cmd_incidents(args: argparse.Namespace, api: ApiClient) -> None:
    params = {"kind": "incident", "status": args.status, "severity": args.severity, "limit": args.limit}
    _show(args, api.get(f"{API}/security/anomalies", params), tables.render_incidents)


def cmd_plans(args: argparse.Namespace, api: ApiClient) -> None:
    _show(args, api.get(f"{API}/placement/plans", {"status": args.status, "limit": args.limit}), tables.render_plans)


def cmd_approve(args: argparse.Namespace, api: ApiClient) -> None:
    answer = api.post(f"{API}/placement/plans/{quote(args.plan_id, safe='')}/apply", {"approve": True})
    _show(args, answer, tables.render_apply)


def run_client_command(args: argparse.Namespace) -> int:
    """Run one client command; API errors become a message on stderr and an exit code."""
    try:
        with client_for(args) as api:
            args.handler(args, api)
    except ApiError as exc:
        print(f"aiops: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


def _common() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--url", default=os.environ.get("AIOPS_URL", DEFAULT_URL),
                   help=f"the engine's API (default $AIOPS_URL or {DEFAULT_URL})")
    p.add_argument("--json", action="store_true", help="print the API's JSON answer instead of a table")
    p.add_argument("--token-file", help="token file to read when $AIOPS_API_TOKEN is unset (default: the one `aiops up` writes)")
    p.add_argument("--timeout", type=float, default=40.0, help="seconds to wait for an answer (default 40)")
    return p


def add_client_commands(sub: Any) -> None:
    """Register predict, place, incidents, plans and approve on the `aiops` subparsers."""
    common = [_common()]

    def add(name: str, handler: Callable[[argparse.Namespace, ApiClient], None], help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=common, help=help, description=help)
        p.set_defaults(func=run_client_command, handler=handler)
        return p

    p = add("predict", cmd_predict, "failure risk of hosts or VMs (one: full detail; several: a table)")
    p.add_argument("targets", nargs="+", metavar="TARGET", help="host or VM id, e.g. host-0003")
    p.add_argument("--horizon", help="prediction horizon: seconds, 24h, PT24H (default: the model's, 2h)")
    p = add("place", cmd_place, "ranked nodes for a new VM")
    p.add_argument("--cpu", type=float, required=True, help="vCPU cores")
    p.add_argument("--memory", type=float, required=True, help="memory in GB")
    p.add_argument("--disk", type=float, help="disk in GB")
    p.add_argument("--gpus", type=int, help="number of GPUs")
    p.add_argument("--gpu-model", help="T4, L4, A10, A100 or H100")
    p.add_argument("--tenant", help="tenant id (default: the engine's placement.default_tenant)")
    p.add_argument("--zone", action="append", help="allowed zone (repeat for several)")
    p.add_argument("--horizon", help="how long the VM runs: hours, or 24h, P7D (default 24 hours)")
    p.add_argument("--top", type=int, default=5, help="how many nodes to show (default 5)")
    p = add("incidents", cmd_incidents, "security incidents, newest first")
    p.add_argument("--status", choices=("open", "pending_approval", "mitigated", "closed", "merged"))
    p.add_argument("--severity", help="comma list of low, medium, high, critical")
    p.add_argument("--limit", type=int, default=50)
    p = add("plans", cmd_plans, "placement and evacuation plans, newest first")
    p.add_argument("--status", help="e.g. proposed, applied")
    p.add_argument("--limit", type=int, default=50)
    p = add("approve", cmd_approve, "approve and apply a placement or evacuation plan")
    p.add_argument("plan_id", metavar="PLAN_ID")

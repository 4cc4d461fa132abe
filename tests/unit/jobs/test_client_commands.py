"""`aiops predict|place|incidents|plans|approve` against the whole API in this process (no Ray, no sockets):
the commands, their tables and --json, the token they send, and the messages for 401/403/503/unreachable."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from jobs import cli
from jobs.client import commands
from jobs.client.http import ApiClient, TokenSource
from tests.unit.api.auth_helpers import ALL_ROLES_TOKEN, role_token
from tests.unit.api.full_app import FakeFailure, full_app


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch):
    """The app the commands talk to; `state["token"]` is what the client sends (None: no token)."""
    failure = FakeFailure()
    app = full_app(failure_service=failure)
    state = {"token": ALL_ROLES_TOKEN, "app": app, "failure": failure}

    def client_for(args):
        http = TestClient(app, base_url=args.url, raise_server_exceptions=False)
        return ApiClient(args.url, state["token"], source=TokenSource("AIOPS_API_TOKEN", Path("/x/token")), http=http)

    monkeypatch.setattr(commands, "client_for", client_for)
    return state


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_place_seed_shaped_vm_prints_ranked_nodes(engine, capsys) -> None:
    code, out, _ = run(capsys, "place", "--cpu", "2", "--memory", "4", "--disk", "20")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:3] == ["rank", "node", "zone"]
    assert [line.split()[0] for line in lines[1:6]] == ["1", "2", "3", "4", "5"] and "nodes feasible" in out
    code, out, _ = run(capsys, "place", "--cpu", "2", "--memory", "4", "--top", "2", "--horizon", "P2D", "--json")
    answer = json.loads(out)
    assert code == 0 and len(answer["recommendations"]) == 2
    assert answer["recommendations"][0]["estimated_cost"]["horizon_hours"] == 48


def test_predict_one_and_several(engine, capsys) -> None:
    code, out, _ = run(capsys, "predict", "host-0004")
    assert code == 0 and "82.0%" in out and "contributing factors" in out
    code, out, _ = run(capsys, "predict", "host-0004", "ghost", "--horizon", "24h")
    assert code == 0 and "horizon 1d" in out and "no telemetry for: ghost" in out
    code, out, err = run(capsys, "predict", "ghost")
    assert code == 1 and out == "" and "404 not_found" in err and "ghost" in err


def test_incidents_plans_and_approve(engine, capsys) -> None:
    code, out, _ = run(capsys, "incidents")
    assert code == 0 and "inc-1" in out and "critical" in out
    code, out, _ = run(capsys, "plans", "--json")
    plans = json.loads(out)["plans"]
    assert code == 0 and len(plans) == 1 and plans[0]["kind"] == "evacuation" and plans[0]["hosts"] == ["host-0004"]
    plan_id = plans[0]["plan_id"]
    code, out, _ = run(capsys, "plans")
    assert code == 0 and plan_id in out and "proposed" in out
    code, out, _ = run(capsys, "approve", plan_id)
    assert code == 0 and f"plan {plan_id}: applied" in out and "migrate" in out
    assert engine["app"].state.plans.get_plan(plan_id)["status"] == "applied"
    code, out, _ = run(capsys, "approve", plan_id)
    assert code == 0 and "already applied" in out
    code, out, _ = run(capsys, "plans", "--status", "proposed")
    assert code == 0 and out.startswith("no plans")
    code, _, err = run(capsys, "approve", "nope")
    assert code == 1 and "404" in err


def test_auth_failures_say_what_to_do(engine, capsys) -> None:
    engine["token"] = None
    code, _, err = run(capsys, "plans")
    assert code == 1 and "no API token" in err and "AIOPS_API_TOKEN" in err
    engine["token"] = "wrong"
    code, _, err = run(capsys, "plans")
    assert code == 1 and "refused the token (401" in err and "/x/token" in err
    engine["token"] = role_token("viewer")
    code, out, _ = run(capsys, "plans")
    assert code == 0
    code, _, err = run(capsys, "approve", "some-plan")
    assert code == 1 and "lacks the role" in err and "403" in err and "approver" in err


def test_not_ready_is_503_with_retry(engine, capsys) -> None:
    engine["failure"].deployed = False
    code, _, err = run(capsys, "predict", "host-0004")
    assert code == 1 and "not ready (503" in err and "retry in 5 s" in err


def test_unreachable_api_is_exit_3_with_a_hint(capsys, monkeypatch) -> None:
    monkeypatch.setenv("AIOPS_API_TOKEN", "t")
    code, out, err = run(capsys, "plans", "--url", "http://127.0.0.1:9", "--timeout", "5")
    assert code == 3 and out == "" and "cannot reach the AIOps API at http://127.0.0.1:9" in err and "aiops up" in err


def test_token_comes_from_the_variable_else_the_token_file(tmp_path, monkeypatch) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    args = cli.build_parser().parse_args(["plans", "--token-file", str(token_file)])
    monkeypatch.delenv("AIOPS_API_TOKEN", raising=False)
    with commands.client_for(args) as api:
        assert api._http.headers["Authorization"] == "Bearer from-file" and api.source.token_file == token_file
    monkeypatch.setenv("AIOPS_API_TOKEN", "from-env")
    with commands.client_for(args) as api:
        assert api._http.headers["Authorization"] == "Bearer from-env"


def test_the_client_does_not_import_ray() -> None:
    import subprocess

    code = "import sys, jobs.cli, jobs.client.commands; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[3]).stdout
    assert out.strip() == "False"

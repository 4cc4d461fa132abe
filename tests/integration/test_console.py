"""The operator console in a real browser (Debian's Chromium through Playwright) against a live engine: the
default 50-host simulated fleet with the demo's attack campaign, real Ray, Serve, shards and correlator.

Every test fails on a console error, a page error, a failed request or an HTTP error answer in its tab.
Screenshots go to results/console/ ($AIOPS_ARTIFACTS/console/); the browser's own timings (Navigation
Timing, paint, and performance.measure around each interaction) to results/console/timings.json.
"""
from __future__ import annotations

import os
import re
from typing import Any, Iterator

import httpx
import pytest

from actors.system import System
from tests.conftest import API_HEADERS, API_TOKEN, SECURITY_TOKENS
from tests.integration.console_browser import DESKTOP, PHONE, ConsolePage, browser, timings  # noqa: F401
from tests.integration.helpers import make_settings, try_call, wait_for

pytestmark = pytest.mark.integration

VIEWER = SECURITY_TOKENS["AIOPS_SECURITY_VIEWER_TOKEN"]
RESPONDER = SECURITY_TOKENS["AIOPS_SECURITY_RESPONDER_TOKEN"]
APPROVER = SECURITY_TOKENS["AIOPS_SECURITY_APPROVER_TOKEN"]
HOST = "host-0002"  # the demo's failing disk


@pytest.fixture(scope="module")
def engine(request, tmp_path_factory) -> Iterator[tuple[str, httpx.Client]]:
    """The default fleet (50 hosts, 6 VMs each) with the demo stories at 60x simulated time; or, with
    AIOPS_CONSOLE_URL set, an engine already running there (`aiops up` with the tests' tokens)."""
    url, system = os.environ.get("AIOPS_CONSOLE_URL"), None
    if not url:
        request.getfixturevalue("ray_cluster")
        settings = make_settings(**{"simulator.hosts": 50, "simulator.vms_per_host": 6, "simulator.speedup": 60.0,
                                    "simulator.demo": True, "failure.refresh_s": 2.0,
                                    "failure.registry_uri": str(tmp_path_factory.mktemp("registry"))})
        system = System(settings).start()
        url = system.url
    api = httpx.Client(base_url=url, timeout=30, headers=API_HEADERS)
    try:
        wait_for(lambda: try_call(lambda: api.get(f"/api/ai/predictions/failures/{HOST}").status_code == 200), 240,
                 every=2, what="failure predictions from the live engine")
        wait_for(lambda: try_call(lambda: api.get("/api/ai/models/failure-prediction").status_code == 200), 60,
                 what="the model endpoint")
        yield url, api
    finally:
        if system is not None:
            system.stop()


@pytest.fixture
def tab(engine, browser) -> Iterator[Any]:  # noqa: F811
    """New tabs on the console (desktop size unless asked); each is checked for errors at the end."""
    opened: list[tuple[Any, ConsolePage]] = []

    def make(viewport: dict[str, int] = DESKTOP) -> ConsolePage:
        ctx = browser.new_context(viewport=viewport)
        c = ConsolePage(ctx.new_page(), engine[0]).watch()
        opened.append((ctx, c))
        return c

    yield make
    for ctx, c in opened:
        problems = list(c.problems)
        ctx.close()
        assert not problems, "console errors or failed requests:\n" + "\n".join(problems[:30])


def _record(timings, name: str, c: ConsolePage, **extra: Any) -> None:  # noqa: F811
    timings[name] = {"navigation": c.paint(), "measures_ms": c.measures(), **extra}


def test_login_then_the_fleet_page_shows_every_simulated_host(engine, tab, timings):  # noqa: F811
    _, api = engine
    c = tab()
    c.open()
    c.page.wait_for_selector("body[data-state='login']")
    assert "No token" in c.page.inner_text("#login-reason") and c.page.is_hidden("#nav")
    c.login(API_TOKEN)
    hosts = api.get("/api/ai/targets", params={"type": "host"}).json()["targets"]
    fleet = api.get("/api/ai/fleet/hosts").json()
    assert len(hosts) == fleet["total"] == 50
    tiles = c.page.eval_on_selector_all("a.tile", "els => els.map(e => e.dataset.host)")
    assert sorted(tiles) == sorted(h["target_id"] for h in hosts)
    zones = {h["zone"] for h in fleet["hosts"]}
    assert c.page.locator("section.zone").count() == len(zones)
    c.page.fill("#fleet-search", HOST)
    assert c.page.eval_on_selector_all("a.tile", "els => els.map(e => e.dataset.host)") == [HOST]
    c.page.fill("#fleet-search", "")
    c.page.focus(f"a.tile[data-host='{HOST}']")
    with c.page.expect_response(re.compile(r"/api/ai/fleet/hosts$"), timeout=30_000):
        pass  # the page refreshes on its own (a poll every 5 s) ...
    c.page.wait_for_timeout(200)
    assert c.page.evaluate("document.activeElement.dataset.host") == HOST  # ... and the keyboard keeps its place
    c.shot("fleet")
    # a fresh load (token already in this tab's session storage) is what a first paint means
    c.reload()
    _record(timings, "fleet", c)
    c.page.keyboard.press("Tab")  # the skip link, then the navigation: reachable without a mouse
    assert c.page.evaluate("document.activeElement.className") == "skip"


def test_the_fleet_page_at_phone_width(engine, tab):  # noqa: F811
    c = tab(PHONE)
    c.login(API_TOKEN)
    assert c.page.locator("a.tile").count() == 50
    assert c.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1  # no sideways scrolling
    c.shot("fleet-phone", full_page=False)


def test_a_host_page_shows_the_prediction_and_factors_the_api_gives(engine, tab, timings):  # noqa: F811
    _, api = engine
    c = tab()
    c.login(API_TOKEN)
    with c.page.expect_response(re.compile(rf"/api/ai/predictions/failures/{HOST}$")) as got:
        c.page.click(f"a.tile[data-host='{HOST}']")
    c.page.wait_for_selector(f"body[data-ready='#/fleet/{HOST}']")
    shown = got.value.json()
    direct = api.get(f"/api/ai/predictions/failures/{HOST}").json()
    assert direct["target_id"] == shown["target_id"] == HOST and direct["model_version"] == shown["model_version"]
    assert direct["features_as_of"] >= shown["features_as_of"]
    card = c.page.locator("[data-testid=prediction]")
    assert card.get_attribute("data-model-version") == shown["model_version"]
    assert c.page.inner_text("[data-testid=risk]") == f"{100 * shown['failure_probability']:.1f} %"
    assert c.page.inner_text("[data-testid=severity]") == shown["severity"]
    factors = c.page.eval_on_selector_all("[data-testid=factors] li[data-factor]", "els => els.map(e => e.dataset.factor)")
    assert factors == [f["feature"] for f in shown["contributing_factors"]] and factors
    if direct["features_as_of"] == shown["features_as_of"]:
        assert [f["feature"] for f in direct["contributing_factors"]] == factors
    vms = c.page.eval_on_selector_all("[data-testid=vms] li[data-vm]", "els => els.map(e => e.dataset.vm)")
    assert vms == next(h["vms"] for h in api.get("/api/ai/fleet/hosts").json()["hosts"] if h["host_id"] == HOST)
    c.page.wait_for_selector("[data-testid=risk-trend] svg path.line")
    c.page.wait_for_selector("[data-testid=feature-history] svg")
    c.shot("host")
    c.reload()
    _record(timings, "host", c)


def test_a_placement_request_shows_ranked_nodes_and_a_batch_plan_its_front(engine, tab, timings):  # noqa: F811
    c = tab()
    c.login(API_TOKEN, "#/placement")
    c.page.fill("#cpu", "2")
    c.page.fill("#mem", "4")
    c.page.click("[data-testid=recommend]")
    c.page.wait_for_selector("[data-testid=ranked] tbody tr")
    scores = [float(x) for x in c.page.eval_on_selector_all("[data-testid=ranked] tbody tr td:nth-child(4)", "els => els.map(e => e.textContent)")]
    assert scores and scores == sorted(scores, reverse=True)
    assert c.page.locator("[data-testid=breakdown] svg rect").count() > 0
    second = c.page.locator("[data-testid=ranked] tbody tr").nth(1)
    if second.count():
        second.focus()
        c.page.keyboard.press("Enter")  # keyboard selection of another node shows its breakdown
        assert second.get_attribute("data-node") in c.page.inner_text("[data-testid=breakdown] h2")
    c.page.fill("#batch-n", "3")
    c.page.click("[data-testid=plan-batch]")
    c.page.wait_for_selector("[data-testid=plan] [data-testid=pareto] circle[data-chosen=true]", timeout=60_000)
    assert c.page.locator("[data-testid=plan-moves] tbody tr").count() == 3
    c.shot("placement")
    c.reload()
    c.page.click("[data-testid=recommend]")
    c.page.wait_for_selector("[data-testid=ranked] tbody tr")
    _record(timings, "placement", c)


def test_an_evacuation_plan_is_requested_approved_and_the_vms_move(engine, tab, timings):  # noqa: F811
    _, api = engine
    hosts = [h for h in api.get("/api/ai/fleet/hosts").json()["hosts"] if h["host_id"] != HOST and not h["cordoned"]]
    host = max(hosts, key=lambda h: (len(h["vms"]), h["host_id"]))
    c = tab()
    c.login(API_TOKEN, f"#/fleet/{host['host_id']}")
    c.page.click("[data-testid=request-evacuation]")
    c.page.wait_for_selector("[data-testid=plan-moves] tbody tr", timeout=60_000)
    moves = c.page.eval_on_selector_all("[data-testid=plan-moves] tbody tr", "els => els.map(e => e.dataset.vm)")
    assert set(host["vms"]) <= set(moves)
    c.page.click("[data-testid=approve-plan]")
    dialog = c.page.locator("[data-testid=confirm-apply]")
    dialog.wait_for()
    listed = c.page.eval_on_selector_all("[data-testid=confirm-moves] li", "els => els.map(e => e.textContent)")
    assert len(listed) == len(moves) and all(any(vm in line for line in listed) for vm in moves)
    c.shot("evacuation-confirm", full_page=False)
    c.page.click("[data-testid=confirm-yes]")
    c.page.wait_for_selector("[data-testid=plan-status][data-applied]")
    assert "applied" in c.page.inner_text("[data-testid=plan-status]")

    def moved() -> bool:
        now = {h["host_id"]: h for h in api.get("/api/ai/fleet/hosts").json()["hosts"]}
        return not now[host["host_id"]]["vms"] and now[host["host_id"]]["cordoned"]
    wait_for(moved, 60, what="the simulator to run the evacuated VMs elsewhere")
    interactions = c.measures()  # before the reload clears them
    c.reload()
    assert "VMs (0)" in c.page.inner_text("[data-testid=vms]") and "cordoned" in c.page.inner_text("#page h1")
    c.shot("evacuation-done")
    _record(timings, "evacuation", c, before_reload_ms=interactions)


def _incident(api: httpx.Client) -> dict[str, Any] | None:
    r = try_call(lambda: api.get("/api/ai/security/anomalies", params={"kind": "incident"}))
    items = r.json()["anomalies"] if r is not None and r.status_code == 200 else []
    return max(items, key=lambda a: a.get("last_ts") or a["timestamp"]) if items else None


def test_an_incident_opens_with_its_graph_a_response_is_previewed_approved_and_audited(engine, tab, timings):  # noqa: F811
    _, api = engine
    inc = wait_for(lambda: _incident(api), 300, every=3, what="the demo campaign's incident")
    report = api.get(f"/api/ai/security/incidents/{inc['incident_id'] or inc['id']}").json()
    c = tab()
    c.login(RESPONDER, "#/security")
    c.page.click(f"[data-incident='{inc['id']}']")
    c.page.wait_for_selector(f"body[data-ready='#/security/{inc['id']}']")
    assert c.page.locator("svg.graph g.node").count() == len(report["graph"]["nodes"])
    first = c.page.locator("svg.graph g.node").first
    first.click()
    assert first.get_attribute("data-node") in c.page.inner_text("[data-testid=node-detail]")
    c.page.locator("svg.graph g.node").last.focus()
    c.page.keyboard.press("Enter")
    assert c.page.locator("svg.graph g.node.sel").count() == 1
    action = "block_ip" if inc["targets"].get("ip") else "disable_user"
    c.page.select_option("#resp-action", action)
    c.page.click("[data-testid=preview]")
    c.page.wait_for_selector("[data-testid=respond-result] [data-status=dry_run]")
    assert c.page.get_attribute("[data-testid=respond-result] p", "data-policy") == "needs_approval"
    c.page.click("[data-testid=send-response]")
    c.page.wait_for_selector("[data-testid=respond-result] [data-status=pending_approval]")
    rid = re.search(r"resp-[0-9a-f]+", c.page.inner_text("[data-testid=respond-result]")).group(0)
    assert c.page.locator("[data-missing-role=approver]").count() >= 1 and c.page.locator("[data-approve]").count() == 0
    c.shot("incident")

    a = tab()
    a.login(APPROVER, f"#/security/{inc['id']}")
    a.page.wait_for_selector(f"[data-approve='{rid}']")
    a.page.click(f"[data-approve='{rid}']")
    a.page.wait_for_selector(f"[data-testid=approvals] tr[data-response='{rid}'] .ok")
    assert a.page.inner_text(f"[data-testid=approvals] tr[data-response='{rid}'] .ok") == "executed"
    wait_for(lambda: a.page.locator(f"[data-testid=audit] tr[data-response='{rid}'][data-audit-event=executed]").count() == 1, 30,
             what="the audit trail to show the executed response")
    events = a.page.eval_on_selector_all(f"[data-testid=audit] tr[data-response='{rid}']", "els => els.map(e => e.dataset.auditEvent)")
    assert {"requested", "pending_approval", "approved", "executed"} <= set(events)
    a.shot("incident-approved")
    a.go("#/security")
    a.shot("security")
    a.reload()
    _record(timings, "security", a)
    _record(timings, "incident-respond", c)


def test_a_suppression_is_added_and_removed_from_the_page(engine, tab):  # noqa: F811
    _, api = engine
    c = tab()
    c.login(RESPONDER, "#/security")
    c.page.fill("#sup-id", "console-backup")
    c.page.fill("#sup-entity", "user=backup-svc")
    c.page.fill("#sup-reason", "nightly backup logs in over SSH")
    c.page.click("[data-testid=add-suppression] button[type=submit]")
    row = c.page.locator("[data-testid=suppressions] tr[data-suppression='console-backup']")
    row.wait_for()
    assert row.locator("td[data-hits]").get_attribute("data-hits") == "0" and "soc-responder" in row.inner_text()
    listed = {x["id"]: x for x in api.get("/api/ai/security/suppressions").json()}
    assert listed["console-backup"]["entities"] == {"user": "backup-svc"}
    row.locator("[data-remove]").click()
    row.wait_for(state="detached")
    assert "console-backup" not in {x["id"] for x in api.get("/api/ai/security/suppressions").json()}


def test_the_models_page_shows_the_served_model(engine, tab, timings):  # noqa: F811
    _, api = engine
    c = tab()
    c.login(API_TOKEN, "#/models")
    served = api.get("/api/ai/models/failure-prediction").json()
    assert c.page.get_attribute("[data-testid=deployed-model]", "data-version") == served["version"]
    assert c.page.locator("[data-testid=retraining]").count() == 1
    c.shot("models")
    c.reload()
    _record(timings, "models", c)


def test_without_a_token_or_with_a_token_lacking_roles_the_page_says_so_and_offers_nothing_it_would_refuse(engine, tab):  # noqa: F811
    c = tab()
    c.open()
    c.page.wait_for_selector("body[data-state='login']")
    assert c.page.locator("#page *").count() == 0  # no data, no actions before a token
    c.page.fill("#token", "not-a-token")
    with c.page.expect_response(re.compile(r"/api/ai/auth/whoami$")) as refused:
        c.page.click("#login-form button[type=submit]")
    assert refused.value.status == 401
    c.problems.remove(next(p for p in c.problems if p.startswith("HTTP 401") and "whoami" in p))
    c.page.wait_for_function("document.querySelector('#login-reason').textContent.includes('rejected')")
    c.problems[:] = [p for p in c.problems if "401" not in p]  # Chromium logs the refused whoami as a console error

    v = tab()
    v.login(VIEWER, f"#/fleet/{HOST}")
    assert "viewer" in v.page.inner_text("#who")
    assert v.page.locator("[data-testid=request-evacuation]").count() == 0
    assert v.page.locator("[data-missing-role=operator]").count() == 1
    v.shot("viewer-host")
    v.go("#/placement")
    assert v.page.locator("[data-testid=plan-batch]").count() == 0 and v.page.locator("[data-missing-role=operator]").count() == 1
    v.go("#/security")
    assert v.page.locator("[data-approve], [data-remove], [data-testid=add-suppression]").count() == 0
    assert v.page.locator("[data-missing-role=approver]").count() == 1 and v.page.locator("[data-missing-role=responder]").count() == 1


def test_an_unreachable_api_is_shown_and_the_page_recovers(engine, tab):  # noqa: F811
    c = tab()
    c.login(API_TOKEN)
    c.expect_failures = True
    c.page.route("**/api/ai/**", lambda route: route.abort())
    c.page.wait_for_selector("#banner:not([hidden])", timeout=20_000)
    assert "unreachable" in c.page.inner_text("#banner")
    c.shot("unreachable", full_page=False)
    c.page.unroute("**/api/ai/**")
    c.page.wait_for_selector("#banner[hidden]", state="attached", timeout=20_000)
    c.problems[:] = [p for p in c.problems if "ERR_FAILED" not in p and "Failed to load resource" not in p]

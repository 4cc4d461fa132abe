"""The watcher of `aiops up` against a fake API: applied plans are said once, never the ones found on the first look."""
from __future__ import annotations

import httpx

from jobs.watch import Watcher


class FakeApi:
    """Answers the plan routes from ``applied`` (status -> summaries); every other route is a 404."""

    def __init__(self) -> None:
        self.applied: dict[str, list[dict]] = {"applied": [], "partially_applied": []}
        self.down: set[str] = set()  # statuses whose listing answers 503
        self.bodies: dict[str, dict] = {}

    def __call__(self, req: httpx.Request) -> httpx.Response:
        path, status = req.url.path, req.url.params.get("status", "")
        if path == "/api/ai/placement/plans":
            if status in self.down:
                return httpx.Response(503, json={"error": "unavailable"})
            plans = self.applied.get(status, [])
            return httpx.Response(200, json={"total": len(plans), "plans": plans})
        if path.startswith("/api/ai/placement/plans/") and path.rsplit("/", 1)[1] in self.bodies:
            return httpx.Response(200, json=self.bodies[path.rsplit("/", 1)[1]])
        return httpx.Response(404, json={"error": "not_found"})


def _summary(pid: str, status: str = "applied") -> dict:
    return {"plan_id": pid, "kind": "evacuation", "status": status, "created": 1.0, "requires_approval": True,
            "hosts": ["host-0002"], "actions": 2, "stranded": 0, "complete": True, "applied_at": 2.0}


def _watcher(api: FakeApi) -> tuple[Watcher, list[str]]:
    lines: list[str] = []
    w = Watcher("http://api", {}, out=lines.append, t0=0.0)
    w.client.close()
    w.client = httpx.Client(base_url="http://api", transport=httpx.MockTransport(api))
    return w, lines


def test_applied_plans_said_once_and_history_never():
    api = FakeApi()
    api.applied["applied"] = [_summary("old")]
    w, lines = _watcher(api)
    w.poll_once()
    assert lines == []  # applied before the watcher looked: remembered silently
    api.applied["partially_applied"] = [_summary("new", "partially_applied")]
    api.bodies["new"] = {"plan_id": "new", "kind": "evacuation", "applied": {
        "applied": [{"op": "migrate", "vm_id": "v1", "from": "host-0002", "to": "host-0005"}],
        "skipped": [{"op": "migrate", "vm_id": "v2", "reason": "target host-0007 is cordoned"}]}}
    w.poll_once()
    w.poll_once()
    assert [line.split("] ", 1)[1] for line in lines] == [
        "evacuation plan new partially applied: 1 VM moved off host-0002 to 1 host, 1 skipped"]


def test_an_unanswered_listing_is_skipped_quietly_and_does_not_count_as_the_first_look():
    api = FakeApi()
    api.applied = {"applied": [_summary("old")], "partially_applied": [_summary("old-p", "partially_applied")]}
    api.down = {"partially_applied"}
    w, lines = _watcher(api)
    w.poll_once()  # half a listing: not taken as what was already applied (else old-p would be said next)
    api.down = set()
    w.poll_once()  # the first whole look: silent
    api.applied["applied"].insert(0, _summary("p-9"))
    w.poll_once()  # its body is gone (404): said from the summary
    assert [line.split("] ", 1)[1] for line in lines] == ["evacuation plan p-9 applied: 2 planned VM actions off host-0002"]


def test_an_api_that_is_not_up_yet_is_not_an_error():
    def refuse(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=req)

    w, lines = _watcher(FakeApi())
    w.client = httpx.Client(base_url="http://api", transport=httpx.MockTransport(refuse))
    w.poll_once()
    assert lines == []

"""Structured logs: the JSON formatter, redaction, the request id through the ingress and into actor methods."""
from __future__ import annotations

import asyncio
import inspect
import io
import json
import logging
from typing import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from aiops.api.metrics import ApiMetrics
from aiops.api.middleware import RequestIds, TimingAndLimits
from aiops.logs import (REQUEST_ID_KWARG, JsonFormatter, carries_request_id, clean_request_id, configure_logging,
                        current_request_id, request_kwargs, request_scope)


def _format(logger: str, msg: str, *args: object, exc: BaseException | None = None, **extra: object) -> dict:
    record = logging.getLogger(logger).makeRecord(logger, logging.WARNING, __file__, 1, msg, args,
                                                  (type(exc), exc, exc.__traceback__) if exc else None, extra=extra)
    return json.loads(JsonFormatter().format(record))


def test_a_record_is_one_json_object_with_the_request_id_and_extra_fields() -> None:
    with request_scope("req-42"):
        out = _format("aiops.test", "shard %d stored %s", 3, "batch", shard=3, took_ms=1.5)
    assert out["msg"] == "shard 3 stored batch" and out["level"] == "WARNING" and out["logger"] == "aiops.test"
    assert out["request_id"] == "req-42" and out["shard"] == 3 and out["took_ms"] == 1.5
    assert out["ts"].endswith("+00:00") and isinstance(out["pid"], int)
    assert "request_id" not in _format("aiops.test", "outside any request")


def test_secrets_never_reach_a_line() -> None:
    try:
        raise ConnectionError("redis://:hunter2@db:6379/0 refused")
    except ConnectionError as exc:
        out = _format("aiops.test", "call with Authorization: Bearer %s to %s", "tok-SECRET", "http://h/?token=abc",
                      exc=exc, authorization="Bearer tok-SECRET", api_token="tok-SECRET", headers={"cookie": "c=1"},
                      url="nats://u:natspw@h:4222")
    line = json.dumps(out)
    for secret in ("tok-SECRET", "hunter2", "natspw", "token=abc", "c=1"):
        assert secret not in line, secret
    assert out["authorization"] == out["api_token"] == "***" and out["headers"] == {"cookie": "***"}
    assert "Bearer ***" in out["msg"] and "redis://:***@db" in out["exc"] and "ConnectionError" in out["exc"]


@pytest.fixture
def root_logs() -> Iterator[tuple[io.StringIO, list[logging.Handler]]]:
    """A buffer for configure_logging, and the root logger's handlers and level put back afterwards."""
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    yield io.StringIO(), before
    for h in [h for h in root.handlers if h not in before]:
        root.removeHandler(h)
    root.setLevel(level)


def test_configure_logging_is_idempotent_and_sets_the_level(root_logs) -> None:
    buf, before = root_logs
    configure_logging("DEBUG", buf)
    configure_logging("WARNING", buf)
    root = logging.getLogger()
    assert len([h for h in root.handlers if h not in before]) == 1 and root.level == logging.WARNING
    logging.getLogger("aiops.x").info("hidden")
    logging.getLogger("aiops.x").warning("shown")
    assert [json.loads(line)["msg"] for line in buf.getvalue().splitlines()] == ["shown"]


def test_client_request_ids_are_kept_only_when_plain() -> None:
    assert clean_request_id("abc-123_x.y:z") == "abc-123_x.y:z"
    for bad in (None, "", "a\nb", "x" * 129, '{"inject": 1}'):
        new = clean_request_id(bad)
        assert new != bad and len(new) == 32


@carries_request_id
class _Actor:
    def sync_call(self, x: int, *, scale: int = 1) -> tuple[int, str | None]:
        logging.getLogger("aiops.test").info("sync")
        return x * scale, current_request_id()

    async def async_call(self, x: int) -> tuple[int, str | None]:
        return x, current_request_id()

    def _private(self) -> str | None:
        return current_request_id()


def test_actor_methods_take_the_request_id_keyword() -> None:
    a = _Actor()
    assert a.sync_call(2, scale=3) == (6, None)  # plain calls unchanged
    assert a.sync_call(2, aiops_request_id="r1") == (2, "r1")
    assert asyncio.run(a.async_call(5, aiops_request_id="r2")) == (5, "r2")
    assert inspect.iscoroutinefunction(_Actor.async_call)  # Ray decides async actors on this
    params = inspect.signature(inspect.unwrap(_Actor.sync_call)).parameters  # Ray unwraps, then validates on it
    assert list(params) == ["self", "x", "scale", REQUEST_ID_KWARG]
    assert REQUEST_ID_KWARG not in inspect.signature(_Actor._private).parameters
    assert current_request_id() is None  # reset after the call
    with request_scope("r3"):
        assert request_kwargs() == {REQUEST_ID_KWARG: "r3"}
    assert request_kwargs() == {}


def _app(echo: bool) -> FastAPI:
    app = FastAPI()

    @app.get("/work/{item}")
    async def work(item: str) -> dict:
        logging.getLogger("aiops.test.route").warning("working on %s", item)
        return {"rid": current_request_id()}

    app.add_middleware(TimingAndLimits, metrics=ApiMetrics(), max_body_bytes=1024, too_large=lambda n: None,
                       access=True)
    app.add_middleware(RequestIds, echo=echo)
    return app


def test_ingress_honours_or_makes_the_id_and_logs_it(root_logs) -> None:
    buf, _ = root_logs
    configure_logging("INFO", buf)
    client = TestClient(_app(echo=True))
    r = client.get("/work/a", headers={"X-Request-ID": "client-7"})
    fresh = client.get("/work/b", headers={"X-Request-ID": "bad id\twith tab"})
    assert r.headers["x-request-id"] == "client-7" and r.json() == {"rid": "client-7"}
    assert fresh.json()["rid"] == fresh.headers["x-request-id"] != "bad id\twith tab"
    lines = [json.loads(line) for line in buf.getvalue().splitlines()]
    route = [ln for ln in lines if ln["logger"] == "aiops.test.route"]
    access = [ln for ln in lines if ln["logger"] == "aiops.access"]
    assert [ln["request_id"] for ln in route] == ["client-7", fresh.json()["rid"]]
    assert [(ln["request_id"], ln["route"], ln["status"]) for ln in access] == [
        ("client-7", "/work/{item}", 200), (fresh.json()["rid"], "/work/{item}", 200)]
    assert "x-request-id" not in TestClient(_app(echo=False)).get("/work/c").headers  # Serve's proxy echoes it


def test_a_serve_deployment_takes_the_id_from_its_source(root_logs, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Serve deployment called through a handle has no request_scope; Serve's own context gives the id."""
    monkeypatch.setattr("aiops.logs._request_id_source", None)
    buf, _ = root_logs
    served = {"id": "serve-9"}
    configure_logging("INFO", buf, request_id_source=lambda: served["id"])
    logging.getLogger("aiops.test").info("predicting")
    assert json.loads(buf.getvalue().splitlines()[-1])["request_id"] == "serve-9"
    assert request_kwargs() == {REQUEST_ID_KWARG: "serve-9"}  # and passed on to the shards it calls
    with request_scope("scoped"):
        assert current_request_id() == "scoped"
    served["id"] = ""
    assert current_request_id() is None and request_kwargs() == {}

    def broken() -> str:
        raise RuntimeError("no context")

    configure_logging("INFO", buf, request_id_source=broken)
    logging.getLogger("aiops.test").warning("still logged")
    assert "request_id" not in json.loads(buf.getvalue().splitlines()[-1])


def test_a_caller_that_passes_its_own_request_id_extra_does_not_break_logging() -> None:
    """Ray Serve's replica logs with extra={"request_id": ...}; inside our request scope the record factory must
    not have set that attribute already (logging raises KeyError on an overwrite, which failed the request)."""
    buf = io.StringIO()
    configure_logging("INFO", stream=buf)  # installs the record factory that stamps our id
    with request_scope("ours-1"):
        record = logging.getLogger("ray.serve").makeRecord("ray.serve", logging.INFO, __file__, 1, "done", (), None,
                                                           extra={"request_id": "serve-1"})
    out = json.loads(JsonFormatter().format(record))
    assert out["request_id"] == "serve-1" and REQUEST_ID_KWARG not in out

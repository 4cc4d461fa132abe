"""Structured logs: one JSON object per line, with the request id of the HTTP request being served.

Operators ship these lines to whatever they already run (Loki, Elasticsearch, CloudWatch); a request id
lets them follow one request from the ingress into the actors it called. Nothing here runs at import:
`aiops up`, the Serve ingress, Ray workers (through `worker_runtime_env`) and jobs call `configure_logging`.

The request id travels in a context variable inside a process and as one keyword argument
(`REQUEST_ID_KWARG`) across Ray actor calls: callers add `request_kwargs()`, actor classes decorated with
`carries_request_id` accept it on every public method and log under it. Every line passes through
`aiops.redact` (URL passwords, query secrets, bearer tokens) and fields named like secrets are masked.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import json
import logging
import os
import re
import sys
import uuid
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, TextIO, TypeVar

from aiops.redact import REDACTED, redact

__all__ = ["REQUEST_ID_KWARG", "LEVEL_ENV", "JsonFormatter", "configure_logging", "setup_worker", "worker_runtime_env",
           "current_request_id", "request_scope", "request_kwargs", "clean_request_id", "carries_request_id"]

REQUEST_ID_KWARG = "aiops_request_id"
LEVEL_ENV = "AIOPS_LOG_LEVEL"
_REQUEST_ID: ContextVar[str | None] = ContextVar("aiops_request_id", default=None)
_VALID_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")
_SECRET_KEY = re.compile(r"authorization|token|password|passwd|secret|api_?key|cookie", re.IGNORECASE)
# LogRecord attributes that are not caller-supplied `extra` fields.
_STANDARD = (frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None)))
             | {"message", "asctime", "taskName", REQUEST_ID_KWARG})  # the id is written once, as request_id
_NOISY = ("httpx", "httpcore", "urllib3", "asyncio")
# Where the id comes from outside any request_scope: a Serve deployment called through a handle has the caller's
# request context from Serve itself (set by configure_logging; one per process, like logging's own handlers).
_request_id_source: Callable[[], str | None] | None = None  # a line per outgoing request would drown the engine's own
T = TypeVar("T")


def current_request_id() -> str | None:
    """The id of the request this code is serving, if any (the scope's, else the process' configured source)."""
    rid = _REQUEST_ID.get()
    if rid is None and _request_id_source is not None:
        try:
            rid = _request_id_source() or None
        except Exception:  # noqa: BLE001 - a log line must never fail for want of an id
            rid = None
    return rid


@contextlib.contextmanager
def request_scope(request_id: str | None) -> Iterator[None]:
    """Log (and forward to actors) under `request_id` inside the block."""
    token = _REQUEST_ID.set(request_id)
    try:
        yield
    finally:
        _REQUEST_ID.reset(token)


def request_kwargs() -> dict[str, str]:
    """Keyword arguments that carry the current request id into a `carries_request_id` actor call (none outside a request)."""
    rid = current_request_id()
    return {REQUEST_ID_KWARG: rid} if rid else {}


def clean_request_id(raw: str | None) -> str:
    """A client's X-Request-ID when it is a plain token of at most 128 characters, else a new one (so no client
    can put newlines, markup or megabytes into every log line)."""
    if raw and _VALID_ID.fullmatch(raw):
        return raw
    return uuid.uuid4().hex


def _with_request_id(fn: Callable[..., Any]) -> Callable[..., Any]:
    sig = inspect.signature(fn)
    if REQUEST_ID_KWARG in sig.parameters:
        return fn
    params = list(sig.parameters.values())
    extra = inspect.Parameter(REQUEST_ID_KWARG, inspect.Parameter.KEYWORD_ONLY, default=None)
    at = len(params) - 1 if params and params[-1].kind is inspect.Parameter.VAR_KEYWORD else len(params)
    params.insert(at, extra)
    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def async_wrapper(*args: Any, aiops_request_id: str | None = None, **kwargs: Any) -> Any:
            with request_scope(aiops_request_id or current_request_id()):
                return await fn(*args, **kwargs)
        wrapper: Callable[..., Any] = async_wrapper
    else:
        @functools.wraps(fn)
        def sync_wrapper(*args: Any, aiops_request_id: str | None = None, **kwargs: Any) -> Any:
            with request_scope(aiops_request_id or current_request_id()):
                return fn(*args, **kwargs)
        wrapper = sync_wrapper
    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    del wrapper.__wrapped__  # Ray unwraps decorators (inspect.unwrap) before reading a method's signature
    return wrapper


def carries_request_id(cls: type[T]) -> type[T]:
    """Let every public method of an actor class take `aiops_request_id=` and log under it (the class still
    works without it, so plain-Python tests are unchanged). Generator methods are left alone: Ray streams them."""
    for name, attr in list(vars(cls).items()):
        if not name.startswith("_") and inspect.isfunction(attr) and not (
                inspect.isgeneratorfunction(attr) or inspect.isasyncgenfunction(attr)):  # Ray streams these
            setattr(cls, name, _with_request_id(attr))
    return cls


def _safe(key: str, value: Any) -> Any:
    if _SECRET_KEY.search(key):
        return REDACTED
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_safe(key, v) for v in value]
    if isinstance(value, dict):
        return {str(k): _safe(str(k), v) for k, v in value.items()}
    return redact(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, msg, request_id, pid, the caller's `extra` fields and the
    exception; every string is redacted and fields named like secrets are masked."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "msg": redact(record.getMessage()),
        }
        rid = getattr(record, "request_id", None) or getattr(record, "aiops_request_id", None) or current_request_id()
        if rid:
            out["request_id"] = rid
        out["pid"] = record.process
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in out and not key.startswith("_"):  # Ray adds _ray_timestamp_ns
                out[key] = _safe(key, value)
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            out["exc"] = redact(record.exc_text)
        return json.dumps(out, default=str, ensure_ascii=False)


def _install_record_factory() -> None:
    """Stamp each record with the request id when it is made (in the code serving the request), so a handler
    that formats later or elsewhere (a queue, pytest's capture) still has it."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_aiops", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        rid = current_request_id()
        if rid:  # not `request_id`: a caller's extra={"request_id": ...} (Ray Serve's own) would then raise KeyError
            record.aiops_request_id = rid
        return record

    factory._aiops = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


class _AiopsHandler(logging.StreamHandler):
    """Marks the handler `configure_logging` owns, so a second call replaces it instead of adding another."""


def configure_logging(level: str = "INFO", stream: TextIO | None = None,
                      request_id_source: Callable[[], str | None] | None = None) -> logging.Handler:
    """JSON lines on stderr (or `stream`) for the root logger at `level`; idempotent per process.
    `request_id_source` gives the id outside a `request_scope` (a Serve deployment: Serve's request context)."""
    global _request_id_source
    if request_id_source is not None:
        _request_id_source = request_id_source
    root = logging.getLogger()
    for h in [h for h in root.handlers if isinstance(h, _AiopsHandler)]:
        root.removeHandler(h)
    handler = _AiopsHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    _install_record_factory()
    for name in _NOISY:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    logging.captureWarnings(True)
    return handler


def setup_worker() -> None:
    """Ray's `worker_process_setup_hook`: every worker of the job logs JSON at the driver's level."""
    configure_logging(os.environ.get(LEVEL_ENV, "INFO"))


def worker_runtime_env(level: str) -> dict[str, Any]:
    """The runtime_env entries that make every Ray worker of a job log like the driver."""
    return {"worker_process_setup_hook": f"{__name__}.setup_worker", "env_vars": {LEVEL_ENV: level.upper()}}

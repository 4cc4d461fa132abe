"""The one error table of the HTTP layer: every error leaves the API as the same JSON body.

Domain code raises the kinds in `aiops.errors` (never HTTP exceptions); this module maps each
kind to its status code once, so routers let domain errors propagate and no two routers can
disagree about what "not found" or "infeasible" means. Body: {"error", "message", "status"}
plus optional "details". A domain error may refine the body through two optional attributes:
`code` (the machine-readable "error" field, e.g. "no_feasible_node") and `details` (a mapping).
"""
from __future__ import annotations

from typing import Any, Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from aiops.redact import redact
from aiops.api.schemas import ErrorBody
from aiops.errors import (ConflictError, DomainError, InfeasibleError, InvalidRequestError, NotFoundError,
                          PermissionDeniedError, UnauthenticatedError, UnavailableError)

__all__ = ["STATUS_CODES", "ERROR_TABLE", "RETRY_AFTER_S", "TRANSIENT_ERRORS", "is_transient", "error_response", "status_of", "domain_error_response",
           "validation_message", "install_error_handlers"]

# HTTP status -> the "error" field of the body when nothing more specific is known.
STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type", 422: "invalid_input",
                429: "too_many_requests", 503: "unavailable", 504: "timeout"}

# Domain error kind -> HTTP status. InfeasibleError is 409: the placement API has always answered
# "no feasible node/plan" with 409 (the request is valid, the fleet's current state rules it out).
ERROR_TABLE: tuple[tuple[type[DomainError], int], ...] = (
    (UnauthenticatedError, 401),
    (NotFoundError, 404),
    (InvalidRequestError, 422),
    (ConflictError, 409),
    (PermissionDeniedError, 403),
    (UnavailableError, 503),
    (InfeasibleError, 409),
)

RETRY_AFTER_S = 5  # seconds a client is told to wait after a 503 (a model or store not ready yet)

# Exceptions (by class name anywhere in their MRO, so this layer needs no Ray import) that mean a part of the
# engine is restarting or moving: an actor or node died, a Serve deployment has no replica right now. A retry
# after a few seconds succeeds (actors restart, Serve replaces replicas), so the client gets 503 + Retry-After.
TRANSIENT_ERRORS = frozenset({"RayActorError", "NodeDiedError", "WorkerCrashedError", "ObjectLostError", "GetTimeoutError",
                              "ActorUnschedulableError", "BackPressureError", "DeploymentUnavailableError",
                              "ReplicaUnavailableError"})


def error_response(status: int, message: str, details: Any = None, code: str | None = None,
                   headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The JSON error body every failing request gets, whatever raised it."""
    body = ErrorBody(error=code or STATUS_CODES.get(status, "error"), message=message, status=status, details=details)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=dict(headers or {}))


def status_of(exc: DomainError) -> int:
    """The status of the first table kind `exc` is an instance of (500 for a kind not in the table)."""
    return next((status for kind, status in ERROR_TABLE if isinstance(exc, kind)), 500)


def domain_error_response(exc: DomainError) -> JSONResponse:
    """Map a domain error through the table; its optional `code`/`details` refine the body."""
    status = status_of(exc)
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    return error_response(status, redact(exc), getattr(exc, "details", None), getattr(exc, "code", None), headers)


def validation_message(errors: list[dict[str, Any]], limit: int = 5) -> tuple[str, list[dict[str, Any]]]:
    """'loc.path: msg; ...' for the first `limit` errors, and the details list of all of them."""
    details = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in errors]
    return "; ".join(f"{'.'.join(map(str, d['loc']))}: {d['msg']}" for d in details[:limit]), details


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return domain_error_response(exc)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return error_response(exc.status_code, redact(exc.detail), headers=getattr(exc, "headers", None))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    message, details = validation_message(list(exc.errors()))
    return error_response(422, message, details)


def is_transient(exc: BaseException) -> bool:
    """A restarting actor, a lost node or a deployment without replicas (see TRANSIENT_ERRORS)."""
    return any(k.__name__ in TRANSIENT_ERRORS for k in type(exc).__mro__)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    """A bug or a crashed dependency: still JSON, never a traceback as text; a restarting part is a 503."""
    if is_transient(exc):
        return error_response(503, f"a part of the engine is restarting ({type(exc).__name__}); retry shortly",
                              code="restarting", headers={"Retry-After": str(RETRY_AFTER_S)})
    return error_response(500, f"internal error: {type(exc).__name__}: {redact(exc)[:200]}")


def install_error_handlers(app: FastAPI) -> None:
    """Install the table's handler and the framework ones (HTTP, validation, unexpected) on `app`."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)

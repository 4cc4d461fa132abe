"""The one table from domain error kinds (`aiops.errors`) to HTTP answers.

Routers let domain errors propagate; the handler installed here answers them with the usual
JSON body ``{"error", "message", "status"}`` (plus ``details`` when the error carries any).
A domain error may name its own ``code`` (the ``error`` field); otherwise its kind's is used.
"""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from aiops.errors import (ConflictError, DomainError, InfeasibleError, InvalidRequestError, NotFoundError,
                          PermissionDeniedError, UnavailableError)

__all__ = ["ERROR_TABLE", "error_response", "install_error_handlers"]

ERROR_TABLE: tuple[tuple[type[DomainError], int, str], ...] = (
    (NotFoundError, 404, "not_found"),
    (InvalidRequestError, 422, "invalid_input"),
    (ConflictError, 409, "conflict"),
    (PermissionDeniedError, 403, "permission_denied"),
    (UnavailableError, 503, "unavailable"),
    (InfeasibleError, 409, "infeasible"),
)


def error_response(exc: DomainError) -> JSONResponse:
    """The JSON answer to one domain error, by the first kind in ERROR_TABLE it is."""
    status, code = 500, "internal"
    for kind, kind_status, kind_code in ERROR_TABLE:
        if isinstance(exc, kind):
            status, code = kind_status, kind_code
            break
    body: dict[str, Any] = {"error": str(getattr(exc, "code", None) or code), "message": str(exc), "status": status}
    details = getattr(exc, "details", None)
    if details is not None:
        body["details"] = details
    return JSONResponse(body, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    """Answer every domain error raised by a route through ERROR_TABLE."""

    async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
        return error_response(exc)  # type: ignore[arg-type]

    app.add_exception_handler(DomainError, _domain_error)

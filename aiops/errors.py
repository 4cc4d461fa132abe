"""Domain error kinds shared by every engine.

Each domain defines its own errors (next to the code that raises them) as subclasses of one of
these kinds. The HTTP layer maps the kinds to status codes in one table (`aiops.api.errors`), so
no domain module knows about HTTP and no router translates errors on its own.
"""
from __future__ import annotations

__all__ = ["DomainError", "NotFoundError", "InvalidRequestError", "ConflictError", "PermissionDeniedError",
           "UnauthenticatedError", "UnavailableError", "InfeasibleError"]


class DomainError(Exception):
    """Base of every error a domain raises on purpose; its message is safe to show a client."""


class NotFoundError(DomainError, KeyError):
    """The named thing (target, plan, incident, model version) does not exist."""

    def __str__(self) -> str:  # KeyError quotes its message; these are meant to be read
        return str(self.args[0]) if self.args else self.__class__.__name__


class InvalidRequestError(DomainError, ValueError):
    """The request is well-formed but its values cannot be acted on."""


class ConflictError(DomainError):
    """The request clashes with the current state (already applied, already approved, stale)."""


class UnauthenticatedError(DomainError):
    """No credentials, or ones that match no configured token; the client must authenticate."""


class PermissionDeniedError(DomainError, PermissionError):
    """The action needs an approval or a role the caller does not have."""


class UnavailableError(DomainError, RuntimeError):
    """A dependency is not ready yet (no model deployed, a store is down); retrying later can succeed."""


class InfeasibleError(DomainError, RuntimeError):
    """The request is valid but no answer satisfies its constraints (no node fits, no plan exists)."""

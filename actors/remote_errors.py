"""Domain errors raised inside an actor, re-raised as themselves on the caller's side.

Ray wraps an actor's exception in a ``RayTaskError`` whose message is the remote traceback. The
API's error table needs the domain error itself (its kind, message, ``code`` and ``details``),
so the proxies unwrap it here; anything else (a crash, a dead actor) stays wrapped.
"""
from __future__ import annotations

from typing import Any, Awaitable

from ray.exceptions import RayTaskError

from aiops.errors import DomainError

__all__ = ["domain_cause", "reraise_domain_cause", "awaited"]


def domain_cause(exc: BaseException) -> DomainError | None:
    """The domain error a Ray task raised, when ``exc`` wraps one (else None)."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(exc, RayTaskError) and isinstance(cause, DomainError) else None


def reraise_domain_cause(exc: BaseException) -> None:
    """Raise the wrapped domain error from ``exc`` when there is one; otherwise return (the caller re-raises)."""
    cause = domain_cause(exc)
    if cause is not None:
        raise cause from None


async def awaited(ref: Awaitable[Any]) -> Any:
    """Await an actor call; a domain error it raised comes back unwrapped."""
    try:
        return await ref
    except RayTaskError as exc:
        reraise_domain_cause(exc)
        raise

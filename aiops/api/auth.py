"""The one authentication layer of the HTTP API: which role each /api/ai route needs, checked in the ingress.

`create_app` attaches `AuthGuard` as a dependency to every router it mounts under /api/ai, so no
route can be added unguarded. The role comes from one table (`ROUTE_ROLES`), keyed by method
and route template: reads need `viewer`, writes are listed, and a write missing from the table
needs `admin` (fail closed). The token is `Authorization: Bearer <t>` or `X-API-Token: <t>`;
401 without a valid one (WWW-Authenticate: Bearer), 403 with a token lacking the role, both as
the error table's JSON body. `/healthz`, `/metrics`, `/docs` and `/openapi.json` are not
under /api/ai and stay open.
"""
from __future__ import annotations

from fastapi import Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from aiops.api.middleware import route_template
from aiops.auth import Principal, TokenAuth
from aiops.errors import UnauthenticatedError

__all__ = ["ROUTE_ROLES", "READ_METHODS", "required_role", "AuthGuard", "current_principal", "API_PREFIX", "ANY_ROLE"]

API_PREFIX = "/api/ai"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ANY_ROLE = "any"  # a valid token is enough (whoami: a client asks which roles its token has)

# (method, route template) -> role, for every route that is not a plain read.
ROUTE_ROLES: dict[tuple[str, str], str] = {
    # any valid token may ask what it may do
    ("GET", "/api/ai/auth/whoami"): ANY_ROLE,
    # read-like POSTs: a body for a query, nothing changes
    ("POST", "/api/ai/predictions/failures/batch"): "viewer",
    ("POST", "/api/ai/placement/recommendations"): "viewer",
    # operators feed and steer the engines
    ("POST", "/api/ai/ingest"): "operator",
    ("POST", "/api/ai/events"): "operator",
    ("POST", "/api/ai/features/definitions"): "operator",
    ("POST", "/api/ai/placement/feedback"): "operator",
    ("POST", "/api/ai/predictions/failures/{target_id}/mitigations"): "operator",
    ("POST", "/api/ai/placement/plan"): "operator",
    ("POST", "/api/ai/placement/evacuations"): "operator",
    # approvers make plans and responses act
    ("POST", "/api/ai/placement/plans/{plan_id}/apply"): "approver",
    ("POST", "/api/ai/security/responses/{response_id}/approve"): "approver",
    # responders act on security anomalies
    ("POST", "/api/ai/security/anomalies/{anomaly_id}/respond"): "responder",
    ("POST", "/api/ai/security/suppressions"): "responder",
    ("DELETE", "/api/ai/security/suppressions/{suppression_id}"): "responder",
}

_bearer = HTTPBearer(auto_error=False, description="a token from the settings' api.tokens, or AIOPS_API_TOKEN")
_api_key = APIKeyHeader(name="X-API-Token", auto_error=False, description="the same token, for clients without Bearer")


def required_role(method: str, template: str) -> str:
    """The role a request needs: the table's, else viewer for reads and admin for any other write."""
    role = ROUTE_ROLES.get((method.upper(), template))
    if role is not None:
        return role
    return "viewer" if method.upper() in READ_METHODS else "admin"


class AuthGuard:
    """FastAPI dependency: authenticates the request's token and checks the route's role, in the ingress
    process (no actor round trip); the principal is left on ``request.state.principal``."""

    def __init__(self, auth: TokenAuth) -> None:
        self.auth = auth

    async def __call__(self, request: Request,
                       bearer: HTTPAuthorizationCredentials | None = Security(_bearer),
                       api_key: str | None = Security(_api_key)) -> Principal:
        if request.headers.get("authorization") is not None:
            token = bearer.credentials if bearer is not None else None  # a non-Bearer scheme is no token
        else:
            token = api_key
        role = required_role(request.method, route_template(request.scope))
        principal = self.auth.authenticate(token) if role == ANY_ROLE else self.auth.authorize(token, role)
        if principal is None:
            raise UnauthenticatedError("missing or invalid API token (send Authorization: Bearer <token>)")
        request.state.principal = principal
        return principal


def current_principal(request: Request) -> Principal:
    """The caller, as `AuthGuard` authenticated it (routes that record who acted depend on this)."""
    principal = getattr(request.state, "principal", None)
    if principal is None:  # a router mounted without the guard: refuse rather than act anonymously
        raise UnauthenticatedError("this route needs an authenticated caller")
    return principal

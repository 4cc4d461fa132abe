"""A known token table for unit tests of the app: one all-roles token and one per role."""
from __future__ import annotations

import hashlib

from aiops.auth import ROLES, ApiToken, TokenAuth

ALL_ROLES_TOKEN = "unit-all-roles"
HEADERS = {"Authorization": f"Bearer {ALL_ROLES_TOKEN}"}


def role_token(role: str) -> str:
    """The test token that has exactly `role`."""
    return f"unit-{role}"


def test_auth() -> TokenAuth:
    """All-roles token plus one token per role (named after the role)."""
    tokens = [ApiToken(name=r, sha256=hashlib.sha256(role_token(r).encode()).hexdigest(), roles=(r,)) for r in ROLES]
    return TokenAuth(tokens, ALL_ROLES_TOKEN, environ={})


test_auth.__test__ = False  # a factory, not a test

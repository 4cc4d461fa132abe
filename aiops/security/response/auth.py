"""API tokens → principals with roles (responder, approver, viewer); tokens are compared as SHA-256."""
from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from aiops.security.response.config import ApiToken


@dataclass(frozen=True)
class Principal:
    name: str
    roles: frozenset[str]


class TokenAuth:
    """Bearer tokens → principals. Stored as SHA-256 digests, compared with ``hmac.compare_digest``."""

    def __init__(self, tokens: tuple[ApiToken, ...] | list[ApiToken]) -> None:
        self._entries: list[tuple[bytes, Principal]] = []
        for t in tokens:
            digest = t.sha256
            if digest is None and t.env and os.environ.get(t.env):
                digest = hashlib.sha256(os.environ[t.env].encode()).hexdigest()
            if digest:
                self._entries.append((bytes.fromhex(digest), Principal(t.name, frozenset(t.roles))))

    def authenticate(self, token: str | None) -> Principal | None:
        if not token:
            return None
        got = hashlib.sha256(token.encode()).digest()
        found = None
        for digest, principal in self._entries:  # no early exit: timing does not reveal which entry matched
            if hmac.compare_digest(got, digest):
                found = principal
        return found

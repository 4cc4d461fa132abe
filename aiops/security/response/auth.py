"""Principals and token checks for the response engine: re-exported from the core module `aiops.auth`,
where the one token table of the whole API lives (kept so `aiops.security.response.auth` imports work)."""
from __future__ import annotations

from aiops.auth import Principal, TokenAuth

__all__ = ["Principal", "TokenAuth"]

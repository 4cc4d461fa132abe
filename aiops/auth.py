"""API tokens and roles: who may call which kind of route (plain Python, no web framework).

Tokens are never stored: the settings hold their SHA-256 (or name an environment variable that
holds the token), and a presented token is hashed and compared with `hmac.compare_digest`
against every entry, so timing reveals neither the token nor which entry matched.
`AIOPS_API_TOKEN` (or the token file `aiops up` writes when nothing is configured) is one
token with every role. Which role a route needs is the HTTP layer's table (`aiops.api.auth`).
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field

from aiops.errors import PermissionDeniedError, UnauthenticatedError

__all__ = ["ROLES", "Role", "ApiToken", "ApiSettings", "Principal", "TokenAuth", "UnauthenticatedError",
           "default_token_file", "token_file_of", "read_token_file", "write_token_file", "client_token",
           "token_configured", "is_loopback", "ALL_ROLES_NAME", "TokenSetupError", "ensure_api_token",
           "with_pinned_token", "api_headers"]

Role = Literal["viewer", "operator", "approver", "responder", "admin"]
ROLES: tuple[str, ...] = ("viewer", "operator", "approver", "responder", "admin")
ALL_ROLES_NAME = "api-token"  # the principal name of AIOPS_API_TOKEN / the token file


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApiToken(_Strict):
    """One configured token: its digest (or the variable holding it) and its roles."""

    name: str = Field(min_length=1, max_length=100)
    sha256: str | None = Field(None, pattern="^[0-9a-f]{64}$", description="hex SHA-256 of the token (never the token)")
    env: str | None = Field(None, description="or: environment variable holding the token")
    roles: tuple[Role, ...] = ("viewer",)


# The security tokens the engine has always read (kept so existing deployments keep working).
DEFAULT_TOKENS = (
    ApiToken(name="soc-responder", env="AIOPS_SECURITY_RESPONDER_TOKEN", roles=("viewer", "responder")),
    ApiToken(name="soc-lead", env="AIOPS_SECURITY_APPROVER_TOKEN", roles=("viewer", "responder", "approver")),
    ApiToken(name="dashboard", env="AIOPS_SECURITY_VIEWER_TOKEN", roles=("viewer",)),
)


class ApiSettings(_Strict):
    """The `api:` section of the settings: the token table and the all-roles token."""

    tokens: tuple[ApiToken, ...] = Field(DEFAULT_TOKENS, description="role tokens: printf %s \"$T\" | sha256sum")
    token_env: str = Field("AIOPS_API_TOKEN", description="environment variable holding a token with every role")
    token_file: Path | None = Field(None, description="file holding a token with every role (default "
                                                      "$XDG_CONFIG_HOME/aiops/token); `aiops up` writes it (0600) "
                                                      "when no token is configured")


@dataclass(frozen=True)
class Principal:
    """Who called: a token's name and its roles (admin is expanded to every role)."""

    name: str
    roles: frozenset[str]

    def has(self, role: str) -> bool:
        return role in self.roles or "admin" in self.roles


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class TokenAuth:
    """Bearer tokens → principals; stored as SHA-256 digests, compared with ``hmac.compare_digest``."""

    def __init__(self, tokens: tuple[ApiToken, ...] | list[ApiToken] = (), all_roles_token: str | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._entries: list[tuple[bytes, Principal]] = []
        for t in tokens:
            digest = bytes.fromhex(t.sha256) if t.sha256 else (_digest(env[t.env]) if t.env and env.get(t.env) else None)
            if digest:
                roles = frozenset(ROLES) if "admin" in t.roles else frozenset(t.roles)
                self._entries.append((digest, Principal(t.name, roles)))
        if all_roles_token:
            self._entries.append((_digest(all_roles_token), Principal(ALL_ROLES_NAME, frozenset(ROLES))))

    @classmethod
    def from_settings(cls, api: ApiSettings, environ: Mapping[str, str] | None = None) -> "TokenAuth":
        """The table of `api` in this process: env tokens and the all-roles token (variable, else file)."""
        env = os.environ if environ is None else environ
        return cls(api.tokens, client_token(api, env), env)

    def __len__(self) -> int:
        return len(self._entries)

    def authenticate(self, token: str | None) -> Principal | None:
        """The principal of `token`, or None; every entry is compared (no early exit)."""
        if not token:
            return None
        got = _digest(token)
        found = None
        for digest, principal in self._entries:
            if hmac.compare_digest(got, digest):
                found = principal
        return found

    def authorize(self, token: str | None, role: str) -> Principal:
        """The principal of `token` if it has `role`; UnauthenticatedError (401) or PermissionDeniedError (403)."""
        principal = self.authenticate(token)
        if principal is None:
            raise UnauthenticatedError("missing or invalid API token (send Authorization: Bearer <token>)")
        if not principal.has(role):
            raise PermissionDeniedError(f"token {principal.name!r} lacks the {role!r} role")
        return principal


def default_token_file(environ: Mapping[str, str] | None = None) -> Path:
    """$XDG_CONFIG_HOME/aiops/token (~/.config/aiops/token)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "aiops" / "token"


def token_file_of(api: ApiSettings, environ: Mapping[str, str] | None = None) -> Path:
    return api.token_file or default_token_file(environ)


def read_token_file(path: Path) -> str | None:
    """The token in `path` (stripped), or None when the file is missing or empty."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return token or None


def write_token_file(path: Path) -> str:
    """Make a new token and write it to `path`, readable by the user only (0600, folder 0700)."""
    token = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    os.chmod(path, 0o600)  # O_CREAT's mode is not applied to an existing file
    return token


def client_token(api: ApiSettings, environ: Mapping[str, str] | None = None) -> str | None:
    """The all-roles token a shipped client sends: the variable (AIOPS_API_TOKEN), else the token file."""
    env = os.environ if environ is None else environ
    return env.get(api.token_env) or read_token_file(token_file_of(api, env))


def api_headers(api: ApiSettings, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The Authorization header the project's own clients (benchmarks, scripts) send; {} without a token."""
    token = client_token(api, environ)
    return {"Authorization": f"Bearer {token}"} if token else {}


def token_configured(api: ApiSettings, environ: Mapping[str, str] | None = None) -> bool:
    """A token set on purpose: the variable, a digest or set env entry in the table, or an explicit token_file
    that exists (the default file written by `aiops up` does not count: it is for loopback only)."""
    env = os.environ if environ is None else environ
    if env.get(api.token_env):
        return True
    if any(t.sha256 or (t.env and env.get(t.env)) for t in api.tokens):
        return True
    return api.token_file is not None and read_token_file(api.token_file) is not None


class TokenSetupError(ValueError):
    """The API would be reachable from the network with no token configured."""


def with_pinned_token(api: ApiSettings, token: str) -> ApiSettings:
    """`api` plus `token`'s digest as an all-roles entry, so every ingress replica accepts it wherever it runs
    (an attached cluster's workers do not see this process's environment or home folder)."""
    if any(t.name == ALL_ROLES_NAME for t in api.tokens):
        return api
    pinned = ApiToken(name=ALL_ROLES_NAME, sha256=hashlib.sha256(token.encode()).hexdigest(), roles=("admin",))
    return api.model_copy(update={"tokens": (*api.tokens, pinned)})


def ensure_api_token(api: ApiSettings, host: str, environ: Mapping[str, str] | None = None) -> tuple[ApiSettings, str]:
    """What `aiops up` (and the benchmarks) do before serving: use the all-roles token (variable or file),
    make one in the token file (0600) when no token is configured at all, and refuse a non-loopback
    `host` without a configured token. Returns the settings with the token pinned and a line to print."""
    env = os.environ if environ is None else environ
    configured = token_configured(api, env)
    if not configured and not is_loopback(host):
        raise TokenSetupError(
            f"refusing to serve on {host!r} without an API token: set {api.token_env}, api.tokens (SHA-256) or "
            f"api.token_file in the settings (see docs/SECURITY.md), or bind to 127.0.0.1")
    if env.get(api.token_env):
        return with_pinned_token(api, env[api.token_env]), f"API token: from ${api.token_env}"
    path = token_file_of(api, env)
    token = read_token_file(path)
    if token is not None:
        return with_pinned_token(api, token), f"API token: {path}"
    if configured:
        return api, "API token: the tokens configured in api.tokens"
    token = write_token_file(path)
    return with_pinned_token(api, token), f"API token: made one, written to {path} (mode 0600; send it as " \
                                          f"'Authorization: Bearer $(cat {path})')"


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False

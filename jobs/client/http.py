"""A thin HTTP client of the AIOps API for the `aiops` command line (httpx; never imports Ray).

It sends the all-roles token the engine's own clients use (`AIOPS_API_TOKEN`, else the token file
`aiops up` writes) and turns every failure into an `ApiError` whose message says what to do:
401 (no or wrong token), 403 (a token without the role), 503 (not ready: retry), an unreachable API.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import httpx

__all__ = ["DEFAULT_URL", "ApiError", "ApiClient", "TokenSource", "explain", "EXIT_API_ERROR", "EXIT_UNREACHABLE"]

DEFAULT_URL = "http://127.0.0.1:8000"
EXIT_API_ERROR = 1
EXIT_UNREACHABLE = 3


class ApiError(Exception):
    """A request that did not succeed, with the message to show and the exit code to end with."""

    def __init__(self, message: str, status: int | None = None, exit_code: int = EXIT_API_ERROR) -> None:
        super().__init__(message)
        self.status = status
        self.exit_code = exit_code


@dataclass(frozen=True)
class TokenSource:
    """Where the token came from, for messages: the variable's name and the token file's path."""

    env_name: str = "AIOPS_API_TOKEN"
    token_file: Path | None = None


def _body(response: httpx.Response) -> tuple[str, str]:
    """The error table's (code, message), or the status text and the start of the body when it is not JSON."""
    try:
        data = response.json()
    except ValueError:
        return response.reason_phrase.lower(), response.text[:200]
    if isinstance(data, dict):
        return str(data.get("error") or response.reason_phrase.lower()), str(data.get("message") or data.get("detail") or "")
    return response.reason_phrase.lower(), str(data)[:200]


def explain(response: httpx.Response, has_token: bool, source: TokenSource) -> ApiError:
    """The ApiError for a non-2xx answer, with a hint for the statuses a user can act on."""
    code, message = _body(response)
    status = response.status_code
    where = f"${source.env_name} or the token file {source.token_file}" if source.token_file else f"${source.env_name}"
    if status == 401 and not has_token:
        text = f"no API token: set {source.env_name}, or run this where `aiops up` wrote its token file ({where})"
    elif status == 401:
        text = f"the API refused the token (401 {code}: {message}); check {where}"
    elif status == 403:
        text = f"the token lacks the role this needs (403 {code}: {message}); use a token with that role (api.tokens)"
    elif status == 503:
        retry = response.headers.get("retry-after")
        text = f"the engine is not ready (503 {code}): {message}" + (f"; retry in {retry} s" if retry else "; retry shortly")
    else:
        text = f"{status} {code}: {message}"
    return ApiError(text, status)


class ApiClient:
    """GET and POST JSON against one engine; each call returns the decoded body or raises ApiError."""

    def __init__(self, base_url: str = DEFAULT_URL, token: str | None = None, timeout_s: float = 40.0,
                 source: TokenSource = TokenSource(), http: httpx.Client | None = None) -> None:
        """`http` replaces the connection (tests pass an in-process app's client); the token is set on it."""
        self.base_url = base_url.rstrip("/")
        self.has_token = bool(token)
        self.source = source
        self._http = http or httpx.Client(base_url=self.base_url, timeout=timeout_s)
        if token:
            self._http.headers["Authorization"] = f"Bearer {token}"

    def __enter__(self) -> "ApiClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._request("GET", path, params=params)

    def post(self, path: str, body: Any) -> Any:
        return self._request("POST", path, json=body)

    def _request(self, method: str, path: str, **kw: Any) -> Any:
        if "params" in kw and kw["params"] is not None:
            kw["params"] = {k: v for k, v in kw["params"].items() if v is not None}
        try:
            response = self._http.request(method, path, **kw)
        except httpx.TimeoutException as exc:
            raise ApiError(f"the AIOps API at {self.base_url} did not answer in time ({type(exc).__name__}); "
                           "the engine may be busy: retry, or check `aiops status`", exit_code=EXIT_UNREACHABLE) from None
        except httpx.TransportError as exc:
            raise ApiError(f"cannot reach the AIOps API at {self.base_url} ({exc or type(exc).__name__}): is the engine "
                           "running (`aiops up`), and is --url right?", exit_code=EXIT_UNREACHABLE) from None
        if response.is_success:
            return response.json() if response.content else None
        raise explain(response, self.has_token, self.source)

"""aiops.auth: the token table, the all-roles token and its file, the loopback rule (URL redaction: test_redact)."""
from __future__ import annotations

import hashlib
import stat

import pytest

from aiops.auth import (ROLES, ApiSettings, ApiToken, TokenAuth, TokenSetupError, api_headers, ensure_api_token,
                        is_loopback, token_configured)
from aiops.errors import PermissionDeniedError, UnauthenticatedError


def _sha(t: str) -> str:
    return hashlib.sha256(t.encode()).hexdigest()


def test_tokens_by_digest_env_and_the_all_roles_token():
    auth = TokenAuth([ApiToken(name="ops", sha256=_sha("s3cret"), roles=("operator",)),
                      ApiToken(name="dash", env="DASH_TOK"), ApiToken(name="unset", env="NOT_SET"),
                      ApiToken(name="boss", sha256=_sha("boss"), roles=("admin",))],
                     all_roles_token="everything", environ={"DASH_TOK": "d"})
    assert auth.authenticate("s3cret").roles == {"operator"} and auth.authenticate("d").roles == {"viewer"}
    assert auth.authenticate("boss").roles == set(ROLES) and auth.authenticate("everything").roles == set(ROLES)
    assert auth.authenticate(None) is None and auth.authenticate("") is None and auth.authenticate("NOT_SET") is None
    assert auth.authorize("s3cret", "operator").name == "ops"
    with pytest.raises(PermissionDeniedError, match="'viewer' role"):
        auth.authorize("s3cret", "viewer")  # roles are not a ladder: operator is not viewer
    with pytest.raises(UnauthenticatedError):
        auth.authorize("wrong", "viewer")


def test_an_unknown_role_in_the_settings_is_refused():
    with pytest.raises(ValueError):
        ApiToken(name="x", sha256=_sha("x"), roles=("root",))


def test_the_legacy_security_token_variables_still_work():
    auth = TokenAuth.from_settings(ApiSettings(), {"AIOPS_SECURITY_RESPONDER_TOKEN": "r", "AIOPS_SECURITY_VIEWER_TOKEN": "v"})
    assert auth.authorize("r", "responder").name == "soc-responder"
    with pytest.raises(PermissionDeniedError):
        auth.authorize("v", "operator")


def test_aiops_up_makes_a_private_token_file_once_and_reuses_it(tmp_path):
    api = ApiSettings(token_file=tmp_path / "cfg" / "token")
    env: dict[str, str] = {}
    assert not token_configured(ApiSettings(), env)
    pinned, line = ensure_api_token(ApiSettings(), "127.0.0.1", {"XDG_CONFIG_HOME": str(tmp_path)})
    path = tmp_path / "aiops" / "token"
    assert str(path) in line and stat.S_IMODE(path.stat().st_mode) == 0o600
    token = path.read_text().strip()
    assert len(token) >= 40 and TokenAuth(pinned.tokens, environ={}).authorize(token, "admin").name == "api-token"
    again, line2 = ensure_api_token(ApiSettings(), "localhost", {"XDG_CONFIG_HOME": str(tmp_path)})
    assert path.read_text().strip() == token and "made" not in line2 and again == pinned
    assert api_headers(ApiSettings(), {"XDG_CONFIG_HOME": str(tmp_path)}) == {"Authorization": f"Bearer {token}"}
    assert api_headers(api, env) == {}  # an explicit file that does not exist: no token


def test_a_non_loopback_bind_needs_a_configured_token(tmp_path):
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    for host in ("0.0.0.0", "192.0.2.10", "::", "api.example.org"):
        with pytest.raises(TokenSetupError, match="refusing to serve"):
            ensure_api_token(ApiSettings(), host, env)
    assert not (tmp_path / "aiops" / "token").exists()  # nothing made for a refused start
    pinned, line = ensure_api_token(ApiSettings(), "0.0.0.0", {**env, "AIOPS_API_TOKEN": "t0k"})
    assert "AIOPS_API_TOKEN" in line and TokenAuth(pinned.tokens, environ={}).authenticate("t0k") is not None
    yaml_only = ApiSettings(tokens=(ApiToken(name="ops", sha256=_sha("o"), roles=("operator",)),))
    assert ensure_api_token(yaml_only, "0.0.0.0", env)[0] == yaml_only


def test_cli_refuses_a_public_bind_without_a_token(monkeypatch, tmp_path, capsys):
    from jobs.cli import main

    for var in ("AIOPS_API_TOKEN", "AIOPS_SECURITY_RESPONDER_TOKEN", "AIOPS_SECURITY_APPROVER_TOKEN", "AIOPS_SECURITY_VIEWER_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert main(["up", "--host", "0.0.0.0", "--port", "18999"]) == 2
    assert "refusing to serve on '0.0.0.0'" in capsys.readouterr().err


@pytest.mark.parametrize("host, loop", [("127.0.0.1", True), ("127.9.9.9", True), ("::1", True), ("[::1]", True),
                                        ("localhost", True), ("0.0.0.0", False), ("10.0.0.1", False), ("example", False)])
def test_is_loopback(host, loop):
    assert is_loopback(host) is loop

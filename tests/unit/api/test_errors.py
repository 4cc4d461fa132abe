"""The one error table: each domain error kind leaves the API with its status and the JSON error body."""
import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from aiops.api.app import create_app
from aiops.api.errors import ERROR_TABLE, status_of
from aiops.errors import (ConflictError, DomainError, InfeasibleError, InvalidRequestError, NotFoundError,
                          PermissionDeniedError, UnauthenticatedError, UnavailableError)
from aiops.features.definitions import DefinitionError
from aiops.features.shard import UnknownTarget
from aiops.settings import ServeSettings
from tests.unit.api.test_api_app import InMemoryService
from tests.unit.api.auth_helpers import HEADERS, test_auth


class NoFeasibleThing(InfeasibleError):
    code = "no_feasible_thing"

    def __init__(self, message: str, rejections: dict) -> None:
        super().__init__(message)
        self.details = {"rejections": rejections}


RAISED = {
    "missing": NotFoundError("unknown thing 'x'"),
    "invalid": InvalidRequestError("size must be positive"),
    "clash": ConflictError("already applied"),
    "denied": PermissionDeniedError("needs approval"),
    "anonymous": UnauthenticatedError("who are you"),
    "later": UnavailableError("no model deployed yet"),
    "infeasible": NoFeasibleThing("no node fits", {"cpu": 3}),
    "definition": DefinitionError("feature x: depends on unknown feature 'y'"),
    "target": UnknownTarget("unknown target 'h9'"),
}


@pytest.fixture(scope="module")
def client():
    r = APIRouter(prefix="/engine")

    @r.get("/raise/{what}")
    async def raise_it(what: str):
        raise RAISED[what]

    return TestClient(create_app(InMemoryService(), ServeSettings(), [r], auth=test_auth()), headers=HEADERS)


@pytest.mark.parametrize("what, status, code", [
    ("missing", 404, "not_found"), ("invalid", 422, "invalid_input"), ("clash", 409, "conflict"),
    ("denied", 403, "forbidden"), ("later", 503, "unavailable"), ("infeasible", 409, "no_feasible_thing"),
    ("definition", 422, "invalid_input"), ("target", 404, "not_found"), ("anonymous", 401, "unauthorized"),
])
def test_domain_errors_map_to_status_and_body(client, what, status, code):
    r = client.get(f"/api/ai/engine/raise/{what}")
    assert r.status_code == status
    assert r.json()["status"] == status and r.json()["error"] == code and r.json()["message"] == str(RAISED[what])
    assert ("retry-after" in r.headers) == (status == 503)
    assert (r.headers.get("www-authenticate") == "Bearer") == (status == 401)


def test_details_ride_along_and_every_kind_is_in_the_table(client):
    assert client.get("/api/ai/engine/raise/infeasible").json()["details"] == {"rejections": {"cpu": 3}}
    assert {kind for kind, _ in ERROR_TABLE} == {NotFoundError, InvalidRequestError, ConflictError, PermissionDeniedError,
                                                 UnavailableError, InfeasibleError, UnauthenticatedError}
    assert status_of(DomainError("not a kind")) == 500


def test_a_restarting_actor_is_a_503_with_retry_after_and_a_bug_stays_a_500():
    class RayActorError(Exception):  # stand-ins named like Ray's (this layer matches names, it imports no Ray)
        pass

    class ActorDiedError(RayActorError):
        pass

    r = APIRouter(prefix="/engine")

    @r.get("/died")
    async def died():
        raise ActorDiedError("the actor died unexpectedly before finishing this task")

    @r.get("/bug")
    async def bug():
        raise KeyError("oops")

    c = TestClient(create_app(InMemoryService(), ServeSettings(), [r], auth=test_auth()), headers=HEADERS,
                   raise_server_exceptions=False)
    died_r, bug_r = c.get("/api/ai/engine/died"), c.get("/api/ai/engine/bug")
    assert died_r.status_code == 503 and died_r.headers["retry-after"] == "5" and died_r.json()["error"] == "restarting"
    assert bug_r.status_code == 500 and "retry-after" not in bug_r.headers

"""Who may call what: 401 without a valid key on every /v1 route; on every session
route, 403 for another key of the same organization and 404 for another organization,
whose answer is that of a session that does not exist."""

import json

import pytest

from tests.support.dialog_sessions import (SPEC_EXAMPLE, count_messages, count_sessions,
                                           error, session_row)

pytestmark = pytest.mark.integration

UNKNOWN_SESSION = "dialog_0000000000000000"
BODIES = {"messages": {"message": "legal"}, "confirm": {}, "metadata": {"file_name": "a.txt"}}

# (method, path, body): every session route, {id} for the session's id.
SESSION_ROUTES = [
    ("GET", "/v1/dialog-sessions/{id}", None),
    ("POST", "/v1/dialog-sessions/{id}/messages", BODIES["messages"]),
    ("GET", "/v1/dialog-sessions/{id}/briefing-preview", None),
    ("POST", "/v1/dialog-sessions/{id}/confirm", BODIES["confirm"]),
    ("POST", "/v1/dialog-sessions/{id}/cancel", None),
    ("PATCH", "/v1/dialog-sessions/{id}/metadata", BODIES["metadata"]),
]
RESOURCE_ROUTES = [(method, path.format(kind=kind), body)
                   for kind in ("glossaries", "style-references", "presets", "templates")
                   for method, path, body in (
                       ("POST", "/v1/{kind}", {"name": "x"}),
                       ("GET", "/v1/{kind}", None),
                       ("GET", "/v1/{kind}/res_0000000000000000", None),
                       ("DELETE", "/v1/{kind}/res_0000000000000000", None))]
EVERY_ROUTE = [
    ("POST", "/v1/dialog-sessions", SPEC_EXAMPLE),
    *SESSION_ROUTES,
    ("GET", "/v1/jobs", None),
    ("GET", "/v1/jobs/job_0000000000000000", None),
    *RESOURCE_ROUTES,
    ("POST", "/v1/auth/token", None),
]
CREDENTIALS = {
    "no-key": {},
    "bad-x-api-key": {"X-API-Key": "pk_not-a-key"},
    "bad-bearer": {"Authorization": "Bearer not-a-key"},
    "forged-jwt": {"Authorization": "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
                                    "eyJzdWIiOiJrZXkiLCJleHAiOjQxMDI0NDQ4MDB9."
                                    "c2lnbmF0dXJl"},
}


def call(client, method: str, path: str, body, headers: dict):
    return client.open(path, method=method, json=body, headers=headers)


def route_id(route) -> str:
    return f"{route[0]} {route[1]}"


@pytest.mark.parametrize("route", EVERY_ROUTE, ids=route_id)
def test_every_route_without_a_valid_key_is_401(client, dialog, org, route):
    """No key, an unknown X-API-Key, an unknown bearer: 401, before anything else is
    looked at (the session in the path is a real one), and nothing changes."""
    session_id = dialog.create(**SPEC_EXAMPLE)["session_id"]
    method, path, body = route
    for headers in CREDENTIALS.values():
        error(call(client, method, path.format(id=session_id), body, headers), 401,
              "unauthorized")
    row = session_row(session_id)
    assert row.status == "active" and row.user_messages == 0 and row.file_name is None
    assert count_messages(session_id) == 1
    assert count_sessions(org["org_id"]) == 1


@pytest.mark.parametrize("route", SESSION_ROUTES, ids=route_id)
def test_another_key_of_the_same_organization_is_403(dialog, colleague, route):
    session_id = dialog.ready()["session_id"]
    method, path, body = route
    detail = error(colleague.request(method, path.format(id=session_id), body), 403)
    assert detail["code"] == "not_session_owner"
    # Nothing changed.
    row = session_row(session_id)
    assert row.status == "active" and row.user_messages == 0 and row.file_name is None
    assert count_messages(session_id) == 1


@pytest.mark.parametrize("route", SESSION_ROUTES, ids=route_id)
def test_an_unknown_or_another_organizations_session_is_404(dialog, stranger, route):
    """The same answer for both: another organization's session is never revealed."""
    theirs = stranger.ready()["session_id"]
    method, path, body = route
    unknown = error(dialog.request(method, path.format(id=UNKNOWN_SESSION), body), 404,
                    "session_not_found")
    found = error(dialog.request(method, path.format(id=theirs), body), 404)
    assert json.dumps(found).replace(theirs, "<id>") == \
        json.dumps(unknown).replace(UNKNOWN_SESSION, "<id>")
    row = session_row(theirs)
    assert row.status == "active" and row.user_messages == 0
    assert count_messages(theirs) == 1


def test_the_owner_and_bearer_or_x_api_key_are_the_same_caller(client, dialog, org):
    session_id = dialog.create(**SPEC_EXAMPLE)["session_id"]
    response = client.get(f"/v1/dialog-sessions/{session_id}",
                          headers={"X-API-Key": org["api_key"]})
    assert response.status_code == 200, response.get_json()

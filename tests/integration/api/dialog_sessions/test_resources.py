"""The organization's briefing resources (/v1/glossaries, /v1/style-references,
/v1/presets, /v1/templates): add, read, page and delete; and bearer tokens
(POST /v1/auth/token)."""

import re
from datetime import datetime, timedelta

import pytest

from tests.support.dialog_sessions import LEGAL_TERMS, SPEC_EXAMPLE, error

pytestmark = pytest.mark.integration

KINDS = {
    "glossaries": ("gls", lambda n: {"name": f"Legal {n}", "source_lang": "de",
                                     "target_lang": "en", "terms": LEGAL_TERMS}),
    "style-references": ("sty", lambda n: {"name": f"House {n}",
                                           "text": "Short sentences. No jargon."}),
    "presets": ("pre", lambda n: {"name": f"Contracts {n}",
                                  "briefing": {"domain": "legal", "tone": "formal"}}),
    "templates": ("tpl", lambda n: {"name": f"Shop {n}", "briefing": {
        "mode": "creation", "target_lang": "de", "content_type": "product description",
        "domain": "e-commerce", "tone": "friendly"}}),
}


def shown(body: dict) -> dict:
    return {key: value for key, value in body.items()
            if key not in ("id", "created_at", "updated_at")}


@pytest.mark.parametrize("path", KINDS)
def test_add_answers_201_and_get_shows_the_resource(dialog, path):
    prefix, make = KINDS[path]
    response = dialog.post(f"/v1/{path}", make(1))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert re.fullmatch(rf"{prefix}_[0-9a-z]+", body["id"]), body
    assert shown(body) == make(1)
    assert body["created_at"] and body["updated_at"]
    fetched = dialog.get(f"/v1/{path}/{body['id']}")
    assert fetched.status_code == 200, fetched.get_json()
    assert fetched.get_json() == body


@pytest.mark.parametrize("path", KINDS)
def test_list_pages_oldest_first_and_delete_takes_one_out(dialog, path):
    ids = [dialog.add(path, KINDS[path][1](n))["id"] for n in range(3)]
    first = dialog.get(f"/v1/{path}", limit=2).get_json()
    assert [item["id"] for item in first["data"]] == ids[:2]
    assert first["has_more"] is True and first["next_cursor"] == ids[1]
    second = dialog.get(f"/v1/{path}", limit=2, after=first["next_cursor"]).get_json()
    assert [item["id"] for item in second["data"]] == ids[2:]
    assert second["has_more"] is False and second["next_cursor"] is None

    response = dialog.request("DELETE", f"/v1/{path}/{ids[1]}")
    assert response.status_code == 204 and response.get_data() == b""
    error(dialog.get(f"/v1/{path}/{ids[1]}"), 404)
    error(dialog.request("DELETE", f"/v1/{path}/{ids[1]}"), 404)
    listed = dialog.get(f"/v1/{path}").get_json()["data"]
    assert [item["id"] for item in listed] == [ids[0], ids[2]]


def test_another_organizations_resources_are_404_and_not_listed(dialog, stranger):
    for path, (_, make) in KINDS.items():
        added = dialog.add(path, make(1))
        error(stranger.get(f"/v1/{path}/{added['id']}"), 404)
        error(stranger.request("DELETE", f"/v1/{path}/{added['id']}"), 404)
        assert stranger.get(f"/v1/{path}").get_json()["data"] == [], path
        assert dialog.get(f"/v1/{path}/{added['id']}").status_code == 200, path


def test_a_glossary_of_another_organization_cannot_be_preselected(dialog, stranger):
    theirs = stranger.glossary()
    response = dialog.post("/v1/dialog-sessions", {
        **SPEC_EXAMPLE, "context": {**SPEC_EXAMPLE["context"], "glossary_id": theirs["id"]}})
    assert "glossary_id" in error(response, 422)["details"]["json"]["context"]


# -- tokens -----------------------------------------------------------------------------------

def test_auth_token_returns_a_bearer_token(dialog):
    response = dialog.post("/v1/auth/token")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == {"access_token", "token_type", "expires_in", "expires_at"}
    assert body["token_type"] == "Bearer"
    # A JWT: three base64url parts.
    assert re.fullmatch(r"[\w-]+\.[\w-]+\.[\w-]*", body["access_token"]), body
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0
    expires_at = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    expected = datetime.now().astimezone() + timedelta(seconds=body["expires_in"])
    assert abs(expires_at - expected) < timedelta(seconds=30), body


def test_the_token_authenticates_as_its_key(dialog, client):
    session_id = dialog.create(**SPEC_EXAMPLE)["session_id"]
    token = dialog.post("/v1/auth/token").get_json()["access_token"]
    response = client.get(f"/v1/dialog-sessions/{session_id}",
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["session_id"] == session_id


def test_a_token_is_not_exchanged_for_another(dialog, client):
    token = dialog.post("/v1/auth/token").get_json()["access_token"]
    response = client.post("/v1/auth/token", headers={"Authorization": f"Bearer {token}"})
    error(response, 403, "api_key_required")

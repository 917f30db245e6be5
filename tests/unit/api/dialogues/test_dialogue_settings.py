"""The organization setting that makes dialogues immutable (`parley orgs
immutable-dialogues ORG on|off`)."""

import pytest

from app.errors import NotFound
from app.services import organizations


def test_immutable_dialogues_cannot_be_deleted_until_the_setting_is_off(client, auth, org_key):
    assert client.post("/dialogue", json={"id": "kept"}, headers=auth).status_code == 201
    organizations.set_dialogues_immutable(org_key["org_id"], True)

    refused = client.delete("/dialogue/kept", headers=auth)
    assert refused.status_code == 409
    assert refused.get_json()["code"] == "DIALOGUE_IMMUTABLE"
    assert client.get("/dialogue/kept", headers=auth).status_code == 200

    organizations.set_dialogues_immutable(org_key["org_id"], False)
    assert client.delete("/dialogue/kept", headers=auth).get_json() == {
        "success": True, "id": "kept"}


def test_the_setting_of_an_unknown_organization_is_not_found(app):
    with pytest.raises(NotFound):
        organizations.set_dialogues_immutable("org_missing", True)

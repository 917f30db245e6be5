"""Data sets on the dialogue store face (a Parley extension): `dataSetId` in the create
and update bodies and in the dialogue's representation, refused with 404
DATA_SET_NOT_FOUND when it is not the caller's; and the data set a question asked in
the dialogue (through a conversation service session) is answered from."""

import pytest

from app.extensions import db
from app.models import Conversation
from app.services import language_models
from tests.support.conversation_service import OFFLINE_MODEL_ID, Api
from tests.support.data import SLA_QUESTION
from tests.support.work import answer


@pytest.fixture
def foreign_data_set(client, other_auth) -> int:
    response = client.post("/api/data_sets", json={"name": "Theirs"}, headers=other_auth)
    return response.get_json()["id"]


def create(client, auth, **body):
    return client.post("/dialogue", json=body, headers=auth)


def update(client, auth, dialogue_id: str, **body):
    return client.put(f"/dialogue/{dialogue_id}", json=body, headers=auth)


def refused(response, status: int, code: str) -> dict:
    body = response.get_json()
    assert response.status_code == status, body
    assert body["code"] == code and body["message"] and body["requestId"], body
    return body


def data_set_of(dialogue_id: str) -> int | None:
    db.session.expire_all()
    return db.session.query(Conversation.data_set_id).filter_by(
        public_id=dialogue_id).scalar()


# -- create and read ----------------------------------------------------------------------------

def test_a_dialogue_created_with_a_data_set_shows_it(client, auth, data_set_id):
    created = create(client, auth, id="plans", dataSetId=data_set_id)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["dataSetId"] == data_set_id
    assert client.get("/dialogue/plans", headers=auth).get_json()["dataSetId"] == data_set_id
    [listed] = client.get("/dialogue", headers=auth).get_json()["items"]
    assert listed["dataSetId"] == data_set_id


@pytest.mark.parametrize("body", [{}, {"dataSetId": None}], ids=["absent", "null"])
def test_a_dialogue_without_a_data_set_leaves_the_field_out(client, auth, body):
    created = create(client, auth, id="plain", **body)
    assert created.status_code == 201, created.get_json()
    assert "dataSetId" not in created.get_json()
    assert data_set_of("plain") is None


def test_a_data_set_of_another_organization_is_404_and_nothing_is_stored(
        client, auth, foreign_data_set):
    body = refused(create(client, auth, id="theirs", dataSetId=foreign_data_set), 404,
                   "DATA_SET_NOT_FOUND")
    assert str(foreign_data_set) in body["message"]
    assert client.get("/dialogue/theirs", headers=auth).status_code == 404


def test_an_unknown_data_set_is_404(client, auth):
    refused(create(client, auth, dataSetId=424242), 404, "DATA_SET_NOT_FOUND")


@pytest.mark.parametrize("value", ["1", 0, -1, 2.5, False, 2**31],
                         ids=["string", "zero", "negative", "float", "bool", "huge"])
def test_a_malformed_data_set_id_is_400(client, auth, value):
    body = refused(create(client, auth, dataSetId=value), 400, "INVALID_INPUT")
    assert "dataSetId" in body["errors"]["json"]


# -- update -------------------------------------------------------------------------------------

def test_update_attaches_changes_keeps_and_detaches_the_data_set(client, auth, data_set_id):
    second = client.post("/api/data_sets", json={"name": "Second"},
                         headers=auth).get_json()["id"]
    create(client, auth, id="d")

    attached = update(client, auth, "d", dataSetId=data_set_id)
    assert attached.status_code == 200, attached.get_json()
    assert attached.get_json()["dataSetId"] == data_set_id
    assert update(client, auth, "d", dataSetId=second).get_json()["dataSetId"] == second
    assert update(client, auth, "d", tags=["x"]).get_json()["dataSetId"] == second
    detached = update(client, auth, "d", dataSetId=None).get_json()
    assert "dataSetId" not in detached and data_set_of("d") is None


def test_update_with_another_organizations_data_set_is_404_and_changes_nothing(
        client, auth, data_set_id, foreign_data_set):
    create(client, auth, id="d", dataSetId=data_set_id, tags=["before"])
    refused(update(client, auth, "d", dataSetId=foreign_data_set, tags=["after"]), 404,
            "DATA_SET_NOT_FOUND")
    shown = client.get("/dialogue/d", headers=auth).get_json()
    assert (shown["dataSetId"], shown["tags"]) == (data_set_id, ["before"])


def test_update_of_an_ended_dialogue_is_409_and_keeps_its_data_set(client, auth,
                                                                   data_set_id):
    create(client, auth, id="d")
    assert client.post("/dialogue/d/end", headers=auth).status_code == 200
    refused(update(client, auth, "d", dataSetId=data_set_id), 409, "DIALOGUE_ENDED")
    assert data_set_of("d") is None


# -- the data set a question in the dialogue is answered from -----------------------------------

def test_a_session_on_the_dialogue_answers_from_its_data_set(app, client, auth, org_key,
                                                             data_set_id):
    language_models.sync_configured(app.config)
    api = Api(client, auth, org_key["org_id"])
    create(client, auth, id="support-1", dataSetId=data_set_id)
    session = api.session("support-1", OFFLINE_MODEL_ID)

    work = answer(api.chat(session["id"], SLA_QUESTION))
    assert work.data_set_name == "Plans" and work.passages

    update(client, auth, "support-1", dataSetId=None)
    work = answer(api.chat(session["id"], SLA_QUESTION))
    assert work.data_set_name is None and work.passages == []

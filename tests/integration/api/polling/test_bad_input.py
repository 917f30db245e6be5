"""Bad requests to the polling face, on BOTH databases (tests/integration/api/conftest.py):
each gets a JSON error {code, status, message} with the right status, a message naming
the field, and changes nothing. No response here may be a 500."""

import json
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from app.models import Conversation, DataSet, Document, Message, Passage, Task
from tests.support.data import SLA_QUESTION

pytestmark = pytest.mark.integration
QUESTION = SLA_QUESTION
MAX_QUESTION = 10_000


def counts(db) -> dict:
    """Row counts seen by a fresh connection: what is committed."""
    with db.engine.connect() as connection:
        return {model.__tablename__: connection.scalar(select(func.count()).select_from(model))
                for model in (DataSet, Document, Passage, Conversation, Message, Task)}


@contextmanager
def changes_nothing(db):
    before = counts(db)
    yield
    assert counts(db) == before


def assert_error(response, status: int, names: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.is_json, response.get_data(as_text=True)[:500]
    body = response.get_json()
    assert body["code"] == status
    assert isinstance(body["status"], str) and body["status"]
    assert isinstance(body["message"], str) and body["message"]
    if names is not None:
        assert names in body["message"]
    return body


def post_question(client, auth, conversation_id, body):
    return client.post(f"/api/conversations/{conversation_id}", json=body, headers=auth)


def post_raw(client, auth, path, data, content_type="application/json"):
    return client.post(path, data=data, content_type=content_type, headers=auth)


@pytest.fixture
def paths(data_set_id, conversation_id) -> dict:
    """Every POST endpoint of the polling face, by name."""
    return {"data_sets": "/api/data_sets",
            "documents": f"/api/data_sets/{data_set_id}/documents",
            "conversations": "/api/conversations",
            "question": f"/api/conversations/{conversation_id}"}


@pytest.fixture
def task_id(client, auth, conversation_id):
    response = post_question(client, auth, conversation_id, {"question_message": QUESTION})
    return response.get_json()["task_id"]


# -- malformed and wrong-shaped bodies -------------------------------------------------


@pytest.mark.parametrize("endpoint", ["data_sets", "documents", "conversations", "question"])
def test_malformed_json_is_400(client, auth, db, paths, endpoint):
    with changes_nothing(db):
        response = post_raw(client, auth, paths[endpoint], '{"question_message": "hi",')

    assert_error(response, 400)


@pytest.mark.parametrize("endpoint", ["data_sets", "documents", "conversations", "question"])
def test_json_array_body_is_422(client, auth, db, paths, endpoint):
    with changes_nothing(db):
        response = post_raw(client, auth, paths[endpoint], json.dumps([{"name": "x"}]))

    assert_error(response, 422)


@pytest.mark.parametrize("body", [
    pytest.param({}, id="missing"),
    pytest.param({"question_message": None}, id="null"),
    pytest.param({"question_message": 42}, id="number"),
    pytest.param({"question_message": ["a question"]}, id="list"),
    pytest.param({"question_message": ""}, id="empty"),
    pytest.param({"question_message": "x" * (MAX_QUESTION + 1)}, id="10001-chars"),
])
def test_bad_question_message_is_422_naming_the_field(client, auth, db, conversation_id, body):
    with changes_nothing(db):
        response = post_question(client, auth, conversation_id, body)

    assert_error(response, 422, names="question_message")


def test_question_of_exactly_10000_chars_is_accepted(client, auth, db, conversation_id):
    response = post_question(client, auth, conversation_id,
                             {"question_message": "x" * MAX_QUESTION})

    assert response.status_code == 202
    text = db.session.scalar(select(Message.text).order_by(Message.id.desc()))
    assert len(text) == MAX_QUESTION


@pytest.mark.parametrize("value", ["1", 1.5, True, [1], {"id": 1}],
                         ids=["string", "float", "bool", "list", "object"])
def test_question_data_set_id_of_wrong_type_is_422(client, auth, db, conversation_id, value):
    with changes_nothing(db):
        response = post_question(client, auth, conversation_id,
                                 {"question_message": QUESTION, "data_set_id": value})

    assert_error(response, 422, names="data_set_id")


@pytest.mark.parametrize("value", ["1", 1.5, True, None], ids=["string", "float", "bool", "null"])
def test_conversation_data_set_id_of_wrong_type_is_422(client, auth, db, data_set_id, value):
    with changes_nothing(db):
        response = client.post("/api/conversations", json={"data_set_id": value}, headers=auth)

    assert_error(response, 422, names="data_set_id")


def test_conversation_without_data_set_id_is_422(client, auth, db, data_set_id):
    with changes_nothing(db):
        response = client.post("/api/conversations", json={}, headers=auth)

    assert_error(response, 422, names="data_set_id")


def test_unknown_field_in_question_is_422_naming_it(client, auth, db, conversation_id):
    with changes_nothing(db):
        response = post_question(client, auth, conversation_id,
                                 {"question_message": QUESTION, "colour": "red"})

    assert_error(response, 422, names="colour")


def test_unknown_field_in_data_set_is_422_naming_it(client, auth, db):
    with changes_nothing(db):
        response = client.post("/api/data_sets", json={"name": "Plans", "owner": "me"},
                               headers=auth)

    assert_error(response, 422, names="owner")


def test_data_set_without_name_is_422_naming_it(client, auth, db):
    with changes_nothing(db):
        response = client.post("/api/data_sets", json={"description": "x"}, headers=auth)

    assert_error(response, 422, names="name")


@pytest.mark.parametrize("body,field", [
    ({"content": "text"}, "title"),
    ({"title": "T"}, "content"),
    ({"title": "", "content": "text"}, "title"),
    ({"title": "T", "content": 5}, "content"),
])
def test_bad_document_json_is_422_naming_the_field(client, auth, db, data_set_id, body, field):
    with changes_nothing(db):
        response = client.post(f"/api/data_sets/{data_set_id}/documents", json=body,
                               headers=auth)

    body = assert_error(response, 422)
    assert field in body["message"] or field in json.dumps(body.get("errors", {}))


# -- unknown ids -------------------------------------------------------------------------


@pytest.mark.parametrize("method,path", [
    ("get", "/api/conversations/999"),
    ("get", "/api/data_sets/999"),
    ("get", "/api/data_sets/999/documents"),
    ("get", "/api/task_status/00000000-0000-0000-0000-000000000000"),
])
def test_unknown_id_is_404(client, auth, db, data_set_id, method, path):
    with changes_nothing(db):
        response = getattr(client, method)(path, headers=auth)

    assert_error(response, 404)


def test_question_to_unknown_conversation_is_404(client, auth, db, conversation_id):
    with changes_nothing(db):
        response = post_question(client, auth, 999, {"question_message": QUESTION})

    assert_error(response, 404, names="999")


def test_question_with_unknown_data_set_is_404(client, auth, db, conversation_id):
    with changes_nothing(db):
        response = post_question(client, auth, conversation_id,
                                 {"question_message": QUESTION, "data_set_id": 999})

    assert_error(response, 404, names="999")


def test_conversation_over_unknown_data_set_is_404(client, auth, db, data_set_id):
    with changes_nothing(db):
        response = client.post("/api/conversations", json={"data_set_id": 999}, headers=auth)

    assert_error(response, 404, names="999")


def test_document_for_unknown_data_set_is_404(client, auth, db, data_set_id):
    with changes_nothing(db):
        response = client.post("/api/data_sets/999/documents",
                               json={"title": "T", "content": "text"}, headers=auth)

    assert_error(response, 404)


def test_non_integer_conversation_id_is_404(client, auth, db, conversation_id):
    with changes_nothing(db):
        response = post_question(client, auth, "abc", {"question_message": QUESTION})

    assert_error(response, 404)


def test_conversation_id_too_large_for_the_database_is_404(client, auth, db, conversation_id):
    with changes_nothing(db):
        response = client.get(f"/api/conversations/{2 ** 64}", headers=auth)

    assert_error(response, 404)


def test_data_set_id_too_large_for_the_database_is_422_naming_it(client, auth, db,
                                                                  data_set_id):
    # An id in the path that no row can have matches no route (404, as above); in a
    # body it is a field whose value is out of its range, like any other bad field.
    with changes_nothing(db):
        response = client.post("/api/conversations", json={"data_set_id": 2 ** 64}, headers=auth)

    assert_error(response, 422, names="data_set_id")


# -- other organizations ------------------------------------------------------------------


def test_other_organizations_conversation_is_404(client, other_auth, db, conversation_id):
    response = client.get(f"/api/conversations/{conversation_id}", headers=other_auth)

    assert_error(response, 404)


def test_question_to_other_organizations_conversation_is_404(
        client, other_auth, db, conversation_id):
    with changes_nothing(db):
        response = post_question(client, other_auth, conversation_id,
                                 {"question_message": QUESTION})

    assert_error(response, 404)


def test_other_organizations_data_set_is_404(client, other_auth, data_set_id):
    response = client.get(f"/api/data_sets/{data_set_id}", headers=other_auth)

    assert_error(response, 404)


def test_other_organizations_data_sets_are_not_listed(client, other_auth, data_set_id):
    response = client.get("/api/data_sets", headers=other_auth)

    assert response.status_code == 200
    assert response.get_json() == []


def test_other_organizations_documents_are_404(client, other_auth, data_set_id):
    response = client.get(f"/api/data_sets/{data_set_id}/documents", headers=other_auth)

    assert_error(response, 404)


def test_document_into_other_organizations_data_set_is_404(client, other_auth, db, data_set_id):
    with changes_nothing(db):
        response = client.post(f"/api/data_sets/{data_set_id}/documents",
                               json={"title": "T", "content": "text"}, headers=other_auth)

    assert_error(response, 404)


def test_other_organizations_task_is_404(client, other_auth, task_id):
    response = client.get(f"/api/task_status/{task_id}", headers=other_auth)

    assert_error(response, 404)


def test_conversation_over_other_organizations_data_set_is_404(
        client, other_auth, db, data_set_id):
    with changes_nothing(db):
        response = client.post("/api/conversations", json={"data_set_id": data_set_id},
                               headers=other_auth)

    assert_error(response, 404)


def test_question_over_other_organizations_data_set_is_404(client, auth, other_auth, db):
    other_data_set = client.post("/api/data_sets", json={"name": "Theirs"},
                                 headers=other_auth).get_json()["id"]
    mine = client.post("/api/data_sets", json={"name": "Mine"}, headers=auth).get_json()["id"]
    conversation = client.post("/api/conversations", json={"data_set_id": mine},
                               headers=auth).get_json()["id"]

    with changes_nothing(db):
        response = post_question(client, auth, conversation,
                                 {"question_message": QUESTION, "data_set_id": other_data_set})

    assert_error(response, 404)


# -- transport-level errors --------------------------------------------------------------


def test_body_over_max_content_length_is_413(client, auth, db, app, conversation_id):
    too_big = json.dumps({"question_message": "x" * app.config["MAX_CONTENT_LENGTH"]})

    with changes_nothing(db):
        response = post_raw(client, auth, f"/api/conversations/{conversation_id}", too_big)

    assert_error(response, 413)


def test_upload_over_max_content_length_is_413(client, auth, db, app, data_set_id):
    import io

    with changes_nothing(db):
        response = client.post(
            f"/api/data_sets/{data_set_id}/documents",
            data={"file": (io.BytesIO(b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)), "a.txt")},
            content_type="multipart/form-data", headers=auth)

    assert_error(response, 413)


@pytest.mark.parametrize("method,path", [
    ("delete", "/api/conversations/1"),
    ("put", "/api/data_sets"),
    ("post", "/api/task_status/abc"),
])
def test_wrong_method_is_405(client, auth, db, conversation_id, method, path):
    with changes_nothing(db):
        response = getattr(client, method)(path, headers=auth)

    assert_error(response, 405)


@pytest.mark.parametrize("path", ["/api/nowhere", "/nowhere", "/api/conversations/1/messages"])
def test_unknown_path_is_404(client, auth, path):
    assert_error(client.get(path, headers=auth), 404)


# -- fuzz: odd bodies to every POST endpoint ---------------------------------------------

BASES = {
    "data_sets": {"name": "Plans", "description": "Fibre plans"},
    "documents": {"title": "Manual", "content": "Hold the reset button."},
    "conversations": {"data_set_id": "DATA_SET"},
    "question": {"question_message": QUESTION, "data_set_id": "DATA_SET"},
}
INT_FIELDS = {"data_set_id"}
NESTED = {"a": {"b": [1, {"c": None}, [[[]]]]}}
UNICODE = "h\u00e9llo \u4e16\u754c \U0001F4AC \u0645\u0631\u062d\u0628\u0627 \u202e\u200b"


def _fill(base: dict, data_set_id: int, *, ints=None, strings=None, every=None) -> dict:
    body = {}
    for field, value in base.items():
        value = data_set_id if value == "DATA_SET" else value
        if every is not None:
            value = every
        elif ints is not None and field in INT_FIELDS:
            value = ints
        elif strings is not None and field not in INT_FIELDS:
            value = strings
        body[field] = value
    return body


# Each case: base body, data set id -> (raw body, content type).
FUZZ = {
    "null": lambda base, ds: ("null", "application/json"),
    "number": lambda base, ds: ("-1.5e308", "application/json"),
    "4301-digit-number": lambda base, ds: ("1" + "0" * 4300, "application/json"),
    "huge-ints": lambda base, ds: (
        json.dumps(_fill(base, ds, ints=2 ** 64) if INT_FIELDS & set(base)
                   else _fill(base, ds, every=2 ** 64)), "application/json"),
    "nested-objects": lambda base, ds: (json.dumps(_fill(base, ds, every=NESTED)),
                                        "application/json"),
    "deeply-nested": lambda base, ds: ("[" * 5000 + "]" * 5000, "application/json"),
    "unicode": lambda base, ds: (json.dumps(_fill(base, ds, strings=UNICODE)),
                                 "application/json"),
    "lone-surrogate": lambda base, ds: (json.dumps(_fill(base, ds, strings="\ud800")),
                                        "application/json"),
    "text-plain": lambda base, ds: (json.dumps(_fill(base, ds)), "text/plain"),
}


@pytest.mark.parametrize("case", list(FUZZ))
@pytest.mark.parametrize("endpoint", list(BASES))
def test_fuzz_post_never_500(client, auth, paths, data_set_id, endpoint, case):
    data, content_type = FUZZ[case](BASES[endpoint], data_set_id)

    response = post_raw(client, auth, paths[endpoint], data, content_type)

    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    assert response.is_json
    assert isinstance(response.get_json(), dict)


@pytest.mark.parametrize("endpoint", ["data_sets", "documents", "conversations", "question"])
def test_a_body_that_is_not_json_is_415(client, auth, db, paths, endpoint):
    with changes_nothing(db):
        response = post_raw(client, auth, paths[endpoint], '{"name": "x"}', "text/plain")

    assert_error(response, 415)


@pytest.mark.parametrize("endpoint,body", [
    ("question", {"question_message": " \n\t "}),
    ("data_sets", {"name": "   "}),
    ("documents", {"title": "Blank", "content": "  \n  "}),
])
def test_blank_text_is_422_naming_the_field(client, auth, db, paths, endpoint, body):
    with changes_nothing(db):
        response = client.post(paths[endpoint], json=body, headers=auth)

    assert_error(response, 422, names=next(iter(body)) if endpoint != "documents" else "content")

"""@blp.idempotent (app/api/face.py), seen from outside on SQLite: an Idempotency-Key
makes a creating POST run once, its answer replayed with Idempotent-Replayed: true; each
face answers a reused key, a key in use and a malformed key in its own error shape; what
is kept and what releases the key; and every decorated operation documents it all.
(Both databases, threads, streams and Redis: tests/integration/api/test_idempotent_submits.py.)"""

import io
import json

import pytest
from sqlalchemy import func, select

from app.errors import Conflict
from app.models import DataSet, Document, IdempotencyKey
from app.services import data_sets, idempotency

BODY = json.dumps({"name": "Plans"}).encode()

# Every operation that takes an Idempotency-Key, as the document names it.
IDEMPOTENT = {
    ("post", "/api/data_sets"), ("post", "/api/data_sets/{data_set_id}/documents"),
    ("post", "/api/conversations"), ("post", "/api/conversations/{conversation_id}"),
    ("post", "/dialogue"), ("post", "/dialogue/{dialogue_id}/{action}"),
    ("post", "/api/conversation/create"), ("post", "/api/conversation/create_session"),
    ("post", "/api/conversation/stream_chat"),
    ("post", "/v1/dialog-sessions"), ("post", "/v1/dialog-sessions/{session_id}/messages"),
    ("post", "/v1/dialog-sessions/{session_id}/confirm"),
    ("post", "/v1/glossaries"), ("post", "/v1/style-references"), ("post", "/v1/presets"),
    ("post", "/v1/templates"), ("post", "/api/batches"),
}


def create(client, auth, key: str | None = "key-1", body: bytes = BODY, **headers):
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/api/data_sets", data=body, content_type="application/json",
                       headers={**auth, **headers})


def data_set_count(db, org_id: str) -> int:
    return db.session.scalar(select(func.count()).select_from(DataSet)
                             .where(DataSet.org_id == org_id))


def test_without_a_key_every_post_creates(db, client, auth, org_key):
    statuses = [create(client, auth, None).status_code for _ in range(2)]

    assert statuses == [201, 201]
    assert data_set_count(db, org_key["org_id"]) == 2
    assert db.session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0


def test_the_same_request_again_is_the_first_answer_replayed(db, client, auth, org_key):
    first = create(client, auth)
    again = create(client, auth)

    assert first.status_code == again.status_code == 201
    assert again.get_data() == first.get_data()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.mimetype == "application/json"
    assert "Idempotent-Replayed" not in first.headers
    assert data_set_count(db, org_key["org_id"]) == 1


def test_another_body_with_the_key_is_422_and_creates_nothing(db, client, auth, org_key):
    create(client, auth)

    reused = create(client, auth, body=json.dumps({"name": "Other"}).encode())

    assert reused.status_code == 422
    assert reused.get_json()["code"] == 422
    assert "another request" in reused.get_json()["message"]
    assert data_set_count(db, org_key["org_id"]) == 1


def test_another_path_with_the_key_is_422(client, auth, data_set_id):
    create(client, auth)

    reused = client.post(f"/api/data_sets/{data_set_id}/documents", headers={
        **auth, "Idempotency-Key": "key-1"}, json={"title": "T", "content": "Text."})

    assert reused.status_code == 422


def test_the_same_request_while_the_first_runs_is_409(db, client, auth, org_key):
    fingerprint = idempotency.fingerprint("POST", "/api/data_sets", [], "application/json",
                                          BODY)
    idempotency.begin(org_key["org_id"], "key-1", fingerprint)  # a request being handled

    busy = create(client, auth)

    assert busy.status_code == 409
    assert "still being handled" in busy.get_json()["message"]
    assert data_set_count(db, org_key["org_id"]) == 0


@pytest.mark.parametrize("key", ["", "x" * 256, "two words"])
def test_a_malformed_key_is_400_and_creates_nothing(db, client, auth, org_key, key):
    refused = create(client, auth, key)

    assert refused.status_code == 400
    assert "Idempotency-Key" in refused.get_json()["errors"]["headers"]
    assert data_set_count(db, org_key["org_id"]) == 0


def test_a_final_error_is_kept_and_replayed(client, auth):
    first = client.post("/api/conversations/999", json={"question_message": "Hi?"},
                        headers={**auth, "Idempotency-Key": "q"})
    again = client.post("/api/conversations/999", json={"question_message": "Hi?"},
                        headers={**auth, "Idempotency-Key": "q"})

    assert first.status_code == again.status_code == 404
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"


def test_bad_input_is_kept_too(client, auth):
    first = create(client, auth, body=b'{"name": ')
    again = create(client, auth, body=b'{"name": ')

    assert first.status_code == again.status_code == 400
    assert again.headers["Idempotent-Replayed"] == "true"


def test_a_server_error_releases_the_key(db, client, auth, org_key, monkeypatch):
    def broken(*_, **__):
        raise RuntimeError("the disk is full")

    with monkeypatch.context() as patched:
        patched.setattr(data_sets, "create_data_set", broken)
        assert create(client, auth).status_code == 500

    retried = create(client, auth)

    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers
    assert data_set_count(db, org_key["org_id"]) == 1


def test_a_conflict_releases_the_key(db, client, auth, org_key, monkeypatch):
    def conflict(*_, **__):
        raise Conflict("Busy.")

    with monkeypatch.context() as patched:
        patched.setattr(data_sets, "create_data_set", conflict)
        assert create(client, auth).status_code == 409

    assert create(client, auth).status_code == 201
    assert data_set_count(db, org_key["org_id"]) == 1


def test_the_same_upload_again_is_replayed_whatever_its_boundary(db, client, auth,
                                                                 data_set_id):
    def upload():
        return client.post(f"/api/data_sets/{data_set_id}/documents",
                           headers={**auth, "Idempotency-Key": "upload"},
                           data={"file": (io.BytesIO(b"# Notes\n\nThe router has an SLA."),
                                          "notes.md")},
                           content_type="multipart/form-data")

    first, again = upload(), upload()

    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert db.session.scalar(select(func.count()).select_from(Document).where(
        Document.data_set_id == data_set_id, Document.title == "notes")) == 1


def test_the_dialogue_store_answers_in_its_shape_and_codes(client, auth):
    headers = {**auth, "Idempotency-Key": "d"}
    client.post("/dialogue", json={"messages": []}, headers=headers)

    reused = client.post("/dialogue", json={"id": "other", "messages": []}, headers=headers)
    malformed = client.post("/dialogue", json={"messages": []},
                            headers={**auth, "Idempotency-Key": "a b"})

    assert reused.status_code == 400
    assert reused.get_json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert reused.get_json()["requestId"]
    assert malformed.status_code == 400
    assert malformed.get_json()["code"] == "IDEMPOTENCY_KEY_INVALID"


def test_the_dialog_sessions_face_answers_in_its_shape_and_codes(client, auth, org_key):
    headers = {**auth, "Idempotency-Key": "s"}
    client.post("/v1/dialog-sessions", json={"mode": "translation"}, headers=headers)
    fingerprint = idempotency.fingerprint("POST", "/v1/glossaries", [], "application/json",
                                          b"{}")
    idempotency.begin(org_key["org_id"], "g", fingerprint)

    reused = client.post("/v1/dialog-sessions", json={"mode": "creation"}, headers=headers)
    busy = client.post("/v1/glossaries", data=b"{}", content_type="application/json",
                       headers={**auth, "Idempotency-Key": "g"})

    assert (reused.status_code, reused.get_json()["error"]["code"]) == (
        422, "idempotency_key_reused")
    assert (busy.status_code, busy.get_json()["error"]["code"]) == (
        409, "idempotency_key_in_use")


def test_the_conversation_service_answers_a_reused_key_400(client, auth, org_key):
    def post(title: str):
        return client.post("/api/conversation/create", json={"title": title},
                           query_string={"org_id": org_key["org_id"]},
                           headers={**auth, "Idempotency-Key": "c"})

    assert post("One").status_code == 201
    reused = post("Two")

    assert reused.status_code == 400
    assert reused.get_json()["code"] == 400


# -- the OpenAPI document ---------------------------------------------------------------------

@pytest.fixture
def document(client):
    return client.get("/openapi.json").get_json()


def test_the_idempotent_operations_are_those_of_the_brief(document):
    documented = {(method, path) for path, item in document["paths"].items()
                  for method, operation in item.items() if method != "parameters"
                  if any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))}

    assert documented == IDEMPOTENT


@pytest.mark.parametrize("method, path", sorted(IDEMPOTENT))
def test_each_documents_the_header_its_replay_and_its_errors(document, method, path):
    operation = document["paths"][path][method]
    (header,) = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
    responses = operation["responses"]
    successes = [status for status in responses if status.startswith("2")]
    # Faces answering every bad input 400 document the reused key as 400.
    reused = "400" if path.startswith(("/dialogue", "/api/conversation/")) else "422"

    assert header["in"] == "header" and not header["required"]
    assert header["schema"]["maxLength"] == 255
    assert {"400", "409", reused} <= set(responses)
    assert successes and all("Idempotent-Replayed" in responses[s]["headers"]
                             for s in successes)
    assert "Idempotent-Replayed" in responses["404" if "404" in responses else "400"][
        "headers"]
    assert "Idempotent-Replayed" not in responses["409"].get("headers", {})
    assert "Idempotent-Replayed" not in responses["401"].get("headers", {})


def test_the_streams_keep_their_event_stream_beside_the_header(document):
    for path in ("/api/conversation/stream_chat", "/v1/dialog-sessions/{session_id}/messages"):
        ok = document["paths"][path]["post"]["responses"]["200"]
        assert list(ok["content"]) == ["text/event-stream"], path
        assert ok["description"].startswith("Server-Sent Events"), path
        assert "Idempotent-Replayed" in ok["headers"], path

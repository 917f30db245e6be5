"""Every face is built by FaceBlueprint (app/api/face.py): what it gives each face, seen
from outside (the served document, the answers)."""

import pytest

from app.api.face import ErrorFormat

ERROR = "#/components/schemas/Error"
DIALOGUE_ERROR = "#/components/schemas/DialogueError"


@pytest.fixture
def document(client):
    return client.get("/openapi.json").get_json()


def operations(document, prefix: str):
    return [(f"{method.upper()} {path}", operation)
            for path, item in document["paths"].items() if path.startswith(prefix)
            for method, operation in item.items() if method != "parameters"]


def error_refs(operation) -> dict[str, str]:
    return {status: response["content"]["application/json"]["schema"]["$ref"]
            for status, response in operation["responses"].items()
            if status == "default" or status[0] in "45"
            if "application/json" in response.get("content", {})}


def test_the_dialogue_store_documents_its_own_error_body(document):
    for name, operation in operations(document, "/dialogue"):
        refs = error_refs(operation)
        gunicorn = {status: refs.pop(status) for status in ("414", "431")}
        assert set(refs.values()) == {DIALOGUE_ERROR}, name
        assert set(gunicorn.values()) == {ERROR}, name  # answered before the face


def test_the_other_faces_document_the_common_error_body(document):
    for name, operation in operations(document, "/api/"):
        refs = error_refs(operation)
        refs.pop("410", None)  # the task events' own, an Error with more fields
        assert set(refs.values()) == {ERROR}, name


def test_faces_that_answer_bad_input_400_document_no_422(document):
    for prefix in ("/dialogue", "/api/conversation/", "/api/models"):
        for name, operation in operations(document, prefix):
            assert "422" not in operation["responses"], name


def test_an_operation_documents_what_its_inputs_can_answer(document):
    create = document["paths"]["/api/data_sets"]["post"]["responses"]
    listing = document["paths"]["/api/data_sets"]["get"]["responses"]

    assert {"400", "401", "413", "415", "422", "503", "default"} <= set(create)
    assert {"400", "413", "415", "422"}.isdisjoint(listing)


def test_the_org_check_is_documented_on_every_conversation_service_operation(document):
    for name, operation in operations(document, "/api/conversation/") + operations(
            document, "/api/models"):
        org_ids = [p for p in operation["parameters"] if p["name"] == "org_id"]
        assert len(org_ids) == 1 and org_ids[0]["required"], name
        assert {"400", "403"} <= set(operation["responses"]), name


def test_the_event_streams_document_their_events(document):
    for path, method in (("/api/conversation/stream_chat", "post"),
                         ("/api/tasks/{task_id}/events", "get")):
        ok = document["paths"][path][method]["responses"]["200"]["content"]
        event = ok["text/event-stream"]["schema"]
        assert list(ok) == ["text/event-stream"]
        assert event["required"] == ["id", "event", "data"]
    expired = document["paths"]["/api/tasks/{task_id}/events"]["get"]["responses"]["410"]
    assert expired["content"]["application/json"]["schema"]["$ref"].endswith(
        "/EventsExpired")


def test_flask_smorests_own_error_responses_are_gone(document):
    assert "responses" not in document["components"]


def test_every_face_requires_a_key(client):
    for method, path in (("GET", "/api/data_sets"), ("GET", "/api/tasks/x/events"),
                         ("GET", "/dialogue"), ("GET", "/api/models?org_id=x")):
        assert client.open(path, method=method).status_code == 401, path


def test_the_longest_registered_path_picks_the_error_body(client, auth):
    service = client.get("/api/conversation/nowhere", headers=auth)
    polling = client.get("/api/nowhere", headers=auth)
    dialogue = client.get("/dialogue/a/b/c/d", headers=auth)

    assert service.get_json()["code"] == polling.get_json()["code"] == 404
    assert dialogue.get_json()["code"] == "NOT_FOUND"


def test_an_error_format_answers_its_specs_status():
    every_bad_input_400 = ErrorFormat(statuses={422: 400},
                                      body=lambda status, message, errors, code: {
                                          "status": status, "message": message})

    assert every_bad_input_400.answer(422, "bad", None, None) == (
        400, {"status": 400, "message": "bad"})
    assert every_bad_input_400.answer(404, "gone", None, None)[0] == 404

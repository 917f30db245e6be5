"""Data sets on the conversation service and the dialogue store, on the real path: the
API (in-process) → PostgreSQL + Redis → a Celery worker process answering with the
offline model, the reply relayed by stream_chat from the task's Redis stream."""

import pytest

from app.services import language_models, organizations
from tests.support.conversation_service import OFFLINE_MODEL_ID, Api, sse_events
from tests.support.data import PRICE_DOCUMENT, SLA_DOCUMENT, SLA_QUESTION, SLA_TITLE

pytestmark = pytest.mark.integration

HOURS_TITLE = "Support hours"
HOURS_DOCUMENT = "Our support line answers from 8:00 to 20:00 on working days."
HOURS_QUESTION = "When does the support line answer?"


@pytest.fixture
def caller(offline_stack):
    """A new organization's headers and its conversation service calls."""
    language_models.sync_configured(offline_stack.app.config)
    auth = offline_stack.new_org()
    org_id = organizations.authenticate(auth["X-API-Key"]).org_id
    return auth, Api(offline_stack.client, auth, org_id)


def data_set(client, auth, name: str, *documents: tuple[str, str]) -> int:
    created = client.post("/api/data_sets", json={"name": name}, headers=auth)
    assert created.status_code == 201, created.get_json()
    for title, content in documents:
        added = client.post(f"/api/data_sets/{created.get_json()['id']}/documents",
                            json={"title": title, "content": content}, headers=auth)
        assert added.status_code == 201, added.get_json()
    return created.get_json()["id"]


def streamed_reply(api: Api, conversation_id: str, session_id: str, question: str) -> str:
    """Ask on stream_chat and read the stream to its end: the reply's text, checked
    against the one stored in the conversation."""
    response = api.post("/api/conversation/stream_chat",
                        {"chat_session_id": session_id, "message": question},
                        buffered=False)
    events = sse_events(response)
    assert events and events[-1]["event"] == "end", events
    text = "".join(e["data"]["text"] for e in events if e["event"] == "content")
    assert api.messages(conversation_id)[-1]["content"] == text
    return text


def test_a_conversation_and_a_session_answer_from_their_data_sets(offline_stack, caller):
    auth, api = caller
    plans = data_set(offline_stack.client, auth, "Plans", (SLA_TITLE, SLA_DOCUMENT),
                     ("Home price list", PRICE_DOCUMENT))
    support = data_set(offline_stack.client, auth, "Support", (HOURS_TITLE, HOURS_DOCUMENT))
    conversation = api.create("Plans", data_set_id=plans)
    assert conversation["data_set_id"] == plans

    plain = api.session(conversation["id"])
    reply = streamed_reply(api, conversation["id"], plain["id"], SLA_QUESTION)
    assert reply.startswith(f"According to \u201c{SLA_TITLE}\u201d:") and "99.9%" in reply

    own = api.post("/api/conversation/create_session", {
        "conversation_id": conversation["id"], "model_id": OFFLINE_MODEL_ID,
        "data_set_id": support})
    assert own.status_code == 201 and own.get_json()["data_set_id"] == support
    reply = streamed_reply(api, conversation["id"], own.get_json()["id"], HOURS_QUESTION)
    assert reply.startswith(f"According to \u201c{HOURS_TITLE}\u201d:") and "8:00" in reply


def test_a_dialogue_answers_from_its_data_set_through_a_session(offline_stack, caller):
    auth, api = caller
    plans = data_set(offline_stack.client, auth, "Plans", (SLA_TITLE, SLA_DOCUMENT))
    created = offline_stack.client.post("/dialogue", headers=auth, json={
        "id": "plans-1", "dataSetId": plans,
        "message": {"role": "system", "content": "Answer briefly."}})
    assert created.status_code == 201 and created.get_json()["dataSetId"] == plans

    session = api.session("plans-1")
    reply = streamed_reply(api, "plans-1", session["id"], SLA_QUESTION)
    assert reply.startswith(f"According to \u201c{SLA_TITLE}\u201d:")

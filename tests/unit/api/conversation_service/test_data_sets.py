"""Data sets on the conversation service face (a Parley extension): `data_set_id` on a
conversation and on a chat session (which overrides the conversation's for its own
questions), shown in their representations, refused when it is not the caller's, and
the one a reply is gathered from."""

import pytest

from app.extensions import db
from app.models import ChatSession, Conversation, Message, Task
from app.services import replies
from tests.support.conversation_service import error, sse_events, task_events
from tests.support.data import SLA_QUESTION, SLA_SENTENCE, SLA_TITLE
from tests.support.work import answer, run_kind
from workers.agents import data_set_qa
from workers.llm.offline import NOT_FOUND, OfflineProvider

HOURS_TITLE = "Opening hours"
HOURS_DOCUMENT = "The Parley shop opens at nine on weekdays and at ten on Saturdays."
HOURS_QUESTION = "When does the shop open on Saturdays?"


def new_data_set(client, auth, name: str, title: str, content: str) -> int:
    created = client.post("/api/data_sets", json={"name": name}, headers=auth)
    assert created.status_code == 201, created.get_json()
    added = client.post(f"/api/data_sets/{created.get_json()['id']}/documents",
                        json={"title": title, "content": content}, headers=auth)
    assert added.status_code == 201, added.get_json()
    return created.get_json()["id"]


@pytest.fixture
def hours_data_set(client, auth) -> int:
    """A second data set of the caller's, about something the first does not know."""
    return new_data_set(client, auth, "Shop", HOURS_TITLE, HOURS_DOCUMENT)


@pytest.fixture
def foreign_data_set(client, other_auth) -> int:
    """Another organization's data set."""
    return new_data_set(client, other_auth, "Theirs", HOURS_TITLE, HOURS_DOCUMENT)


def gathered_for(api, session_id: str, question: str):
    """Ask on stream_chat and run the reply in-process: what the agent was handed."""
    return answer(api.chat(session_id, question))


def counts() -> tuple[int, int]:
    db.session.expire_all()
    return (db.session.query(Conversation).count(), db.session.query(ChatSession).count())


# -- the conversation ------------------------------------------------------------------------

def test_a_conversation_created_with_a_data_set_shows_it_everywhere(api, data_set_id):
    created = api.create("Plans", data_set_id=data_set_id)
    assert created["data_set_id"] == data_set_id
    with_sessions = api.get("/api/conversation/get_with_sessions",
                            conversation_id=created["id"]).get_json()
    assert with_sessions["data_set_id"] == data_set_id
    [listed] = api.get("/api/conversation/list").get_json()
    assert listed == created


@pytest.mark.parametrize("body", [{}, {"data_set_id": None}], ids=["absent", "null"])
def test_a_conversation_without_a_data_set_shows_null(api, body):
    assert api.create("Plain", **body)["data_set_id"] is None


def test_the_spec_fields_are_unchanged_by_the_extension(api, data_set_id):
    created = api.create("Plans", is_archived=True, data_set_id=data_set_id)
    assert set(created) == {"id", "title", "is_archived", "created_at", "updated_at",
                            "data_set_id"}
    assert (created["title"], created["is_archived"]) == ("Plans", True)


def test_a_data_set_of_another_organization_is_404_and_nothing_is_stored(
        api, foreign_data_set):
    before = counts()
    body = error(api.post("/api/conversation/create",
                          {"title": "Theirs", "data_set_id": foreign_data_set}), 404)
    assert f"Data set {foreign_data_set} not found" in body["message"]
    assert counts() == before


def test_an_unknown_data_set_is_404(api):
    error(api.post("/api/conversation/create", {"title": "Nothing", "data_set_id": 999999}),
          404)


@pytest.mark.parametrize("value", ["1", 0, -3, 1.5, True, [1], 2**31],
                         ids=["string", "zero", "negative", "float", "bool", "list", "huge"])
def test_a_malformed_data_set_id_is_400(api, value):
    body = error(api.post("/api/conversation/create", {"title": "Bad", "data_set_id": value}),
                 400)
    assert "data_set_id" in body["errors"]["json"]


# -- the session -----------------------------------------------------------------------------

def test_a_session_shows_its_own_data_set_or_null(api, data_set_id, hours_data_set):
    conversation = api.create("Plans", data_set_id=data_set_id)["id"]
    own = api.post("/api/conversation/create_session", {
        "conversation_id": conversation, "model_id": api.session(conversation)["model_id"],
        "data_set_id": hours_data_set})
    assert own.status_code == 201, own.get_json()
    assert own.get_json()["data_set_id"] == hours_data_set
    sessions = api.get("/api/conversation/get_with_sessions",
                       conversation_id=conversation).get_json()["sessions"]
    assert [s["data_set_id"] for s in sessions] == [None, hours_data_set]


def test_a_session_with_another_organizations_data_set_is_404(api, foreign_data_set):
    conversation = api.create("Plans")["id"]
    model_id = api.session(conversation)["model_id"]
    before = counts()
    error(api.post("/api/conversation/create_session", {
        "conversation_id": conversation, "model_id": model_id,
        "data_set_id": foreign_data_set}), 404)
    assert counts() == before


@pytest.mark.parametrize("value", ["2", 0, {"id": 1}], ids=["string", "zero", "object"])
def test_a_session_with_a_malformed_data_set_id_is_400(api, value):
    conversation = api.create("Plans")["id"]
    model_id = api.session(conversation)["model_id"]
    body = error(api.post("/api/conversation/create_session", {
        "conversation_id": conversation, "model_id": model_id, "data_set_id": value}), 400)
    assert "data_set_id" in body["errors"]["json"]


# -- what the reply is gathered from ---------------------------------------------------------

def test_a_session_answers_from_the_conversations_data_set(api, data_set_id):
    session = api.session(api.create("Plans", data_set_id=data_set_id)["id"])
    work = gathered_for(api, session["id"], SLA_QUESTION)
    assert work.data_set_name == "Plans"
    assert any(p.title == SLA_TITLE and SLA_SENTENCE in p.text for p in work.passages)


def test_a_sessions_data_set_overrides_the_conversations(api, data_set_id, hours_data_set):
    conversation = api.create("Plans", data_set_id=data_set_id)["id"]
    plain = api.session(conversation)
    own = api.post("/api/conversation/create_session", {
        "conversation_id": conversation, "model_id": plain["model_id"],
        "data_set_id": hours_data_set}).get_json()

    overridden = gathered_for(api, own["id"], HOURS_QUESTION)
    assert overridden.data_set_name == "Shop"
    assert [(p.title, p.text) for p in overridden.passages] == [(HOURS_TITLE, HOURS_DOCUMENT)]
    # The other session of the same conversation still answers from the conversation's.
    assert gathered_for(api, plain["id"], SLA_QUESTION).data_set_name == "Plans"


def test_without_any_data_set_the_reply_gets_none_and_no_passages(api):
    session = api.session(api.create("Plain")["id"])
    work = gathered_for(api, session["id"], SLA_QUESTION)
    assert work.data_set_name is None and work.passages == []


def test_the_question_records_the_data_set_it_is_answered_from(api, data_set_id,
                                                                hours_data_set):
    conversation = api.create("Plans", data_set_id=data_set_id)["id"]
    own = api.post("/api/conversation/create_session", {
        "conversation_id": conversation, "model_id": api.session(conversation)["model_id"],
        "data_set_id": hours_data_set}).get_json()
    task_id = api.chat(own["id"], HOURS_QUESTION)
    question = db.session.get(Message, db.session.get(Task, task_id).message_id)
    assert question.data_set_id == hours_data_set


def test_stream_chat_with_the_offline_model_answers_from_the_attached_data_set(
        api, client, auth, data_set_id):
    session = api.session(api.create("Plans", data_set_id=data_set_id)["id"])
    task_id = api.chat(session["id"], SLA_QUESTION)
    run_kind(replies.KIND, task_id, data_set_qa.answer, OfflineProvider())

    events = sse_events(task_events(client, auth, task_id))
    streamed = "".join(e["data"]["text"] for e in events if e["event"] == "content")
    assert streamed.startswith(f"According to \u201c{SLA_TITLE}\u201d:")
    assert "99.9% uptime" in streamed and streamed != NOT_FOUND
    assert events[-1]["event"] == "end"
    reply = api.messages(session["conversation_id"])[-1]
    assert (reply["role"], reply["content"]) == ("assistant", streamed)


def test_the_polling_face_public_id_still_carries_its_data_set(api, client, auth,
                                                                conversation_id):
    """The older way (a polling conversation's public_id as the conversation id) keeps
    working: the session answers from that conversation's data set."""
    public_id = client.get(f"/api/conversations/{conversation_id}",
                           headers=auth).get_json()["public_id"]
    session = api.session(public_id)
    assert gathered_for(api, session["id"], SLA_QUESTION).data_set_name == "Plans"

"""The conversation service face (/api/conversation, /api/models), driven through the
Flask test client on BOTH databases: every test runs once on a migrated SQLite file and
once on PostgreSQL (tests/integration/api/conftest.py).

No worker runs (Celery publishes to memory://): a reply is written in-process with the
worker's own lifecycle (app.services.lifecycle.run, the model stood in for), and the task
events live in the unit apps' fake Redis.
"""

import json
import uuid
from datetime import datetime

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import ChatSession, Conversation, LanguageModel, Message, Task
from app.services import chat_sessions, language_models, replies
from app.services import dialogues as dialogue_service
from tests.support.work import answer
from tests.support.conversation_service import (OFFLINE_MODEL_ID, Api, error,
                                                sse_events)

pytestmark = pytest.mark.integration

ENDPOINTS = [
    ("POST", "/api/conversation/create"),
    ("GET", "/api/conversation/list"),
    ("GET", "/api/conversation/get_with_sessions"),
    ("GET", "/api/models"),
    ("POST", "/api/conversation/create_session"),
    ("POST", "/api/conversation/stream_chat"),
    ("GET", "/api/conversation/messages"),
]


# -- helpers -------------------------------------------------------------------------------

def count(model, **where) -> int:
    query = select(func.count()).select_from(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    db.session.expire_all()
    return db.session.scalar(query)


def conversation_row(org_id: str, public_id: str) -> Conversation:
    db.session.expire_all()
    return db.session.scalar(select(Conversation).where(
        Conversation.org_id == org_id, Conversation.public_id == public_id))


def task_row(task_id: str) -> Task:
    db.session.expire_all()
    return db.session.get(Task, task_id)


def is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except (ValueError, TypeError):
        return False


def instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None, f"{text} has no time zone"
    return moment


# -- authentication and org_id -------------------------------------------------------------

@pytest.mark.parametrize("method, path", ENDPOINTS)
def test_missing_org_id_is_400(client, auth, method, path):
    response = client.open(path, method=method, headers=auth, json={} if method == "POST"
                           else None)
    body = error(response, 400)
    assert "org_id" in body["message"] + json.dumps(body.get("errors"))


@pytest.mark.parametrize("method, path", ENDPOINTS)
def test_another_organizations_org_id_is_403(client, auth, other, method, path):
    response = client.open(path, method=method, headers=auth,
                           query_string={"org_id": other["org_id"]},
                           json={} if method == "POST" else None)
    error(response, 403)


def test_blank_org_id_is_400(client, auth):
    response = client.get("/api/conversation/list", query_string={"org_id": "  "},
                          headers=auth)
    error(response, 400)


def test_missing_api_key_is_401(client, org):
    response = client.get("/api/conversation/list", query_string={"org_id": org["org_id"]})
    error(response, 401)


def test_invalid_api_key_is_401_even_with_an_org_id(client, org):
    response = client.get("/api/conversation/list", query_string={"org_id": org["org_id"]},
                          headers={"Authorization": "Bearer not-a-key"})
    error(response, 401)


def test_x_api_key_authenticates_like_bearer(client, org):
    conversation = Api(client, {"X-API-Key": org["api_key"]}, org["org_id"]).create("Both")
    bearer = Api(client, {"Authorization": f"Bearer {org['api_key']}"}, org["org_id"])
    assert bearer.listed() == [conversation["id"]]


# -- POST /api/conversation/create ---------------------------------------------------------

def test_create_answers_201_with_the_conversation(api, org):
    body = api.create("Project Discussion")
    # data_set_id: a Parley extension, null without one (tests/unit/api/
    # conversation_service/test_data_sets.py).
    assert set(body) == {"id", "title", "is_archived", "created_at", "updated_at",
                         "data_set_id"}
    assert body["data_set_id"] is None
    assert is_uuid(body["id"])
    assert body["title"] == "Project Discussion"
    assert body["is_archived"] is False
    assert instant(body["created_at"]) <= instant(body["updated_at"])
    row = conversation_row(org["org_id"], body["id"])
    assert row is not None and row.label == "Project Discussion"


def test_create_archived(api):
    body = api.create("Old", is_archived=True)
    assert body["is_archived"] is True
    listed = api.get("/api/conversation/list").get_json()
    assert [item["is_archived"] for item in listed] == [True]


def test_title_of_128_characters_is_accepted(api):
    assert api.create("t" * 128)["title"] == "t" * 128


@pytest.mark.parametrize("body, field", [
    ({}, "title"),
    ({"title": ""}, "title"),
    ({"title": "   "}, "title"),
    ({"title": "t" * 129}, "title"),
    ({"title": 123}, "title"),
    ({"title": None}, "title"),
    ({"title": "nul\x00here"}, "title"),
    ({"title": "ok", "is_archived": None}, "is_archived"),
    ({"title": "ok", "is_archived": "maybe"}, "is_archived"),
    ({"title": "ok", "is_archived": [True]}, "is_archived"),
    ({"title": "ok", "owner": "me"}, "owner"),
], ids=["missing", "empty", "blank", "too-long", "number", "null", "nul-char",
        "archived-null", "archived-word", "archived-list", "unknown-field"])
def test_create_refuses_bad_input_with_400_and_stores_nothing(api, org, body, field):
    body = error(api.post("/api/conversation/create", body), 400)
    assert field in body["errors"]["json"], body
    assert field in body["message"]
    assert count(Conversation, org_id=org["org_id"]) == 0


@pytest.mark.parametrize("data, content_type", [
    (b'{"title": ', "application/json"),
    (b"[1, 2]", "application/json"),
    (b'"a title"', "application/json"),
    (b"\xff\xfe", "application/json"),
    (b"title=x", "application/x-www-form-urlencoded"),
], ids=["truncated", "array", "string", "not-utf8", "not-json"])
def test_create_refuses_an_unparseable_or_non_object_body_with_400(client, auth, org, data,
                                                                   content_type):
    response = client.post("/api/conversation/create", data=data, headers=auth,
                           content_type=content_type, query_string={"org_id": org["org_id"]})
    error(response, 400)
    assert count(Conversation, org_id=org["org_id"]) == 0


# -- GET /api/conversation/list ------------------------------------------------------------

def test_list_is_newest_first(api):
    ids = [api.create(f"c{n}")["id"] for n in range(3)]
    assert api.listed() == ids[::-1]


def test_list_shows_only_the_callers_conversations(api, other_api):
    mine = api.create("mine")["id"]
    other_api.create("theirs")
    assert api.listed() == [mine]


def test_list_pages_with_default_limit_20_and_offset(api, org):
    for n in range(23):
        chat_sessions.create_conversation(org["org_id"], f"c{n}")
    everything = api.listed(limit=100)
    assert len(everything) == 23
    assert api.listed() == everything[:20]
    assert api.listed(limit=5, offset=20) == everything[20:]
    assert api.listed(offset=23) == []


def test_list_leaves_out_a_deleted_conversation(api, client, auth):
    kept, deleted = api.create("kept")["id"], api.create("deleted")["id"]
    assert client.delete(f"/dialogue/{deleted}", headers=auth).status_code == 200
    assert api.listed() == [kept]


@pytest.mark.parametrize("query", [
    {"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"limit": ""}, {"offset": -1},
    {"offset": "x"}, {"offset": 2**31},
], ids=["limit-0", "limit-101", "limit-word", "limit-empty", "offset-negative",
        "offset-word", "offset-huge"])
def test_list_refuses_bad_paging_with_400(api, query):
    body = error(api.get("/api/conversation/list", **query), 400)
    assert set(query) <= set(body["errors"]["query"]), body


# -- GET /api/conversation/get_with_sessions -----------------------------------------------

def test_get_with_sessions_of_a_new_conversation(api):
    created = api.create("Fresh")
    response = api.get("/api/conversation/get_with_sessions", conversation_id=created["id"])
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {**created, "sessions": []}


def test_get_with_sessions_lists_its_sessions_in_creation_order(api, spare_model):
    conversation = api.create()["id"]
    first = api.session(conversation, OFFLINE_MODEL_ID)
    second = api.session(conversation, spare_model)
    body = api.get("/api/conversation/get_with_sessions", conversation_id=conversation
                   ).get_json()
    assert body["sessions"] == [first, second]


@pytest.mark.parametrize("query", [{}, {"conversation_id": ""},
                                   {"conversation_id": "c" * 65}],
                         ids=["missing", "empty", "too-long"])
def test_get_with_sessions_refuses_a_bad_id_with_400(api, query):
    body = error(api.get("/api/conversation/get_with_sessions", **query), 400)
    assert "conversation_id" in body["errors"]["query"]


def test_get_with_sessions_of_an_unknown_conversation_is_404(api):
    error(api.get("/api/conversation/get_with_sessions", conversation_id=str(uuid.uuid4())),
          404)


def test_get_with_sessions_of_another_organizations_conversation_is_404(api, other_api):
    theirs = other_api.create("theirs")["id"]
    error(api.get("/api/conversation/get_with_sessions", conversation_id=theirs), 404)


# -- GET /api/models -----------------------------------------------------------------------

def test_models_list_the_offline_model(api):
    response = api.get("/api/models")
    assert response.status_code == 200
    offline = [m for m in response.get_json() if m["id"] == OFFLINE_MODEL_ID]
    assert offline == [{"id": OFFLINE_MODEL_ID, "name": "parley-offline-extractive",
                        "provider": "offline"}]


def test_model_ids_are_stable_uuid5(app):
    before = {m.id for m in language_models.list_models(include_disabled=True)}
    assert language_models.sync_configured(app.config) == []  # idempotent: adds nothing
    assert {m.id for m in language_models.list_models(include_disabled=True)} == before
    expected = uuid.uuid5(uuid.UUID("7d1c7f0e-5c2a-4a8e-9a57-3f0b8d2c6e41"),
                          "offline:parley-offline-extractive")
    assert OFFLINE_MODEL_ID == str(expected)
    assert uuid.UUID(OFFLINE_MODEL_ID).version == 5


def test_sync_adds_the_claude_models_when_a_key_is_set(api, app):
    name = f"claude-test-{uuid.uuid4().hex[:8]}"
    added = language_models.sync_configured(
        {**app.config, "ANTHROPIC_API_KEY": "test-key", "CLAUDE_MODELS": [name]})
    assert [(m.provider, m.name) for m in added] == [("anthropic", name)]
    listed = api.get("/api/models").get_json()
    assert {"id": language_models.model_id("anthropic", name), "name": name,
            "provider": "anthropic"} in listed


def test_models_leave_out_a_disabled_model_and_sync_keeps_it_disabled(api, app):
    name = f"claude-test-{uuid.uuid4().hex[:8]}"
    config = {**app.config, "ANTHROPIC_API_KEY": "test-key", "CLAUDE_MODELS": [name]}
    language_models.sync_configured(config)
    model_id = language_models.model_id("anthropic", name)
    assert model_id in {m["id"] for m in api.get("/api/models").get_json()}
    language_models.disable_model(name)
    language_models.sync_configured(config)
    assert model_id not in {m["id"] for m in api.get("/api/models").get_json()}


def test_add_model_enables_a_disabled_model_again_under_the_same_id(api, spare_model):
    name = db.session.get(LanguageModel, spare_model).name
    language_models.disable_model(spare_model)
    assert language_models.add_model("offline", name).id == spare_model
    assert spare_model in {m["id"] for m in api.get("/api/models").get_json()}


# -- POST /api/conversation/create_session -------------------------------------------------

def test_create_session_answers_201_with_the_session(api, org):
    conversation = api.create()["id"]
    body = api.session(conversation)
    assert set(body) == {"id", "conversation_id", "model_id", "status", "created_at",
                         "updated_at", "data_set_id"}
    assert body["data_set_id"] is None  # the conversation's (a Parley extension)
    assert is_uuid(body["id"])
    assert body["conversation_id"] == conversation
    assert body["model_id"] == OFFLINE_MODEL_ID
    assert body["status"] == "active"
    assert instant(body["created_at"]) <= instant(body["updated_at"])
    assert count(ChatSession, org_id=org["org_id"]) == 1


@pytest.mark.parametrize("model_id", [str(uuid.uuid4()), "m" * 64, "gpt-4"],
                         ids=["uuid", "64-chars", "a-name"])
def test_create_session_with_an_unknown_model_is_404(api, org, model_id):
    conversation = api.create()["id"]
    response = api.post("/api/conversation/create_session",
                        {"conversation_id": conversation, "model_id": model_id})
    error(response, 404)
    assert count(ChatSession, org_id=org["org_id"]) == 0


def test_create_session_with_a_disabled_model_is_400(api, org, spare_model):
    language_models.disable_model(spare_model)
    conversation = api.create()["id"]
    response = api.post("/api/conversation/create_session",
                        {"conversation_id": conversation, "model_id": spare_model})
    assert "disabled" in error(response, 400)["message"]
    assert count(ChatSession, org_id=org["org_id"]) == 0


def test_create_session_on_an_unknown_conversation_is_404(api, org):
    response = api.post("/api/conversation/create_session",
                        {"conversation_id": str(uuid.uuid4()), "model_id": OFFLINE_MODEL_ID})
    error(response, 404)
    assert count(ChatSession, org_id=org["org_id"]) == 0


def test_create_session_on_another_organizations_conversation_is_404(api, other_api, other):
    theirs = other_api.create("theirs")["id"]
    response = api.post("/api/conversation/create_session",
                        {"conversation_id": theirs, "model_id": OFFLINE_MODEL_ID})
    error(response, 404)
    assert count(ChatSession, org_id=other["org_id"]) == 0


@pytest.mark.parametrize("body, field", [
    ({"model_id": OFFLINE_MODEL_ID}, "conversation_id"),
    ({"conversation_id": "CONV"}, "model_id"),
    ({"conversation_id": "CONV", "model_id": 7}, "model_id"),
    ({"conversation_id": "CONV", "model_id": ""}, "model_id"),
    ({"conversation_id": "CONV", "model_id": "m" * 65}, "model_id"),
    ({"conversation_id": ["CONV"], "model_id": OFFLINE_MODEL_ID}, "conversation_id"),
], ids=["no-conversation", "no-model", "model-number", "model-empty", "model-too-long",
        "conversation-list"])
def test_create_session_refuses_bad_input_with_400(api, org, body, field):
    conversation = api.create()["id"]
    body = {key: (conversation if value == "CONV" else
                  [conversation] if value == ["CONV"] else value)
            for key, value in body.items()}
    response = api.post("/api/conversation/create_session", body)
    assert field in error(response, 400)["errors"]["json"]
    assert count(ChatSession, org_id=org["org_id"]) == 0


# -- POST /api/conversation/stream_chat ----------------------------------------------------

def test_stream_chat_opens_an_event_stream(api):
    session = api.session(api.create()["id"])
    response = api.post("/api/conversation/stream_chat",
                        {"chat_session_id": session["id"], "message": "Hello?"},
                        buffered=False)
    try:
        assert response.status_code == 200
        assert response.mimetype == "text/event-stream"
        assert response.headers["Cache-Control"] == "no-cache"
        assert response.headers["X-Accel-Buffering"] == "no"
        first = next(iter(response.response))
    finally:
        response.close()
    first = first.decode() if isinstance(first, bytes) else first
    assert first.startswith("retry: 1000\n: task ") and first.endswith("\n\n")
    assert is_uuid(first.split(": task ", 1)[1].strip())


def test_stream_chat_stores_the_message_and_a_pending_task(api, org):
    conversation = api.create()["id"]
    session = api.session(conversation)
    task_id = api.chat(session["id"], "Can you explain vector databases?")
    [message] = api.messages(conversation)
    assert message["role"] == "user"
    assert message["content"] == "Can you explain vector databases?"
    assert message["conversation_id"] == conversation
    assert message["chat_session_id"] == session["id"]
    assert message["usage"] is None
    task = task_row(task_id)
    assert task.org_id == org["org_id"] and task.state == "PENDING" and task.kind == "reply"
    stored = db.session.get(Message, task.message_id)
    assert stored.public_id == message["id"] and stored.role == "user"
    assert stored.chat_session_id == session["id"]  # the session answers it


def test_a_second_message_waits_behind_the_first(api):
    conversation = api.create()["id"]
    session = api.session(conversation)
    first, second = api.chat(session["id"], "one"), api.chat(session["id"], "two")
    assert [m["content"] for m in api.messages(conversation)] == ["one", "two"]
    assert task_row(first).published_at is not None
    assert task_row(second).state == "PENDING" and task_row(second).published_at is None


def test_the_next_message_is_queued_once_the_first_is_answered(api):
    session = api.session(api.create()["id"])
    first, second = api.chat(session["id"], "one"), api.chat(session["id"], "two")
    assert answer(second) is None  # not its turn yet
    answer(first)
    assert task_row(second).published_at is not None
    job = answer(second)
    assert job is not None and job.question == "two"


def test_a_message_updates_the_conversation(api):
    created = api.create()
    api.chat(api.session(created["id"])["id"])
    now = api.get("/api/conversation/get_with_sessions", conversation_id=created["id"]
                  ).get_json()
    assert instant(now["updated_at"]) > instant(created["updated_at"])
    assert now["created_at"] == created["created_at"]


@pytest.mark.parametrize("body, field", [
    ({"chat_session_id": "SESSION"}, "message"),
    ({"chat_session_id": "SESSION", "message": ""}, "message"),
    ({"chat_session_id": "SESSION", "message": " \n\t "}, "message"),
    ({"chat_session_id": "SESSION", "message": None}, "message"),
    ({"chat_session_id": "SESSION", "message": 42}, "message"),
    ({"chat_session_id": "SESSION", "message": "x" * 10_001}, "message"),
    ({"chat_session_id": "SESSION", "message": "nul\x00"}, "message"),
    ({"message": "Hello?"}, "chat_session_id"),
    ({"chat_session_id": "", "message": "Hello?"}, "chat_session_id"),
], ids=["no-message", "empty", "blank", "null", "number", "too-long", "nul-char",
        "no-session", "empty-session"])
def test_stream_chat_refuses_bad_input_with_400_and_stores_nothing(api, org, body, field):
    conversation = api.create()["id"]
    session = api.session(conversation)
    body = {key: session["id"] if value == "SESSION" else value
            for key, value in body.items()}
    response = api.post("/api/conversation/stream_chat", body)
    assert field in error(response, 400)["errors"]["json"]
    assert api.messages(conversation) == []
    assert count(Task, org_id=org["org_id"]) == 0


def test_stream_chat_accepts_a_message_of_the_maximum_length(api):
    conversation = api.create()["id"]
    api.chat(api.session(conversation)["id"], "x" * 10_000)
    assert len(api.messages(conversation)[0]["content"]) == 10_000


@pytest.mark.parametrize("session_id", [str(uuid.uuid4()), "s" * 64],
                         ids=["uuid", "64-chars"])
def test_stream_chat_on_an_unknown_session_is_404(api, org, session_id):
    response = api.post("/api/conversation/stream_chat",
                        {"chat_session_id": session_id, "message": "Hello?"})
    error(response, 404)
    assert count(Task, org_id=org["org_id"]) == 0


def test_stream_chat_on_another_organizations_session_is_404(api, other_api, other):
    conversation = other_api.create("theirs")["id"]
    theirs = other_api.session(conversation)["id"]
    response = api.post("/api/conversation/stream_chat",
                        {"chat_session_id": theirs, "message": "Hello?"})
    error(response, 404)
    assert other_api.messages(conversation) == []
    assert count(Task, org_id=other["org_id"]) == 0


def test_stream_chat_with_a_disabled_model_is_400(api, org, spare_model):
    conversation = api.create()["id"]
    session = api.session(conversation, spare_model)
    language_models.disable_model(spare_model)
    response = api.post("/api/conversation/stream_chat",
                        {"chat_session_id": session["id"], "message": "Hello?"})
    assert "disabled" in error(response, 400)["message"]
    assert api.messages(conversation) == []
    assert count(Task, org_id=org["org_id"]) == 0


def test_stream_chat_on_an_ended_conversation_is_409(api, client, auth, org):
    conversation = api.create()["id"]
    session = api.session(conversation)
    assert client.post(f"/dialogue/{conversation}/end", headers=auth).status_code == 200
    response = api.post("/api/conversation/stream_chat",
                        {"chat_session_id": session["id"], "message": "Hello?"})
    error(response, 409)
    assert api.messages(conversation) == []
    assert count(Task, org_id=org["org_id"]) == 0


def test_stream_chat_on_a_deleted_conversation_is_404(api, org):
    conversation = api.create()["id"]
    session = api.session(conversation)
    dialogue_service.delete_dialogue(org["org_id"], conversation)
    response = api.post("/api/conversation/stream_chat",
                        {"chat_session_id": session["id"], "message": "Hello?"})
    error(response, 404)
    assert count(Task, org_id=org["org_id"]) == 0


# -- GET /api/conversation/messages --------------------------------------------------------

def test_messages_of_a_new_conversation_are_empty(api):
    assert api.messages(api.create()["id"]) == []


def test_messages_show_the_reply_with_its_session_model_and_usage(api):
    conversation = api.create()["id"]
    session = api.session(conversation)
    task_id = api.chat(session["id"], "What is a vector?")
    answer(task_id, "A list of numbers.", model="parley-offline-extractive",
           input_tokens=30, output_tokens=7)
    question, reply = api.messages(conversation)
    assert question["role"] == "user" and question["content"] == "What is a vector?"
    assert set(reply) == {"id", "conversation_id", "role", "content", "chat_session_id",
                          "model_id", "model", "usage", "created_at"}
    assert reply["id"] == replies.reply_public_id(task_id)
    assert reply["role"] == "assistant"
    assert reply["content"] == "A list of numbers."
    assert reply["conversation_id"] == conversation
    assert reply["chat_session_id"] == session["id"]
    assert reply["model_id"] == OFFLINE_MODEL_ID
    assert reply["model"] == "parley-offline-extractive"
    assert reply["usage"] == {"input_tokens": 30, "output_tokens": 7}
    assert instant(question["created_at"]) <= instant(reply["created_at"])
    assert task_row(task_id).state == "SUCCESS"


def test_the_workers_job_uses_the_sessions_model(api, spare_model):
    session = api.session(api.create()["id"], spare_model)
    job = answer(api.chat(session["id"]))
    assert job.model.id == spare_model and job.model.provider == "offline"


def test_sessions_with_different_models_share_the_history(api, spare_model):
    conversation = api.create()["id"]
    first = api.session(conversation, OFFLINE_MODEL_ID)
    second = api.session(conversation, spare_model)
    answer(api.chat(first["id"], "first question"), "first answer")
    job = answer(api.chat(second["id"], "second question"), "second answer", "m2", 1, 1)
    # The second session's model is given the first session's turns.
    assert [(turn.role, turn.text) for turn in job.history] == [
        ("user", "first question"), ("agent", "first answer")]
    listed = api.messages(conversation)
    assert [(m["content"], m["chat_session_id"], m["model_id"]) for m in listed
            if m["role"] == "assistant"] == [
        ("first answer", first["id"], OFFLINE_MODEL_ID),
        ("second answer", second["id"], spare_model)]
    assert [m["content"] for m in listed] == ["first question", "first answer",
                                              "second question", "second answer"]


def test_messages_page_with_limit_and_offset_in_order(api, org):
    conversation = api.create()["id"]
    dialogue_service.update_dialogue(org["org_id"], conversation, messages=[
        {"content": f"m{n}", "role": "user"} for n in range(25)])
    contents = [m["content"] for m in api.messages(conversation, limit=100)]
    assert contents == [f"m{n}" for n in range(25)]
    assert [m["content"] for m in api.messages(conversation)] == contents[:20]
    assert [m["content"] for m in api.messages(conversation, limit=3, offset=21)
            ] == contents[21:24]
    assert api.messages(conversation, offset=25) == []


def test_messages_name_the_roles_user_assistant_and_system(api, client, auth):
    conversation = api.create()["id"]
    response = client.put(f"/dialogue/{conversation}", headers=auth, json={"messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."}]})
    assert response.status_code == 200, response.get_json()
    listed = api.messages(conversation)
    assert [(m["role"], m["content"]) for m in listed] == [
        ("system", "Be brief."), ("user", "Hi"), ("assistant", "Hello.")]
    assert [m["chat_session_id"] for m in listed] == [None, None, None]


@pytest.mark.parametrize("query, field", [
    ({}, "conversation_id"), ({"conversation_id": "c" * 65}, "conversation_id"),
    ({"conversation_id": "CONV", "limit": 0}, "limit"),
    ({"conversation_id": "CONV", "limit": 101}, "limit"),
    ({"conversation_id": "CONV", "offset": -1}, "offset"),
    ({"conversation_id": "CONV", "limit": "many"}, "limit"),
], ids=["missing", "too-long", "limit-0", "limit-101", "offset-negative", "limit-word"])
def test_messages_refuse_bad_input_with_400(api, query, field):
    conversation = api.create()["id"]
    query = {key: conversation if value == "CONV" else value for key, value in query.items()}
    assert field in error(api.get("/api/conversation/messages", **query), 400
                          )["errors"]["query"]


def test_messages_of_another_organizations_conversation_are_404(api, other_api):
    theirs = other_api.create("theirs")["id"]
    error(api.get("/api/conversation/messages", conversation_id=theirs), 404)


def test_messages_with_another_organizations_org_id_are_403(api, other, client, auth):
    mine = api.create()["id"]
    response = client.get("/api/conversation/messages", headers=auth,
                          query_string={"org_id": other["org_id"], "conversation_id": mine})
    error(response, 403)


def test_stream_chat_relays_the_reply_as_it_is_written(api):
    conversation = api.create()["id"]
    session = api.session(conversation)
    response = api.post("/api/conversation/stream_chat",
                        {"chat_session_id": session["id"], "message": "What is a vector?"},
                        buffered=False)
    chunks = iter(response.response)
    first = next(chunks)
    first = first.decode() if isinstance(first, bytes) else first
    task_id = first.removeprefix("retry: 1000\n: task ").strip()
    # The stream is open before the reply exists; the worker writes it now.
    answer(task_id, "A list of numbers.", input_tokens=3, output_tokens=4)
    start, end = sse_events(response)
    assert (start["event"], end["event"]) == ("start", "end")
    assert start["data"]["user_message_id"] == api.messages(conversation)[0]["id"]
    assert end["data"]["message_id"] == replies.reply_public_id(task_id)
    assert end["data"]["usage"] == {"input_tokens": 3, "output_tokens": 4}

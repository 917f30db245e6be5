"""Idempotent submits on BOTH databases (tests/integration/api/conftest.py): every
creating POST of the four faces, sent again with its Idempotency-Key, is answered as
the first time with Idempotent-Replayed: true and creates nothing more; another request
with the key is refused and creates nothing; simultaneous requests with one key make
one thing; a streamed answer's replay relays the same task; keys are an organization's
own; they live in the database, not in Redis. No worker runs: tasks are run in-process."""

import threading
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import (BriefingResource, ChatSession, Conversation, DataSet, DialogSession,
                        Document, Job, Message, Task)
from app.services import data_sets
from tests.support.conversation_service import OFFLINE_MODEL_ID, Api, sse_events
from tests.support.dialog_sessions import SPEC_EXAMPLE, Dialog, run_turn, sse
from tests.support.work import answer

pytestmark = pytest.mark.integration

KEY = "3f0c1a52-7c1e-4d55-9d1e-2b8f0f4a9e61"
REPLAYED = "Idempotent-Replayed"


def count(model, **where) -> int:
    query = select(func.count()).select_from(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    db.session.expire_all()
    return db.session.scalar(query)


def post(client, auth, path: str, body=None, key: str | None = KEY, query=None, **kwargs):
    headers = {**auth, **({"Idempotency-Key": key} if key else {})}
    return client.post(path, json=body, query_string=query or {}, headers=headers, **kwargs)


# -- each creating POST ----------------------------------------------------------------------

@dataclass
class Submit:
    """A creating POST, another request, the status a reused key answers, and how many
    things of its kind the organization has."""

    path: str
    body: dict | None
    other: tuple[str, dict | None]
    reused: int
    count: Callable[[], int]
    query: dict | None = None


def _data_set(client, auth) -> int:
    return post(client, auth, "/api/data_sets", {"name": "Plans"}, key=None).get_json()["id"]


def _conversation(client, auth) -> int:
    return post(client, auth, "/api/conversations", {"data_set_id": _data_set(client, auth)},
                key=None).get_json()["id"]


def data_set(client, auth, org) -> Submit:
    return Submit("/api/data_sets", {"name": "Plans"}, ("/api/data_sets", {"name": "Other"}),
                  422, lambda: count(DataSet, org_id=org["org_id"]))


def document(client, auth, org) -> Submit:
    path = f"/api/data_sets/{_data_set(client, auth)}/documents"
    return Submit(path, {"title": "SLA", "content": "The plan has an SLA."},
                  (path, {"title": "SLA", "content": "The plan has no SLA."}), 422,
                  lambda: count(Document))


def conversation(client, auth, org) -> Submit:
    data_set_id = _data_set(client, auth)
    return Submit("/api/conversations", {"data_set_id": data_set_id},
                  ("/api/conversations", {"data_set_id": _data_set(client, auth)}), 422,
                  lambda: count(Conversation, org_id=org["org_id"]))


def question(client, auth, org) -> Submit:
    path = f"/api/conversations/{_conversation(client, auth)}"
    return Submit(path, {"question_message": "Is there an SLA?"},
                  (path, {"question_message": "Is there no SLA?"}), 422,
                  lambda: count(Task, org_id=org["org_id"]))


def dialogue(client, auth, org) -> Submit:
    messages = [{"role": "user", "content": "My fibre is down."}]
    return Submit("/dialogue", {"id": "support-42", "messages": messages},
                  ("/dialogue", {"id": "support-43", "messages": messages}), 400,
                  lambda: count(Conversation, org_id=org["org_id"]))


def compact(client, auth, org) -> Submit:
    post(client, auth, "/dialogue", {"id": "support-42", "messages": [
        {"role": "user", "content": "My fibre is down."}]}, key=None)
    return Submit("/dialogue/support-42/compact", None, ("/dialogue/support-42/end", None),
                  400, lambda: count(Task, org_id=org["org_id"]))


def chat_conversation(client, auth, org) -> Submit:
    query = {"org_id": org["org_id"]}
    return Submit("/api/conversation/create", {"title": "Project"},
                  ("/api/conversation/create", {"title": "Other"}), 400,
                  lambda: count(Conversation, org_id=org["org_id"]), query)


def chat_session(client, auth, org) -> Submit:
    api = Api(client, auth, org["org_id"])
    one, two = api.create()["id"], api.create()["id"]
    return Submit("/api/conversation/create_session",
                  {"conversation_id": one, "model_id": OFFLINE_MODEL_ID},
                  ("/api/conversation/create_session",
                   {"conversation_id": two, "model_id": OFFLINE_MODEL_ID}), 400,
                  lambda: count(ChatSession, org_id=org["org_id"]), {"org_id": org["org_id"]})


def dialog_session(client, auth, org) -> Submit:
    return Submit("/v1/dialog-sessions", {"mode": "translation"},
                  ("/v1/dialog-sessions", {"mode": "creation"}), 422,
                  lambda: count(DialogSession, org_id=org["org_id"]))


def confirm(client, auth, org) -> Submit:
    path = f"/v1/dialog-sessions/{Dialog(client, auth).ready()['session_id']}/confirm"
    return Submit(path, {}, (path, {"save_as_template": True}), 422,
                  lambda: count(Job, org_id=org["org_id"]))


def glossary(client, auth, org) -> Submit:
    body = {"name": "Legal", "source_lang": "de", "target_lang": "en",
            "terms": [{"source": "Vertrag", "target": "contract"}]}
    return Submit("/v1/glossaries", body, ("/v1/glossaries", {**body, "name": "Legal 2"}),
                  422, lambda: count(BriefingResource, org_id=org["org_id"]))


SUBMITS = [data_set, document, conversation, question, dialogue, compact, chat_conversation,
           chat_session, dialog_session, confirm, glossary]


@pytest.mark.parametrize("submit", SUBMITS, ids=lambda submit: submit.__name__)
def test_the_same_request_again_is_replayed_and_creates_nothing(client, auth, org, submit):
    made = submit(client, auth, org)
    before = made.count()

    first = post(client, auth, made.path, made.body, query=made.query)
    again = post(client, auth, made.path, made.body, query=made.query)

    assert first.status_code in (200, 201, 202), first.get_json()
    assert REPLAYED not in first.headers
    assert again.status_code == first.status_code
    assert again.get_json() == first.get_json()
    assert again.headers[REPLAYED] == "true"
    assert made.count() == before + 1


@pytest.mark.parametrize("submit", SUBMITS, ids=lambda submit: submit.__name__)
def test_another_request_with_the_key_is_refused_and_creates_nothing(client, auth, org,
                                                                     submit):
    made = submit(client, auth, org)
    post(client, auth, made.path, made.body, query=made.query)
    before = made.count()

    path, body = made.other
    refused = post(client, auth, path, body, query=made.query)

    assert refused.status_code == made.reused, refused.get_json()
    assert made.count() == before


# -- at the same time ----------------------------------------------------------------------

def _in_threads(app, auth, how_many: int, request) -> list:
    """`request(client)` from `how_many` threads at once (each its own app context and
    client); what each answered: (status, replayed, body)."""
    barrier = threading.Barrier(how_many)
    answers: list = [None] * how_many

    def run(number: int) -> None:
        try:
            with app.app_context():
                client = app.test_client()
                barrier.wait(timeout=10)
                response = request(client)
                answers[number] = (response.status_code, response.headers.get(REPLAYED),
                                   response.get_json())
        except Exception as exc:  # noqa: BLE001 - reported by the caller's assertions
            answers[number] = (None, None, repr(exc))

    threads = [threading.Thread(target=run, args=(n,)) for n in range(how_many)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


def test_simultaneous_requests_with_one_key_make_one_thing(app, auth, org):
    answers = _in_threads(app, auth, 6, lambda client: post(
        client, auth, "/api/data_sets", {"name": "Plans"}))

    statuses = [(status, replayed) for status, replayed, _ in answers]
    assert statuses.count((201, None)) == 1, answers  # the one that ran
    # The others came while it ran (409), or after (its answer, replayed).
    assert set(statuses) <= {(201, None), (409, None), (201, "true")}, answers
    assert len({body["id"] for status, _, body in answers if status == 201}) == 1
    assert count(DataSet, org_id=org["org_id"]) == 1


def test_a_request_while_the_first_is_handled_is_409(app, client, auth, org, monkeypatch):
    inside, go_on = threading.Event(), threading.Event()
    create = data_sets.create_data_set

    def slow_create(*args, **kwargs):
        inside.set()
        assert go_on.wait(30)
        return create(*args, **kwargs)

    monkeypatch.setattr(data_sets, "create_data_set", slow_create)
    first: list = []

    def send_first() -> None:
        with app.app_context():
            first.append(post(app.test_client(), auth, "/api/data_sets", {"name": "Plans"}))

    thread = threading.Thread(target=send_first)
    thread.start()
    try:
        assert inside.wait(30)
        meanwhile = [post(client, auth, "/api/data_sets", {"name": "Plans"})
                     for _ in range(2)]
    finally:
        go_on.set()
        thread.join(timeout=30)

    assert [response.status_code for response in meanwhile] == [409, 409]
    assert meanwhile[0].get_json()["code"] == 409
    assert first[0].status_code == 201
    assert post(client, auth, "/api/data_sets", {"name": "Plans"}).headers[REPLAYED] == "true"
    assert count(DataSet, org_id=org["org_id"]) == 1


# -- streams ---------------------------------------------------------------------------------

def test_a_stream_chat_replay_relays_the_same_task(client, auth, org):
    api = Api(client, auth, org["org_id"])
    conversation_id = api.create()["id"]
    body = {"chat_session_id": api.session(conversation_id)["id"], "message": "What is RAG?"}
    first = post(client, auth, "/api/conversation/stream_chat", body,
                 query={"org_id": org["org_id"]}, buffered=False)
    task_id = first.headers["X-Task-Id"]
    first.close()
    answer(task_id, "Retrieval, then generation.")

    again = post(client, auth, "/api/conversation/stream_chat", body,
                 query={"org_id": org["org_id"]}, buffered=False)

    assert again.headers[REPLAYED] == "true"
    assert again.headers["X-Task-Id"] == task_id
    assert again.mimetype == "text/event-stream"
    start, end = sse_events(again)
    assert start["data"]["task_id"] == end["data"]["task_id"] == task_id
    assert end["event"] == "end"
    assert count(Task, org_id=org["org_id"]) == 1
    assert [m["role"] for m in api.messages(conversation_id)] == ["user", "assistant"]


def test_a_dialog_message_replay_relays_the_same_turn(client, auth, org):
    dialog = Dialog(client, auth)
    session_id = dialog.create(**SPEC_EXAMPLE)["session_id"]
    path = f"/v1/dialog-sessions/{session_id}/messages"
    first = post(client, auth, path, {"message": "legal"}, buffered=False)
    task_id = first.headers["X-Task-Id"]
    run_turn(task_id)
    first_events = sse(first.get_data())
    first.close()
    messages = dialog.session(session_id)["messages"]

    again = post(client, auth, path, {"message": "legal"})

    assert again.status_code == 200
    assert again.headers[REPLAYED] == "true"
    assert again.headers["X-Task-Id"] == task_id
    assert sse(again.get_data()) == first_events
    assert first_events[0]["data"]["data"] == {"task_id": task_id, "session_id": session_id}
    assert first_events[-1]["event"] == "done"
    assert dialog.session(session_id)["messages"] == messages
    assert count(Task, org_id=org["org_id"]) == 1


# -- whose key, kept where ----------------------------------------------------------------------

def test_the_same_key_in_another_organization_is_another_key(client, auth, org, other):
    mine = post(client, auth, "/api/data_sets", {"name": "Plans"})

    theirs = post(client, other["auth"], "/api/data_sets", {"name": "Other plans"})
    mine_again = post(client, auth, "/api/data_sets", {"name": "Plans"})

    assert theirs.status_code == 201 and REPLAYED not in theirs.headers
    assert theirs.get_json()["name"] == "Other plans"
    assert mine_again.headers[REPLAYED] == "true"
    assert mine_again.get_json() == mine.get_json()
    assert count(DataSet, org_id=org["org_id"]) == count(DataSet, org_id=other["org_id"]) == 1


def test_a_key_outlives_a_redis_restart(app, client, auth, org):
    path = f"/api/conversations/{_conversation(client, auth)}"
    first = post(client, auth, path, {"question_message": "Is there an SLA?"})
    app.extensions["task_events"].client.flushall()  # Redis restarted empty

    again = post(client, auth, path, {"question_message": "Is there an SLA?"})

    assert again.status_code == first.status_code == 202
    assert again.get_json()["task_id"] == first.get_json()["task_id"]
    assert again.headers[REPLAYED] == "true"
    assert count(Task, org_id=org["org_id"]) == 1
    assert count(Message, conversation_id=int(path.rsplit("/", 1)[1])) == 1

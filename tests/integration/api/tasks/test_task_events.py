"""The task event stream (GET /api/tasks/{task_id}/events): a task's events as
Server-Sent Events, resumable by Last-Event-ID, ending from the database when the stream
lost its end; driven through the Flask test client on BOTH databases
(tests/integration/api/conftest.py).

No worker runs: the tasks are the conversation service's replies, written in-process
with the worker's own service functions, and their events live in the unit apps' fake
Redis.
"""

import pytest

from app.services import replies, tasks
from tests.support.conversation_service import error, event_order, sse_events, task_events
from tests.support.work import answer
from tests.support.work import fail as fail_task

pytestmark = pytest.mark.integration


@pytest.fixture
def answered(api) -> dict:
    """A chat session's question, answered in-process: its ids."""
    conversation = api.create()["id"]
    session = api.session(conversation)
    task_id = api.chat(session["id"], "What is a vector?")
    answer(task_id, "A list of numbers.", model="m1", input_tokens=30, output_tokens=7)
    question = api.messages(conversation)[0]
    return {"conversation": conversation, "session": session["id"], "task": task_id,
            "question": question["id"], "reply": replies.reply_public_id(task_id)}


def test_task_events_stream_start_then_end(client, auth, answered):
    response = task_events(client, auth, answered["task"])
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    start, end = sse_events(response)
    assert start["event"] == "start" and end["event"] == "end"
    assert event_order(start["id"]) < event_order(end["id"])
    assert start["data"]["task_id"] == answered["task"]
    assert start["data"]["user_message_id"] == answered["question"]
    assert start["data"]["message_id"] == answered["reply"]
    assert end["data"]["message_id"] == answered["reply"]
    assert end["data"]["usage"] == {"input_tokens": 30, "output_tokens": 7}


def test_task_events_resume_after_last_event_id(client, auth, answered):
    start, end = sse_events(task_events(client, auth, answered["task"]))
    resumed = sse_events(task_events(client, auth, answered["task"],
                                     {"Last-Event-ID": start["id"]}))
    assert resumed == [end]


def test_task_events_resume_after_the_last_event_id_query_parameter(client, auth, answered):
    start, end = sse_events(task_events(client, auth, answered["task"]))
    assert sse_events(task_events(client, auth, answered["task"],
                                  last_event_id=start["id"])) == [end]


@pytest.mark.parametrize("bogus", ["abc", "12", "1-2-3", "-1-0"])
def test_task_events_refuse_a_bogus_last_event_id_with_400(client, auth, answered, bogus):
    response = client.get(f"/api/tasks/{answered['task']}/events",
                          headers={**auth, "Last-Event-ID": bogus})
    error(response, 400)


def test_task_events_of_another_organizations_task_are_404(client, answered, other):
    response = client.get(f"/api/tasks/{answered['task']}/events", headers=other["auth"])
    error(response, 404)


@pytest.mark.parametrize("task_id", ["00000000-0000-4000-8000-000000000000", "not-a-task"])
def test_task_events_of_an_unknown_task_are_404(client, auth, task_id):
    error(client.get(f"/api/tasks/{task_id}/events", headers=auth), 404)


def test_task_events_of_a_finished_task_whose_stream_expired_are_410(app, client, auth,
                                                                      answered):
    app.extensions["task_events"].client.delete(f"parley:task-events:{answered['task']}")
    response = client.get(f"/api/tasks/{answered['task']}/events", headers=auth)
    body = response.get_json()
    assert response.status_code == 410, body
    assert body["code"] == 410 and body["state"] == "SUCCESS"
    assert body["task_id"] == answered["task"]
    assert answered["reply"] in body["message"]
    assert body["outcome"]["event"] == "end"
    assert body["outcome"]["data"]["message_id"] == answered["reply"]


def test_task_events_need_an_api_key(client, answered):
    error(client.get(f"/api/tasks/{answered['task']}/events"), 401)


def test_task_events_end_from_the_database_when_the_stream_lost_it(app, client, auth,
                                                                   answered):
    streams = app.extensions["task_events"].client
    key = f"parley:task-events:{answered['task']}"
    [(end_id, _)] = [entry for entry in streams.xrange(key) if entry[1]["event"] == "end"]
    streams.xdel(key, end_id)
    start, end = sse_events(task_events(client, auth, answered["task"]))
    assert start["event"] == "start"
    assert end["event"] == "end"
    assert end["data"]["message_id"] == answered["reply"]
    assert end["data"]["usage"] == {"input_tokens": 30, "output_tokens": 7}


def test_task_events_of_a_failed_reply_end_with_an_error(api, client, auth):
    conversation = api.create()["id"]
    task_id = api.chat(api.session(conversation)["id"])
    fail_task(task_id, "the model is unavailable")
    [failed] = sse_events(task_events(client, auth, task_id))
    assert failed["event"] == "error"
    assert failed["data"] == {"task_id": task_id, "message": "the model is unavailable"}
    assert [m["role"] for m in api.messages(conversation)] == ["user"]

"""What a task's message carries besides its id (app/services/tasks.py): the id of the
request that caused it, in its headers (the worker's log lines) and in its kwargsrepr
(Celery's task events, which Flower shows), read back from the in-memory broker the
unit tests' app publishes to. And the request id a task row records."""

from datetime import timedelta

import pytest
from sqlalchemy import update

from app import logs
from app.models import Task
from app.models.base import utcnow
from app.services import replies, tasks
from tests.support.data import SLA_QUESTION
from tests.support.work import answer

REQUEST_ID = "req-from-the-client-1"


@pytest.fixture(autouse=True)
def _no_log_context():
    logs.clear()
    yield
    logs.clear()


def published(app, task_id: str) -> list:
    """The messages of `task_id` waiting in the in-memory broker (every message of its
    queue is taken off it)."""
    celery = app.extensions["celery"]
    with celery.connection_for_read() as connection:
        queue = connection.SimpleQueue(replies.KIND.queue, no_ack=True)
        messages = []
        while True:
            try:
                messages.append(queue.get(block=False))
            except queue.Empty:
                break
        queue.close()
    return [message for message in messages if message.headers["id"] == task_id]


def ask(client, auth, conversation_id, request_id=REQUEST_ID) -> str:
    response = client.post(f"/api/conversations/{conversation_id}",
                           json={"question_message": SLA_QUESTION},
                           headers={**auth, "X-Request-Id": request_id})
    assert response.status_code == 202, response.get_json()
    return response.get_json()["task_id"]


def row(db, task_id) -> Task:
    db.session.expire_all()
    return db.session.get(Task, task_id)


def test_a_task_records_the_request_that_added_it(client, auth, conversation_id, db):
    assert row(db, ask(client, auth, conversation_id)).request_id == REQUEST_ID


def test_its_message_carries_the_request_id_in_headers_and_kwargsrepr(
        app, client, auth, conversation_id):
    task_id = ask(client, auth, conversation_id)

    [message] = published(app, task_id)

    assert message.headers[tasks.REQUEST_ID_HEADER] == REQUEST_ID
    assert message.headers["kwargsrepr"] == repr({"request_id": REQUEST_ID})
    assert tasks.REPUBLISHED_BY_HEADER not in message.headers
    # The task's real arguments are its id alone.
    args, kwargs, _ = message.decode()
    assert (args, kwargs) == ([task_id], {})
    assert message.headers["argsrepr"] == repr([task_id])


def test_the_sweeps_republish_carries_it_and_says_so(app, client, auth, conversation_id, db):
    task_id = ask(client, auth, conversation_id)
    published(app, task_id)  # the first message is lost
    db.session.execute(update(Task).where(Task.id == task_id).values(
        published_at=None, created_at=utcnow() - timedelta(minutes=5)))
    db.session.commit()

    assert tasks.sweep()["published"] == 1

    [message] = published(app, task_id)
    assert message.headers[tasks.REQUEST_ID_HEADER] == REQUEST_ID
    assert message.headers[tasks.REPUBLISHED_BY_HEADER] == "sweep"
    assert message.headers["kwargsrepr"] == repr({"request_id": REQUEST_ID})


def test_a_hand_over_carries_the_request_id_of_the_waiting_question(
        app, client, auth, conversation_id):
    first = ask(client, auth, conversation_id, "req-first")
    second = ask(client, auth, conversation_id, "req-second")  # waits its turn
    assert published(app, second) == []

    logs.bind(request_id="req-first")  # the worker running the first task
    answer(first)

    [message] = published(app, second)
    assert message.headers[tasks.REQUEST_ID_HEADER] == "req-second"


def test_a_task_added_by_a_worker_inherits_the_request_id_of_its_task(app, db, org_key):
    logs.bind(request_id="req-of-the-reply", task_id="t-1", task_kind="reply")

    task_id, _ = tasks.add_task(org_key["org_id"], "webhook")

    assert db.session.get(Task, task_id).request_id == "req-of-the-reply"
    db.session.rollback()


def test_a_task_with_no_request_has_no_request_id_and_an_empty_kwargsrepr():
    assert tasks.message_options(None) == {"headers": {}, "kwargsrepr": "{}"}

"""A worker's log context (workers/celery_app.py's task signals, the lifecycle's claim):
every line written while a task runs carries its id, kind, attempt, organization and the
request id its message brought; none of it outlives the task."""

import pytest

import workers.celery_app  # noqa: F401 - connects the task signals
from app import logs
from app.services import tasks
from tests.support.data import ask
from workers.tasks import reply


@pytest.fixture(autouse=True)
def _no_log_context():
    logs.clear()
    yield
    logs.clear()


@pytest.fixture
def context_when_finishing(monkeypatch) -> list[dict]:
    """The log context at the moment the task finishes (inside its claim)."""
    seen, finish = [], tasks.finish

    def spy(*args, **kwargs):
        seen.append(logs.context())
        return finish(*args, **kwargs)

    monkeypatch.setattr(tasks, "finish", spy)
    return seen


def test_a_running_task_logs_with_its_ids_and_its_messages_request_id(
        client, auth, org_key, conversation_id, context_when_finishing):
    task_id = ask(client, auth, conversation_id)

    reply.apply(args=[task_id], task_id=task_id,
                headers={tasks.REQUEST_ID_HEADER: "req-in-the-message"})

    assert context_when_finishing == [{
        "task_id": task_id, "task_kind": "reply", "request_id": "req-in-the-message",
        "org_id": org_key["org_id"], "attempt": 1}]
    assert logs.context() == {}  # cleared once the task has run


def test_a_message_without_a_request_id_logs_without_one(
        client, auth, conversation_id, context_when_finishing):
    task_id = ask(client, auth, conversation_id)

    reply.apply(args=[task_id], task_id=task_id)

    assert "request_id" not in context_when_finishing[0]
    assert context_when_finishing[0]["task_id"] == task_id

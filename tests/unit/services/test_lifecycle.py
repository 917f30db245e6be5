"""app/services/lifecycle.py: one delivery of a task, whatever its kind, on SQLite with
a recorded broker and a fake Redis: claim, gather, produce, store; database failures
retried in the worker without asking the model again; model failures retried or failed."""

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from app.models import Message, Task
from app.services import conversations, events, lifecycle, presence, replies, summaries
from app.services.agent_io import PermanentError, ReplyInput, Result, TransientError
from tests.support.data import ask

WORKER = "test-host:1:abc"


class Model:
    """A stand-in for an agent and its provider: counts its calls, streams two chunks."""

    def __init__(self, fail_with: Exception | None = None):
        self.calls, self.fail_with, self.inputs = 0, fail_with, []

    def __call__(self, work, on_text, on_event) -> Result:
        self.calls += 1
        self.inputs.append(work)
        if self.fail_with is not None:
            raise self.fail_with
        on_text("Yes, ")
        on_text("it does.")
        return Result("Yes, it does.", "test-model", 3, 3)


def database_down(times: int):
    """A stand-in for a step that fails `times` times as a dropped connection does."""
    failures = {"left": times}

    def fail_then(step):
        def wrapped(*args, **kwargs):
            if failures["left"]:
                failures["left"] -= 1
                raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
            return step(*args, **kwargs)
        return wrapped
    return fail_then


@pytest.fixture
def task_id(client, auth, conversation_id):
    return ask(client, auth, conversation_id)


@pytest.fixture(autouse=True)
def quick_retries(app):
    app.config["DB_RETRY_SECONDS"] = 2.0


def row(db, task_id) -> Task:
    db.session.expire_all()
    return db.session.get(Task, task_id)


def event_names(app, task_id) -> list[str]:
    return [e.name for e in app.extensions["task_events"].read(task_id, events.FROM_START, 0.01)]


def test_a_reply_runs_claim_gather_produce_store(app, db, task_id):
    model = Model()

    assert lifecycle.run(replies.KIND, task_id, model, WORKER) is None

    task = row(db, task_id)
    assert (task.state, task.attempts, task.worker) == ("SUCCESS", 1, None)
    assert isinstance(model.inputs[0], ReplyInput)
    assert model.inputs[0].question.startswith("Does FiberUP")
    reply = db.session.scalar(select(Message).where(Message.reply_to_id == task.message_id))
    assert (reply.text, reply.model, reply.input_tokens) == ("Yes, it does.", "test-model", 3)
    assert event_names(app, task_id) == ["start", "content", "content", "end"]


def test_a_store_the_database_refused_is_retried_without_asking_the_model_again(
        app, db, task_id, monkeypatch):
    monkeypatch.setattr(conversations, "add_reply", database_down(2)(conversations.add_reply))
    model = Model()

    assert lifecycle.run(replies.KIND, task_id, model, WORKER) is None

    assert model.calls == 1
    assert row(db, task_id).state == "SUCCESS"
    assert db.session.scalar(select(Message.text).where(
        Message.reply_to_id == row(db, task_id).message_id)) == "Yes, it does."


def test_a_claim_the_database_refused_is_retried_in_the_worker(app, db, task_id, monkeypatch):
    from app.services import tasks
    monkeypatch.setattr(tasks, "claim", database_down(1)(tasks.claim))

    assert lifecycle.run(replies.KIND, task_id, Model(), WORKER) is None
    assert row(db, task_id).state == "SUCCESS"


def test_a_database_down_for_longer_than_the_retries_leaves_the_message_to_retry(
        app, db, task_id, monkeypatch):
    from app.services import tasks
    app.config["DB_RETRY_SECONDS"] = 0.5
    monkeypatch.setattr(tasks, "claim", database_down(100)(tasks.claim))
    model = Model()

    retry = lifecycle.run(replies.KIND, task_id, model, WORKER)

    assert isinstance(retry, lifecycle.RetryLater) and retry.seconds > 0
    assert model.calls == 0
    assert row(db, task_id).state == "PENDING"


def test_a_database_lost_while_gathering_gives_the_claim_back(app, db, task_id, monkeypatch):
    app.config["DB_RETRY_SECONDS"] = 0.5
    monkeypatch.setattr(conversations, "history_turns",
                        database_down(100)(conversations.history_turns))

    retry = lifecycle.run(replies.KIND, task_id, Model(), WORKER)

    assert isinstance(retry, lifecycle.RetryLater)
    task = row(db, task_id)
    assert (task.state, task.attempts) == ("PENDING", 1)
    assert task.error.startswith("database unavailable")


def test_a_bug_while_gathering_fails_the_task_readably(app, db, task_id, monkeypatch):
    def broken(*_):
        raise KeyError("seq")

    monkeypatch.setattr(conversations, "history_turns", broken)

    assert lifecycle.run(replies.KIND, task_id, Model(), WORKER) is None
    task = row(db, task_id)
    assert task.state == "FAILURE"
    assert task.error.startswith("internal error: KeyError")


def test_a_transient_model_error_gives_the_claim_back_for_a_retry(app, db, task_id):
    retry = lifecycle.run(replies.KIND, task_id,
                          Model(TransientError("model error 429: slow down", retry_after=0.15)),
                          WORKER)

    assert isinstance(retry, lifecycle.RetryLater)
    assert retry.seconds == pytest.approx(max(0.15, app.config["RETRY_BACKOFF_SECONDS"]))
    task = row(db, task_id)
    assert task.state == "PENDING" and task.error == "retrying after: model error 429: slow down"
    # This worker is to publish the retry: if it dies first, the sweep does.
    assert task.worker == presence.this_worker()


def test_a_transient_error_on_the_last_attempt_fails_the_task(app, db, task_id):
    db.session.execute(update(Task).where(Task.id == task_id).values(
        attempts=app.config["REPLY_MAX_RETRIES"]))
    db.session.commit()

    lifecycle.run(replies.KIND, task_id, Model(TransientError("model error 529")), WORKER)

    task = row(db, task_id)
    assert task.state == "FAILURE"
    assert task.error.startswith("gave up after 6 attempts: model error 529")


def test_a_permanent_model_error_fails_the_task_with_its_message(app, db, task_id):
    lifecycle.run(replies.KIND, task_id, Model(PermanentError("model error 400: bad")), WORKER)

    assert row(db, task_id).error == "model error 400: bad"
    assert event_names(app, task_id)[-1] == "error"


def test_a_claim_taken_over_meanwhile_stores_nothing(app, db, task_id):
    def taken_over(work, on_text, on_event):
        # The sweep judged this worker dead and another delivery claimed the task.
        db.session.execute(update(Task).where(Task.id == task_id).values(attempts=5))
        db.session.commit()
        return Result("late", "test-model")

    assert lifecycle.run(replies.KIND, task_id, taken_over, WORKER) is None
    task = row(db, task_id)
    assert task.state == "STARTED"
    assert db.session.scalar(select(Message).where(Message.reply_to_id == task.message_id)) is None


def test_a_summary_runs_on_the_same_lifecycle(app, db, client, auth, conversation_id):
    ask(client, auth, conversation_id)
    public_id = client.get(f"/api/conversations/{conversation_id}", headers=auth
                           ).get_json()["public_id"]
    task_id = client.post(f"/dialogue/{public_id}/compact", headers=auth).get_json()["task_id"]

    lifecycle.run(summaries.KIND, task_id, Model(), WORKER)

    assert row(db, task_id).state == "SUCCESS"
    assert client.get(f"/dialogue/{public_id}", headers=auth).get_json()["summary"] == \
        "Yes, it does."

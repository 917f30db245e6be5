"""app/services/tasks.py and replies.py: claiming, idempotent completion, publishing
after commit with a broker that may be down, and the sweep."""

from datetime import timedelta

import pytest
from kombu.exceptions import OperationalError
from sqlalchemy import func, select, update

from app.models import Message, Task
from app.models.base import utcnow
from app.services import replies, tasks
from app.services.jobs import Reply
from tests.support.data import ask
from workers.tasks import reply

QUESTION = "Does FiberUP Business Duplex include an SLA?"


def fresh_task(db, task_id) -> Task:
    db.session.expire_all()
    return db.session.get(Task, task_id)


def set_task(db, task_id, **values):
    db.session.execute(update(Task).where(Task.id == task_id).values(**values))
    db.session.commit()


def agent_replies_to(db, message_id) -> list[Message]:
    db.session.expire_all()
    return list(db.session.scalars(select(Message).where(Message.reply_to_id == message_id)))


@pytest.fixture
def task_id(client, auth, conversation_id):
    return ask(client, auth, conversation_id)


@pytest.fixture
def sent(app, monkeypatch):
    """Replace the broker with a recorder: the (name, task_id) of every publish."""
    calls = []

    def send_task(name, args=None, task_id=None, **_):
        calls.append((name, task_id))

    monkeypatch.setattr(app.extensions["celery"], "send_task", send_task)
    return calls


@pytest.fixture
def broker_down(app, monkeypatch):
    def send_task(*_, **__):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(app.extensions["celery"], "send_task", send_task)


# -- claim ---------------------------------------------------------------------------------


def test_claim_moves_pending_to_started(db, task_id):
    claimed = tasks.claim(task_id)

    assert claimed is not None and claimed.attempts == 1
    task = fresh_task(db, task_id)
    assert task.state == "STARTED"
    assert task.attempts == 1


def test_second_claim_of_a_fresh_claim_returns_none(db, task_id):
    tasks.claim(task_id)

    assert tasks.claim(task_id) is None
    assert fresh_task(db, task_id).attempts == 1


def test_claim_of_unknown_task_returns_none(app):
    assert tasks.claim("00000000-0000-0000-0000-000000000000") is None


def test_stale_claim_is_claimed_again_only_after_the_sweep_requeues_it(app, db, task_id):
    tasks.claim(task_id)
    long_ago = utcnow() - timedelta(seconds=app.config["TASK_TIME_LIMIT_SECONDS"] + 1)
    set_task(db, task_id, updated_at=long_ago)

    assert tasks.claim(task_id) is None  # one rule decides a worker is dead: the sweep's
    tasks.sweep()
    assert tasks.claim(task_id) is not None
    assert fresh_task(db, task_id).attempts == 2


def test_succeeded_task_is_never_claimed_again(db, task_id):
    reply.apply(args=[task_id])
    set_task(db, task_id, updated_at=utcnow() - timedelta(days=30))

    assert tasks.claim(task_id) is None
    assert fresh_task(db, task_id).state == "SUCCESS"


def test_failed_task_is_never_claimed_again(db, task_id):
    tasks.claim(task_id)
    tasks.fail(task_id, "model error 400: bad request")
    set_task(db, task_id, updated_at=utcnow() - timedelta(days=30))

    assert tasks.claim(task_id) is None
    assert fresh_task(db, task_id).state == "FAILURE"


def test_redelivered_finished_task_leaves_one_reply(db, task_id):
    reply.apply(args=[task_id])
    reply.apply(args=[task_id])

    task = fresh_task(db, task_id)
    assert len(agent_replies_to(db, task.message_id)) == 1
    assert task.attempts == 1


# -- replies ---------------------------------------------------------------------------------


def test_prepare_claims_and_loads_the_question(db, task_id):
    job = replies.prepare(task_id)

    assert job.question == QUESTION
    assert job.history == []
    assert job.data_set_name == "Plans"
    assert job.passages
    assert fresh_task(db, task_id).state == "STARTED"


def test_complete_stores_reply_and_marks_success(db, task_id):
    job = replies.prepare(task_id)

    message_id = replies.complete(job, Reply(text="Yes.", model="m", input_tokens=3,
                                                         output_tokens=1))

    task = fresh_task(db, task_id)
    assert task.state == "SUCCESS"
    assert task.reply_message_id == message_id
    stored = db.session.get(Message, message_id)
    assert (stored.role, stored.text, stored.reply_to_id) == ("agent", "Yes.", task.message_id)


def test_complete_twice_leaves_exactly_one_reply(db, task_id):
    job = replies.prepare(task_id)
    first = replies.complete(job, Reply(text="First.", model="m"))

    second = replies.complete(job, Reply(text="Second.", model="m"))

    task = fresh_task(db, task_id)
    stored = agent_replies_to(db, task.message_id)
    assert second is None  # the claim ended with the first completion
    assert [m.text for m in stored] == ["First."]
    assert task.state == "SUCCESS" and task.reply_message_id == first


def test_complete_twice_does_not_consume_a_position(db, client, auth, conversation_id, task_id):
    job = replies.prepare(task_id)
    replies.complete(job, Reply(text="First.", model="m"))
    replies.complete(job, Reply(text="Second.", model="m"))

    later = ask(client, auth, conversation_id, "And the price?")

    question = db.session.get(Message, fresh_task(db, later).message_id)
    assert question.seq == 3


def test_later_question_is_not_answered_before_the_earlier_one(
        client, auth, conversation_id, db):
    # DESIGN invariant 4: each reply is generated from the full history before its
    # question, earlier replies included. A later question's task that runs first must
    # not store a reply made without the earlier answer.
    first = ask(client, auth, conversation_id)
    second = ask(client, auth, conversation_id, "How long does installation take?")

    reply.apply(args=[second])

    first_question = fresh_task(db, first).message_id
    second_question = fresh_task(db, second).message_id
    assert agent_replies_to(db, first_question) == []
    assert agent_replies_to(db, second_question) == []


# -- publish ---------------------------------------------------------------------------------


def test_publish_sends_the_task_under_its_own_id(sent, client, auth, conversation_id):
    task_id = ask(client, auth, conversation_id)

    assert sent == [("parley.reply", task_id)]


def test_published_task_has_published_at(db, task_id):
    assert fresh_task(db, task_id).published_at is not None


def test_broker_down_still_answers_202_with_the_task_id(broker_down, client, auth, conversation_id):
    response = client.post(f"/api/conversations/{conversation_id}",
                           json={"question_message": QUESTION}, headers=auth)

    assert response.status_code == 202
    assert response.get_json()["task_id"]


def test_broker_down_leaves_the_task_pending_and_unpublished(
        broker_down, client, auth, conversation_id, db):
    task_id = ask(client, auth, conversation_id)

    task = fresh_task(db, task_id)
    assert task.state == "PENDING"
    assert task.published_at is None
    assert db.session.get(Message, task.message_id).text == QUESTION


def test_unreachable_redis_broker_still_answers_202(app, client, auth, conversation_id, db):
    # A real refused connection (nothing listens on port 1), not a monkeypatch.
    app.extensions["celery"].conf.broker_url = "redis://127.0.0.1:1/0"

    task_id = ask(client, auth, conversation_id)

    assert fresh_task(db, task_id).published_at is None


def test_sweep_publishes_an_unpublished_task_after_the_grace_period(
        app, broker_down, client, auth, conversation_id, db, monkeypatch):
    task_id = ask(client, auth, conversation_id)
    calls = []
    monkeypatch.setattr(app.extensions["celery"], "send_task",
                        lambda name, args=None, task_id=None, **_: calls.append((name, task_id)))
    app.config["UNPUBLISHED_GRACE_SECONDS"] = 0

    result = tasks.sweep()

    assert calls == [("parley.reply", task_id)]
    assert result["unpublished"] == 1 and result["published"] == 1
    assert fresh_task(db, task_id).published_at is not None


def test_sweep_waits_for_the_grace_period(
        app, broker_down, client, auth, conversation_id, db, monkeypatch):
    task_id = ask(client, auth, conversation_id)
    calls = []
    monkeypatch.setattr(app.extensions["celery"], "send_task",
                        lambda *a, **k: calls.append(k.get("task_id")))
    app.config["UNPUBLISHED_GRACE_SECONDS"] = 3600

    tasks.sweep()

    assert calls == []
    assert fresh_task(db, task_id).published_at is None


def test_sweep_with_broker_still_down_keeps_the_task_unpublished(
        app, broker_down, client, auth, conversation_id, db):
    task_id = ask(client, auth, conversation_id)
    app.config["UNPUBLISHED_GRACE_SECONDS"] = 0

    result = tasks.sweep()

    assert result["published"] == 0
    assert fresh_task(db, task_id).published_at is None


def test_sweep_leaves_published_pending_tasks_alone(app, task_id, sent, db):
    app.config["UNPUBLISHED_GRACE_SECONDS"] = 0

    result = tasks.sweep()

    assert sent == []
    assert result == {"unpublished": 0, "abandoned": 0, "failed": 0, "published": 0}


def test_sweep_requeues_a_task_started_longer_ago_than_the_deadline(app, task_id, sent, db):
    tasks.claim(task_id)
    deadline = app.config["TASK_TIME_LIMIT_SECONDS"] + 60
    set_task(db, task_id, updated_at=utcnow() - timedelta(seconds=deadline + 5))

    result = tasks.sweep()

    task = fresh_task(db, task_id)
    assert result["abandoned"] == 1
    assert task.state == "PENDING"
    assert sent == [("parley.reply", task_id)]


def test_requeued_task_can_then_be_answered(app, task_id, sent, db):
    tasks.claim(task_id)
    deadline = app.config["TASK_TIME_LIMIT_SECONDS"] + 60
    set_task(db, task_id, updated_at=utcnow() - timedelta(seconds=deadline + 5))
    tasks.sweep()

    reply.apply(args=[task_id])

    task = fresh_task(db, task_id)
    assert task.state == "SUCCESS"
    assert len(agent_replies_to(db, task.message_id)) == 1


def test_sweep_leaves_a_recently_started_task_alone(task_id, sent, db):
    tasks.claim(task_id)

    result = tasks.sweep()

    assert result["abandoned"] == 0
    assert sent == []
    assert fresh_task(db, task_id).state == "STARTED"


def test_task_count_is_one_per_question(client, auth, conversation_id, db):
    ask(client, auth, conversation_id)
    ask(client, auth, conversation_id, "And the price?")

    assert db.session.scalar(select(func.count()).select_from(Task)) == 2


# -- order within a conversation ---------------------------------------------------------


def test_question_behind_an_unfinished_one_waits_unpublished(
        sent, client, auth, conversation_id, db):
    first = ask(client, auth, conversation_id)
    second = ask(client, auth, conversation_id)

    assert sent == [("parley.reply", first)]
    waiting = fresh_task(db, second)
    assert (waiting.state, waiting.published_at) == ("PENDING", None)
    assert tasks.claim(second) is None  # not its turn, even if a message arrived


def test_finishing_a_question_hands_over_to_the_next_one(
        sent, client, auth, conversation_id, db):
    first = ask(client, auth, conversation_id)
    second = ask(client, auth, conversation_id)
    third = ask(client, auth, conversation_id)

    replies.complete(replies.prepare(first), Reply(text="One.", model="m"))

    assert sent == [("parley.reply", first), ("parley.reply", second)]
    assert fresh_task(db, second).published_at is not None
    assert fresh_task(db, third).published_at is None
    job = replies.prepare(second)
    assert [turn.text for turn in job.history] == [QUESTION, "One."]


def test_failing_a_question_hands_over_to_the_next_one(
        sent, client, auth, conversation_id, db):
    first = ask(client, auth, conversation_id)
    second = ask(client, auth, conversation_id)

    tasks.fail(first, "model error 400: bad request")

    assert sent == [("parley.reply", first), ("parley.reply", second)]
    assert tasks.claim(second) is not None


def test_question_after_a_finished_one_is_queued_at_once(
        sent, client, auth, conversation_id, db):
    first = ask(client, auth, conversation_id)
    replies.complete(replies.prepare(first), Reply(text="One.", model="m"))
    second = ask(client, auth, conversation_id)

    assert sent == [("parley.reply", first), ("parley.reply", second)]
    assert fresh_task(db, second).published_at is not None


# -- claims that were taken over -----------------------------------------------------------


def take_over(db, task_id):
    """What the sweep does to a task whose worker looks dead: back to PENDING."""
    db.session.execute(update(Task).where(Task.id == task_id).values(state="PENDING"))
    db.session.commit()


def test_a_lost_claim_cannot_store_a_reply(db, task_id):
    stale = replies.prepare(task_id)
    take_over(db, task_id)
    current = replies.prepare(task_id)

    assert replies.complete(stale, Reply(text="Late.", model="m")) is None
    assert replies.complete(current, Reply(text="Current.", model="m")) is not None
    assert [m.text for m in agent_replies_to(db, fresh_task(db, task_id).message_id)] == [
        "Current."]


def test_a_lost_claim_cannot_fail_or_release_the_task(db, task_id):
    stale = replies.prepare(task_id)
    take_over(db, task_id)
    current = replies.prepare(task_id)
    replies.complete(current, Reply(text="Done.", model="m"))

    tasks.fail(task_id, "late failure", stale.attempt)
    released = tasks.release_for_retry(task_id, stale.attempt, "late retry")

    assert released is False
    task = fresh_task(db, task_id)
    assert (task.state, task.error) == ("SUCCESS", None)


# -- the sweep ---------------------------------------------------------------------------------


def test_sweep_republishes_a_task_whose_message_was_lost(app, db, sent, task_id):
    # Published (as the row says) long ago, yet never started: the message is gone.
    long_ago = utcnow() - timedelta(days=1)
    db.session.execute(update(Task).where(Task.id == task_id).values(published_at=long_ago))
    db.session.commit()
    sent.clear()

    result = tasks.sweep()

    assert result["unpublished"] == 1
    assert sent == [("parley.reply", task_id)]
    assert fresh_task(db, task_id).published_at > long_ago


def test_sweep_fails_a_task_abandoned_too_often(app, db, task_id):
    app.config["REPLY_MAX_RETRIES"] = 2
    db.session.execute(update(Task).where(Task.id == task_id).values(
        state="STARTED", attempts=3, updated_at=utcnow() - timedelta(days=1)))
    db.session.commit()

    result = tasks.sweep()

    task = fresh_task(db, task_id)
    assert result["failed"] == 1
    assert task.state == "FAILURE" and "worker stopped" in task.error


# -- failures after the claim -------------------------------------------------------------


def test_database_lost_after_the_claim_gives_the_task_back(db, task_id, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def unreachable(*_args, **_kwargs):
        raise OperationalError("SELECT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(replies.conversations, "history_turns", unreachable)

    with pytest.raises(OperationalError):
        replies.prepare(task_id)

    task = fresh_task(db, task_id)
    assert task.state == "PENDING"  # the retried message can claim it again
    assert "database unavailable" in task.error


def test_a_bug_after_the_claim_fails_the_task_readably(db, task_id, monkeypatch):
    def broken(*_args, **_kwargs):
        raise KeyError("oops")

    monkeypatch.setattr(replies.conversations, "history_turns", broken)

    assert replies.prepare(task_id) is None
    task = fresh_task(db, task_id)
    assert (task.state, task.error) == ("FAILURE", "internal error: KeyError")

"""app/services/tasks.py and replies.py: claiming, finishing once, publishing after
commit with a broker that may be down, order within a conversation, and the sweep's
time limit (dead workers: test_sweep.py; the steps of a delivery: test_lifecycle.py)."""

from datetime import timedelta

import pytest
from kombu.exceptions import OperationalError
from sqlalchemy import func, select, update

from app.models import Message, Task
from app.models.base import utcnow
from app.services import events, presence, replies, tasks
from tests.support.data import ask
from tests.support.work import WORKER, answer
from tests.support.work import fail as fail_task
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
def broker_down(app, monkeypatch):
    def send_task(*_, **__):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(app.extensions["celery"], "send_task", send_task)


# -- claim ---------------------------------------------------------------------------------


def test_claim_moves_pending_to_started(db, task_id):
    claimed = tasks.claim(task_id, WORKER)

    assert claimed is not None and claimed.attempt == 1
    task = fresh_task(db, task_id)
    assert task.state == "STARTED"
    assert task.attempts == 1


def test_second_claim_of_a_fresh_claim_returns_none(db, task_id):
    tasks.claim(task_id, WORKER)

    assert tasks.claim(task_id, WORKER) is None
    assert fresh_task(db, task_id).attempts == 1


def test_claim_of_unknown_task_returns_none(app):
    assert tasks.claim("00000000-0000-0000-0000-000000000000", WORKER) is None


def test_stale_claim_is_claimed_again_only_after_the_sweep_requeues_it(app, db, task_id):
    tasks.claim(task_id, WORKER)
    long_ago = utcnow() - timedelta(seconds=app.config["TASK_TIME_LIMIT_SECONDS"] + 1)
    set_task(db, task_id, updated_at=long_ago)

    assert tasks.claim(task_id, WORKER) is None  # one rule decides a worker is dead: the sweep's
    tasks.sweep()
    assert tasks.claim(task_id, WORKER) is not None
    assert fresh_task(db, task_id).attempts == 2


def test_succeeded_task_is_never_claimed_again(db, task_id):
    reply.apply(args=[task_id])
    set_task(db, task_id, updated_at=utcnow() - timedelta(days=30))

    assert tasks.claim(task_id, WORKER) is None
    assert fresh_task(db, task_id).state == "SUCCESS"


def test_failed_task_is_never_claimed_again(db, task_id):
    fail_task(task_id, "model error 400: bad request")
    set_task(db, task_id, updated_at=utcnow() - timedelta(days=30))

    assert tasks.claim(task_id, WORKER) is None
    assert fresh_task(db, task_id).state == "FAILURE"


def test_redelivered_finished_task_leaves_one_reply(db, task_id):
    reply.apply(args=[task_id])
    reply.apply(args=[task_id])

    task = fresh_task(db, task_id)
    assert len(agent_replies_to(db, task.message_id)) == 1
    assert task.attempts == 1


# -- replies ---------------------------------------------------------------------------------


def test_gather_loads_the_question_its_history_and_passages(db, task_id):
    gathered = replies.gather(tasks.claim(task_id, WORKER))

    assert gathered.input.question == QUESTION
    assert gathered.input.history == []
    assert gathered.input.data_set_name == "Plans"
    assert gathered.input.passages
    assert gathered.announce["message_id"] == replies.reply_public_id(task_id)
    assert fresh_task(db, task_id).state == "STARTED"


def test_a_stored_reply_is_the_tasks_reply(app, db, org_key, task_id):
    answer(task_id, "Yes.", "m", 3, 1)

    task = tasks.get_task(org_key["org_id"], task_id)
    assert task.state == "SUCCESS" and task.worker is None
    stored = db.session.get(Message, task.reply_message_id)
    assert (stored.role, stored.text, stored.reply_to_id, stored.model) == (
        "agent", "Yes.", task.message_id, "m")


def test_a_claim_finishes_its_task_once(db, task_id):
    held = tasks.claim(task_id, WORKER)
    first = tasks.finish(held, tasks.SUCCESS, write=lambda: "stored")

    again = tasks.finish(held, tasks.SUCCESS, write=lambda: "stored again")

    assert (first.written, first.repeated) == ("stored", False)
    # Finished already by this very claim (a commit whose answer was lost): nothing is
    # written twice, and the hand-over is taken again, to be published.
    assert (again.written, again.repeated) == (None, True)
    assert tasks.finish(held, tasks.FAILURE, "late") is None
    assert fresh_task(db, task_id).state == "SUCCESS"


def test_a_commit_whose_answer_was_lost_still_hands_over(sent, client, auth,
                                                        conversation_id, db):
    first = ask(client, auth, conversation_id)
    second = ask(client, auth, conversation_id, "And the price?")
    held = tasks.claim(first, WORKER)
    tasks.finish(held, tasks.SUCCESS)  # committed, and the worker heard nothing back
    db.session.execute(update(Task).where(Task.id == second).values(published_at=None))
    db.session.commit()

    again = tasks.finish(held, tasks.SUCCESS)

    assert again.repeated and again.handover[0] == second


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
    assert result == {"unpublished": 0, "abandoned": 0, "failed": 0, "restored": 0,
                      "woken": 0, "published": 0}


@pytest.fixture
def live_worker(app):
    """This process, beating a heartbeat as a worker does: its claims are not dead."""
    beat = presence.Heartbeat(app.extensions["task_events"].client, 60).start()
    yield presence.this_worker()
    beat.stop()


def test_sweep_requeues_a_task_started_longer_ago_than_the_deadline(app, task_id, sent, db,
                                                                    live_worker):
    # Its worker beats, but the task has made no progress for the time limit: stuck.
    tasks.claim(task_id, live_worker)
    deadline = app.config["TASK_TIME_LIMIT_SECONDS"] + 60
    set_task(db, task_id, updated_at=utcnow() - timedelta(seconds=deadline + 5))

    result = tasks.sweep()

    task = fresh_task(db, task_id)
    assert result["abandoned"] == 1
    assert task.state == "PENDING"
    assert sent == [("parley.reply", task_id)]


def test_requeued_task_can_then_be_answered(app, task_id, sent, db):
    tasks.claim(task_id, WORKER)
    deadline = app.config["TASK_TIME_LIMIT_SECONDS"] + 60
    set_task(db, task_id, updated_at=utcnow() - timedelta(seconds=deadline + 5))
    tasks.sweep()

    reply.apply(args=[task_id])

    task = fresh_task(db, task_id)
    assert task.state == "SUCCESS"
    assert len(agent_replies_to(db, task.message_id)) == 1


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
    assert tasks.claim(second, WORKER) is None  # not its turn, even if a message arrived


def test_finishing_a_question_hands_over_to_the_next_one(
        sent, client, auth, conversation_id, db):
    first = ask(client, auth, conversation_id)
    second = ask(client, auth, conversation_id)
    third = ask(client, auth, conversation_id)

    answer(first, "One.")

    assert sent == [("parley.reply", first), ("parley.reply", second)]
    assert fresh_task(db, second).published_at is not None
    assert fresh_task(db, third).published_at is None
    job = answer(second)
    assert [turn.text for turn in job.history] == [QUESTION, "One."]


def test_failing_a_question_hands_over_to_the_next_one(
        sent, client, auth, conversation_id, db):
    first = ask(client, auth, conversation_id)
    second = ask(client, auth, conversation_id)

    fail_task(first, "model error 400: bad request")

    assert sent == [("parley.reply", first), ("parley.reply", second)]
    assert tasks.claim(second, WORKER) is not None


def test_question_after_a_finished_one_is_queued_at_once(
        sent, client, auth, conversation_id, db):
    first = ask(client, auth, conversation_id)
    answer(first, "One.")
    second = ask(client, auth, conversation_id)

    assert sent == [("parley.reply", first), ("parley.reply", second)]
    assert fresh_task(db, second).published_at is not None


# -- claims that were taken over -----------------------------------------------------------


def take_over(db, task_id):
    """What the sweep does to a task whose worker looks dead: back to PENDING."""
    db.session.execute(update(Task).where(Task.id == task_id).values(state="PENDING"))
    db.session.commit()


def test_a_lost_claim_cannot_finish_the_task(db, task_id):
    stale = tasks.claim(task_id, WORKER)
    take_over(db, task_id)
    current = tasks.claim(task_id, WORKER)

    assert tasks.finish(stale, tasks.SUCCESS) is None
    assert tasks.finish(current, tasks.SUCCESS) is not None
    assert fresh_task(db, task_id).state == "SUCCESS"


def test_a_lost_claim_cannot_fail_or_release_the_task(db, task_id):
    stale = tasks.claim(task_id, WORKER)
    take_over(db, task_id)
    answer(task_id, "Done.")

    failed = tasks.fail(stale, "late failure")
    released = tasks.release(stale, "late retry")

    assert failed is False and released is False
    task = fresh_task(db, task_id)
    assert (task.state, task.error) == ("SUCCESS", None)
    assert [m.text for m in agent_replies_to(db, task.message_id)] == ["Done."]


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


# -- cancel --------------------------------------------------------------------------------


def test_a_task_canceled_while_it_runs_ends_canceled_when_it_finishes(app, db, org_key,
                                                                      task_id):
    # Its worker never saw the flag (no chunk after it, or Redis was down): the row says
    # it, and finishing stores nothing.
    held = tasks.claim(task_id, WORKER)
    assert tasks.cancel(org_key["org_id"], task_id) == tasks.STOPPING

    finished = tasks.finish(held, tasks.SUCCESS, write=lambda: "stored")

    assert (finished.canceled, finished.written) == (True, None)
    task = fresh_task(db, task_id)
    assert (task.state, task.error) == ("FAILURE", tasks.CANCELED_ERROR)
    assert agent_replies_to(db, task.message_id) == []
    again = tasks.finish(held, tasks.SUCCESS, write=lambda: "stored")
    assert (again.repeated, again.canceled, again.written) == (True, True, None)


def test_a_task_canceled_while_it_runs_is_not_given_back_for_a_retry(app, db, org_key,
                                                                     task_id):
    held = tasks.claim(task_id, WORKER)
    tasks.cancel(org_key["org_id"], task_id)

    assert tasks.release(held, "the model is overloaded") is False
    assert fresh_task(db, task_id).state == "FAILURE"
    assert tasks.claim(task_id, WORKER) is None


def test_the_cancel_flag_stops_the_content_writer_at_its_next_chunk(app, org_key,
                                                                     task_id):
    write = events.task_events().content_writer(task_id)
    write("first words")
    tasks.claim(task_id, WORKER)
    tasks.cancel(org_key["org_id"], task_id)

    with pytest.raises(events.TaskCanceled):
        write("next words")  # raises here once its window passed, else as it closes
        write.close()

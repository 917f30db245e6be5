"""app/services/task_admin.py, the operator's view of tasks: listing with filters,
showing a row whatever its organization, running a failed task again as a new attempt
(and refusing what must not run again), cancelling on the task's own organization."""

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from app.errors import Conflict, InvalidInput, NotFound
from app.models import Task
from app.models.base import utcnow
from app.services import events, task_admin, tasks
from tests.support.data import ask
from tests.support.work import answer
from tests.support.work import fail as fail_task

UNKNOWN = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def failed_task(client, auth, conversation_id, sent):
    task_id = ask(client, auth, conversation_id)
    fail_task(task_id, "gave up after 6 attempts: overloaded")
    sent.clear()
    return task_id


def row(db, task_id) -> Task:
    db.session.expire_all()
    return db.session.get(Task, task_id)


def test_since_takes_an_age_or_an_iso_time():
    now = datetime(2026, 11, 28, 18, 0, tzinfo=timezone.utc)

    assert task_admin.since("90s", now) == now - timedelta(seconds=90)
    assert task_admin.since("2h", now) == now - timedelta(hours=2)
    assert task_admin.since("7d", now) == now - timedelta(days=7)
    assert task_admin.since("2026-11-28T17:00:00") == datetime(2026, 11, 28, 17, 0,
                                                                tzinfo=timezone.utc)
    assert task_admin.since("2026-11-28T17:00:00+01:00").utcoffset() == timedelta(hours=1)
    with pytest.raises(InvalidInput):
        task_admin.since("yesterday")


def test_list_is_newest_first_and_filters(app, client, auth, conversation_id, failed_task,
                                          data_set_id):
    other_conversation = client.post("/api/conversations", json={"data_set_id": data_set_id},
                                     headers=auth).get_json()["id"]
    queued = ask(client, auth, other_conversation)
    org_id = task_admin.show(queued)["org_id"]

    assert [t["id"] for t in task_admin.list_tasks()] == [queued, failed_task]
    assert [t["id"] for t in task_admin.list_tasks(state="failed")] == [failed_task]
    assert [t["id"] for t in task_admin.list_tasks(state="queued")] == [queued]
    assert task_admin.list_tasks(state="running") == []
    assert task_admin.list_tasks(kind="compact") == []
    assert len(task_admin.list_tasks(kind="reply", org_id=org_id)) == 2
    assert task_admin.list_tasks(org_id="org_nobody") == []
    assert task_admin.list_tasks(created_since=utcnow() + timedelta(seconds=5)) == []
    assert [t["id"] for t in task_admin.list_tasks(limit=1)] == [queued]


def test_show_has_every_column_its_queue_and_its_error(db, failed_task):
    shown = task_admin.show(failed_task)

    assert {column.name for column in Task.__table__.columns} <= set(shown)
    assert shown["state"] == "FAILURE"
    assert shown["error"] == "gave up after 6 attempts: overloaded"
    assert shown["attempts"] == 1
    assert shown["celery_task"] == "parley.reply"
    assert shown["queue"] == "replies"


def test_show_of_an_unknown_task_is_not_found(app):
    with pytest.raises(NotFound):
        task_admin.show(UNKNOWN)
    with pytest.raises(NotFound):
        task_admin.show("not-a-task-id")


def test_retry_queues_a_failed_task_again_and_publishes_it(db, app, failed_task, sent):
    stream = events.task_events()

    assert task_admin.retry(failed_task) is True

    task = row(db, failed_task)
    assert (task.state, task.error, task.worker, task.not_before) == ("PENDING", None, None,
                                                                      None)
    assert task.published_at is not None
    assert sent == [("parley.reply", failed_task)]
    assert stream.client.exists(f"parley:task-events:{failed_task}") == 0


def test_a_retried_task_runs_as_a_new_attempt_and_stores_one_reply(
        db, client, auth, conversation_id, failed_task):
    task_admin.retry(failed_task)

    assert answer(failed_task, text="Yes, with 99.9% uptime.") is not None

    task = row(db, failed_task)
    assert (task.state, task.attempts) == ("SUCCESS", 2)
    texts = [m["text"] for m in client.get(f"/api/conversations/{conversation_id}",
                                           headers=auth).get_json()["history"]]
    assert texts[1:] == ["Yes, with 99.9% uptime."]
    # Finished now, it is not run again: a second retry is refused.
    with pytest.raises(Conflict) as refused:
        task_admin.retry(failed_task)
    assert refused.value.code == "task_not_failed"


def test_a_claim_of_the_failed_attempt_cannot_finish_the_retried_task(db, failed_task):
    task_admin.retry(failed_task)
    stale = tasks.Claim(failed_task, row(db, failed_task).org_id, 1, None, None, "reply")

    assert tasks.finish(stale, tasks.SUCCESS) is None
    assert row(db, failed_task).state == "PENDING"


def test_retry_waits_its_turn_behind_an_unfinished_earlier_question(
        db, client, auth, conversation_id, failed_task, sent):
    later = ask(client, auth, conversation_id)  # published: the failed one has finished
    fail_task(later, "overloaded")
    task_admin.retry(failed_task)  # the earlier question is unfinished again
    sent.clear()

    assert task_admin.retry(later) is False

    assert row(db, later).state == "PENDING"
    assert row(db, later).published_at is None  # its turn comes by the hand-over
    assert sent == []
    answer(failed_task)
    assert sent == [("parley.reply", later)]


def test_retry_refuses_what_must_not_run_again(db, client, auth, conversation_id, sent):
    queued = ask(client, auth, conversation_id)
    with pytest.raises(Conflict) as refused:
        task_admin.retry(queued)
    assert refused.value.code == "task_not_failed"

    tasks.cancel(task_admin.show(queued)["org_id"], queued)
    with pytest.raises(Conflict) as refused:
        task_admin.retry(queued)
    assert refused.value.code == "task_canceled"
    assert row(db, queued).state == "FAILURE"

    with pytest.raises(NotFound):
        task_admin.retry(UNKNOWN)


def test_retry_refuses_a_failed_task_whose_reply_is_stored(db, client, auth, conversation_id):
    task_id = ask(client, auth, conversation_id)
    answer(task_id)
    # A reply stored, yet the row says FAILURE: it must still not run twice.
    db.session.execute(update(Task).where(Task.id == task_id).values(state="FAILURE"))
    db.session.commit()

    with pytest.raises(Conflict) as refused:
        task_admin.retry(task_id)
    assert refused.value.code == "task_stored"


def test_cancel_needs_no_organization(db, client, auth, conversation_id, sent):
    queued = ask(client, auth, conversation_id)

    assert task_admin.cancel(queued) == tasks.ENDED_NOW
    task = row(db, queued)
    assert task.state == "FAILURE" and task.canceled_at is not None
    with pytest.raises(NotFound):
        task_admin.cancel(UNKNOWN)


def test_cancel_of_a_finished_task_is_refused(db, client, auth, conversation_id):
    task_id = ask(client, auth, conversation_id)
    answer(task_id)

    with pytest.raises(Conflict):
        task_admin.cancel(task_id)

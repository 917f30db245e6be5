"""Task state, the database's truth about every piece of background work.

The web side reads it (one indexed select) and publishes tasks after commit; the
worker side claims a task before working on it and finishes it in the same
transaction that stores its result.

A claim is a lease with a token: claiming bumps `attempts`, and a worker may finish
the task only while the task is still STARTED with the attempt it claimed. A worker
whose claim was taken over (the sweep judged it dead) can change nothing.

Order within a conversation: a question's task runs only when every earlier question
of its conversation has finished. A question posted behind an unfinished one is stored
unpublished; when a task finishes, it hands over to the next waiting question of its
conversation, publishing it. Posting and finishing both hold the conversation's row
lock while they decide, so a hand-over is never missed.
"""

import logging
import re
from datetime import timedelta

from flask import current_app
from sqlalchemy import exists, select, update
from sqlalchemy.orm import aliased

from app.errors import NotFound
from app.extensions import db
from app.models import Conversation, Task, TaskState
from app.models.base import utcnow

log = logging.getLogger(__name__)

REPLY_TASK = "parley.reply"
SWEEP_BATCH = 500
UNFINISHED = (TaskState.PENDING.value, TaskState.STARTED.value)
_TASK_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# (task id, task name) of a task to publish once the caller's transaction commits.
Handover = tuple[str, str] | None


def get_task(org_id: str, task_id: str):
    """The task's row (its columns, not an ORM object: this is the hot read clients
    poll). Another organization's task is not found, like an unknown one."""
    task = db.session.execute(
        select(*Task.__table__.c).where(Task.id == task_id, Task.org_id == org_id)
    ).first() if _TASK_ID.match(task_id) else None
    if task is None:
        raise NotFound(f"Task {task_id} not found.")
    return task


def publish(task_id: str, name: str) -> bool:
    """Send the task to the broker, after the row is committed. If the broker is down,
    the row is marked unpublished and the sweep sends it later: the caller still
    answers with the task id, and nothing accepted is lost."""
    celery = current_app.extensions["celery"]
    try:
        celery.send_task(name, args=[task_id], task_id=task_id)
        return True
    except Exception as exc:  # kombu raises many kinds; any of them means "not sent"
        log.warning("could not publish task %s, the sweep will: %s", task_id, exc)
        _mark_unpublished(task_id)
        return False


def _mark_unpublished(task_id: str) -> None:
    """Best effort: if the database is down too, the sweep still finds the task once
    its publication is older than the visibility timeout."""
    try:
        db.session.execute(update(Task).where(Task.id == task_id).values(published_at=None))
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        log.warning("could not mark task %s unpublished: %s", task_id, exc)


# Other rows of the tasks table in correlated statements; built once, as aliasing an
# entity is not cheap.
_earlier = aliased(Task, name="earlier")
_next = aliased(Task, name="next_task")


def _earlier_unfinished(conversation_id, message_id):
    """SQL: a question before `message_id` in the conversation is still unfinished.
    Takes values or columns, so it also works correlated to the tasks table."""
    return exists().where(_earlier.conversation_id == conversation_id,
                          _earlier.message_id < message_id,
                          _earlier.state.in_(UNFINISHED))


def must_wait(conversation_id: int, message_id: int) -> bool:
    """Whether a new question must wait for an earlier one (call with the
    conversation locked)."""
    return db.session.scalar(select(_earlier_unfinished(conversation_id, message_id)))


def claim(task_id: str):
    """Atomically move a PENDING task whose turn has come to STARTED, taking a new
    attempt number; returns the claimed task's (conversation_id, message_id,
    data_set_id, attempts). None when there is nothing to do: the task is unknown,
    finished, waiting for an earlier question, or held by another worker, so a
    redelivered or duplicated message never runs the model twice."""
    claimed = db.session.execute(
        update(Task)
        .where(Task.id == task_id, Task.state == TaskState.PENDING.value,
               ~_earlier_unfinished(Task.conversation_id, Task.message_id))
        .values(state=TaskState.STARTED.value, attempts=Task.attempts + 1, error=None,
                updated_at=utcnow())
        .returning(Task.conversation_id, Task.message_id, Task.data_set_id, Task.attempts)
    ).first()
    db.session.commit()
    return claimed


def _held(task_id: str, attempt: int):
    """SQL: the task is still STARTED under this claim."""
    return (Task.id == task_id) & (Task.state == TaskState.STARTED.value) & (
        Task.attempts == attempt)


def release_for_retry(task_id: str, attempt: int, error: str) -> bool:
    """Back to PENDING so the retried delivery can claim it; the error says why. The
    task keeps its place: later questions of its conversation go on waiting. The retry
    counts as published now: if its message is lost, the sweep sends it again."""
    db.session.rollback()  # whatever failed before may have left the transaction aborted
    released = db.session.execute(update(Task).where(_held(task_id, attempt)).values(
        state=TaskState.PENDING.value, error=f"retrying after: {error}"[:2000],
        published_at=utcnow(), updated_at=utcnow())).rowcount
    db.session.commit()
    return bool(released)


def fail(task_id: str, error: str, attempt: int | None = None) -> None:
    """End the task FAILURE, if this claim still holds it (any unfinished task when
    attempt is None), and hand over to the conversation's next question."""
    db.session.rollback()  # whatever failed before may have left the transaction aborted
    conversation_id = db.session.scalar(select(Task.conversation_id).where(Task.id == task_id))
    if conversation_id is None:
        return
    lock_conversation(conversation_id)
    holder = (_held(task_id, attempt) if attempt is not None
              else (Task.id == task_id) & Task.state.in_(UNFINISHED))
    failed = _finish(holder, state=TaskState.FAILURE.value, error=error[:2000])
    if failed is None:
        db.session.rollback()
        return
    handover = hand_over(conversation_id, failed.message_id)
    db.session.commit()
    publish_handover(handover)


def succeed(task_id: str, attempt: int, reply_message_id: int):
    """Mark SUCCESS, if the claim `attempt` still holds the task, inside the caller's
    transaction (the one that stored the result, with the conversation locked).
    Returns the finished task's row, or None when the claim was lost."""
    return _finish(_held(task_id, attempt), state=TaskState.SUCCESS.value, error=None,
                   reply_message_id=reply_message_id)


def _finish(holder, **values):
    return db.session.execute(
        update(Task).where(holder).values(updated_at=utcnow(), **values)
        .returning(Task.conversation_id, Task.message_id)).first()


def hand_over(conversation_id: int, message_id: int | None) -> Handover:
    """The next waiting question of the conversation after `message_id`, marked
    published; the caller publishes it after its commit."""
    if message_id is None:
        return None
    next_waiting = (
        select(_next.id).where(_next.conversation_id == conversation_id,
                               _next.message_id > message_id,
                               _next.state == TaskState.PENDING.value)
        .order_by(_next.message_id).limit(1).scalar_subquery())
    return db.session.execute(
        update(Task).where(Task.id == next_waiting).values(published_at=utcnow())
        .returning(Task.id, Task.name)).first()


def publish_handover(handover: Handover) -> None:
    if handover is not None:
        publish(*handover)


def lock_conversation(conversation_id: int) -> None:
    """Take the conversation's row lock for the rest of the transaction (SQLite locks
    the whole database on the first write anyway)."""
    db.session.execute(update(Conversation).where(Conversation.id == conversation_id)
                       .values(last_seq=Conversation.last_seq))


def sweep() -> dict:
    """Make sure every task ends:
    - publish tasks the broker never accepted (unpublished past a grace period), and
      tasks published so long ago that their message must be lost (past the broker's
      visibility timeout: a queued message would have been delivered by then);
    - re-queue tasks whose worker died (STARTED with no progress past the deadline),
      and fail those that have been abandoned too often to try again.
    Only the head of each conversation's line is published; the rest follow in turn."""
    now = utcnow()
    config = current_app.config
    visibility = config["CELERY"]["broker_transport_options"]["visibility_timeout"]
    is_head = ~_earlier_unfinished(Task.conversation_id, Task.message_id)
    lost = db.session.execute(
        select(Task.id, Task.name).where(
            Task.state == TaskState.PENDING.value, is_head,
            ((Task.published_at.is_(None)) & (Task.created_at < now - timedelta(
                seconds=config["UNPUBLISHED_GRACE_SECONDS"])))
            | (Task.published_at < now - timedelta(seconds=visibility)))
        .limit(SWEEP_BATCH)).all()
    stale = now - timedelta(seconds=config["TASK_TIME_LIMIT_SECONDS"])
    abandoned = db.session.execute(
        select(Task.id, Task.name, Task.attempts).where(
            Task.state == TaskState.STARTED.value, Task.updated_at < stale)
        .limit(SWEEP_BATCH)).all()
    too_often = [t for t in abandoned if t.attempts > config["REPLY_MAX_RETRIES"]]
    # Re-queue only what is still abandoned now: a slow worker may have finished since.
    requeued = db.session.execute(
        update(Task).where(
            Task.id.in_([t.id for t in abandoned if t not in too_often]),
            Task.state == TaskState.STARTED.value, Task.updated_at < stale)
        .values(state=TaskState.PENDING.value, error="re-queued: its worker stopped",
                published_at=now)
        .returning(Task.id, Task.name)).all()
    db.session.execute(update(Task).where(Task.id.in_([t.id for t in lost]))
                       .values(published_at=now))
    db.session.commit()
    for task in too_often:
        fail(task.id, "gave up: its worker stopped during each of its attempts", task.attempts)
    published = sum(publish(task_id, name) for task_id, name in [*lost, *requeued])
    return {"unpublished": len(lost), "abandoned": len(requeued), "failed": len(too_often),
            "published": published}

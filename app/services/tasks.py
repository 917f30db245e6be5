"""Task state, the database's truth about every piece of background work.

The web side reads it (one indexed select) and publishes tasks after commit; the
worker side claims a task before working on it and finishes it in the same
transaction that stores its result.

Order within a conversation: a question's task runs only when every earlier question
of its conversation has finished. A question posted behind an unfinished one is stored
unpublished; when a task finishes, it hands over to the next waiting question of its
conversation, publishing it. Posting and finishing both hold the conversation's row
lock while they decide, so a hand-over is never missed.
"""

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import aliased

from app.errors import NotFound
from app.extensions import db
from app.models import Conversation, Task, TaskState
from app.models.base import utcnow

log = logging.getLogger(__name__)

REPLY_TASK = "parley.reply"
SWEEP_BATCH = 500
UNFINISHED = (TaskState.PENDING.value, TaskState.STARTED.value)

# (task id, task name) of a task to publish once the caller's transaction commits.
Handover = tuple[str, str] | None


def get_task(org_id: str, task_id: str) -> Task:
    task = db.session.get(Task, task_id)
    if task is None or task.org_id != org_id:
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
        db.session.execute(update(Task).where(Task.id == task_id).values(published_at=None))
        db.session.commit()
        return False


def earlier_unfinished(task=Task):
    """SQL: an earlier question of the task's conversation is still unfinished."""
    earlier = aliased(Task)
    return exists().where(earlier.conversation_id == task.conversation_id,
                          earlier.message_id < task.message_id,
                          earlier.state.in_(UNFINISHED))


def must_wait(conversation_id: int, message_id: int) -> bool:
    """Whether a new question must wait for an earlier one (call with the
    conversation locked)."""
    earlier_task = select(Task.id).where(
        Task.conversation_id == conversation_id, Task.message_id < message_id,
        Task.state.in_(UNFINISHED)).limit(1)
    return db.session.scalar(earlier_task) is not None


def claim(task_id: str) -> Task | None:
    """Atomically move the task to STARTED. Returns None when there is nothing to do:
    the task is unknown, finished, waiting for an earlier question of its conversation,
    or held by another worker's live claim, so a redelivered or duplicated message never
    runs the model twice."""
    now = utcnow()
    stale = now - timedelta(seconds=current_app.config["TASK_TIME_LIMIT_SECONDS"])
    claimed = db.session.execute(
        update(Task)
        .where(Task.id == task_id, ~earlier_unfinished(), or_(
            Task.state == TaskState.PENDING.value,
            (Task.state == TaskState.STARTED.value) & (Task.updated_at < stale)))
        .values(state=TaskState.STARTED.value, attempts=Task.attempts + 1, updated_at=now)
    ).rowcount
    db.session.commit()
    return db.session.get(Task, task_id) if claimed else None


def release_for_retry(task_id: str, error: str) -> None:
    """Back to PENDING so the retried delivery can claim it; the error says why. The
    task keeps its place: later questions of its conversation go on waiting."""
    db.session.execute(update(Task).where(Task.id == task_id).values(
        state=TaskState.PENDING.value, error=f"retrying after: {error}"[:2000],
        updated_at=utcnow()))
    db.session.commit()


def fail(task_id: str, error: str) -> None:
    task = db.session.get(Task, task_id)
    lock_conversation(task.conversation_id)
    task.state = TaskState.FAILURE.value
    task.error = error[:2000]
    handover = hand_over(task)
    db.session.commit()
    publish_handover(handover)


def succeed(task: Task, reply_message_id: int | None) -> Handover:
    """Mark done inside the caller's transaction (the one that stored the result, with
    the conversation locked); publish the returned hand-over after the commit."""
    task.state = TaskState.SUCCESS.value
    task.error = None
    task.reply_message_id = reply_message_id
    return hand_over(task)


def hand_over(task: Task) -> Handover:
    """The next waiting question of the finished task's conversation, marked published."""
    if task.message_id is None:
        return None
    waiting = db.session.scalar(
        select(Task).where(Task.conversation_id == task.conversation_id,
                           Task.message_id > task.message_id,
                           Task.state == TaskState.PENDING.value)
        .order_by(Task.message_id).limit(1))
    if waiting is None:
        return None
    waiting.published_at = utcnow()
    return waiting.id, waiting.name


def publish_handover(handover: Handover) -> None:
    if handover is not None:
        publish(*handover)


def lock_conversation(conversation_id: int) -> None:
    """Take the conversation's row lock for the rest of the transaction (SQLite locks
    the whole database on the first write anyway)."""
    db.session.execute(update(Conversation).where(Conversation.id == conversation_id)
                       .values(last_seq=Conversation.last_seq))


def sweep() -> dict:
    """Publish tasks the broker never accepted, and re-queue tasks whose worker died
    (STARTED with no progress for longer than a task may run)."""
    now = utcnow()
    config = current_app.config
    unpublished_before = now - timedelta(seconds=config["UNPUBLISHED_GRACE_SECONDS"])
    stale_before = now - timedelta(seconds=config["TASK_TIME_LIMIT_SECONDS"] + 60)
    # Only the head of each conversation's line: the others are handed over in turn.
    unpublished = db.session.execute(
        select(Task.id, Task.name).where(
            Task.state == TaskState.PENDING.value, Task.published_at.is_(None),
            Task.created_at < unpublished_before, ~earlier_unfinished())
        .limit(SWEEP_BATCH)).all()
    abandoned = db.session.execute(
        select(Task.id, Task.name).where(
            Task.state == TaskState.STARTED.value, Task.updated_at < stale_before)
        .limit(SWEEP_BATCH)).all()
    for task_id, _ in abandoned:
        db.session.execute(update(Task).where(Task.id == task_id).values(
            state=TaskState.PENDING.value, error="re-queued: the worker stopped"))
    db.session.execute(update(Task).where(Task.id.in_([t for t, _ in unpublished]))
                       .values(published_at=now))
    db.session.commit()
    published = sum(publish(task_id, name) for task_id, name in [*unpublished, *abandoned])
    return {"unpublished": len(unpublished), "abandoned": len(abandoned),
            "published": published}

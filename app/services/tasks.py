"""Task state, the database's truth about every piece of background work.

The web side reads it (one indexed select) and publishes tasks after commit; the
worker side claims a task before working on it and finishes it in the same
transaction that stores its result.
"""

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from app.errors import NotFound
from app.extensions import db
from app.models import Task, TaskState
from app.models.base import utcnow

log = logging.getLogger(__name__)

REPLY_TASK = "parley.reply"
SWEEP_BATCH = 500


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


def claim(task_id: str) -> Task | None:
    """Atomically move the task to STARTED. Returns None when there is nothing to do:
    the task is unknown, finished, or another worker holds a live claim on it, so a
    redelivered or duplicated message never runs the model twice."""
    now = utcnow()
    stale = now - timedelta(seconds=current_app.config["TASK_TIME_LIMIT_SECONDS"])
    claimed = db.session.execute(
        update(Task)
        .where(Task.id == task_id, or_(
            Task.state == TaskState.PENDING.value,
            (Task.state == TaskState.STARTED.value) & (Task.updated_at < stale)))
        .values(state=TaskState.STARTED.value, attempts=Task.attempts + 1, updated_at=now)
    ).rowcount
    db.session.commit()
    return db.session.get(Task, task_id) if claimed else None


def release_for_retry(task_id: str, error: str) -> None:
    """Back to PENDING so the retried delivery can claim it; the error says why."""
    _finish(task_id, TaskState.PENDING, error=f"retrying after: {error}")


def fail(task_id: str, error: str) -> None:
    _finish(task_id, TaskState.FAILURE, error=error)


def succeed(task: Task, reply_message_id: int | None) -> None:
    """Mark done inside the caller's transaction (the one that stored the result)."""
    task.state = TaskState.SUCCESS.value
    task.error = None
    task.reply_message_id = reply_message_id


def _finish(task_id: str, state: TaskState, error: str) -> None:
    db.session.execute(update(Task).where(Task.id == task_id).values(
        state=state.value, error=error[:2000], updated_at=utcnow()))
    db.session.commit()


def sweep() -> dict:
    """Publish tasks the broker never accepted, and re-queue tasks whose worker died
    (STARTED with no progress for longer than a task may run)."""
    now = utcnow()
    config = current_app.config
    unpublished_before = now - timedelta(seconds=config["UNPUBLISHED_GRACE_SECONDS"])
    stale_before = now - timedelta(seconds=config["TASK_TIME_LIMIT_SECONDS"] + 60)
    unpublished = db.session.execute(
        select(Task.id, Task.name).where(
            Task.state == TaskState.PENDING.value, Task.published_at.is_(None),
            Task.created_at < unpublished_before).limit(SWEEP_BATCH)).all()
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

"""What an operator does with tasks (`parley tasks`): list and show any organization's
tasks, run a failed one again, cancel. Not scoped to one organization: the command runs
with the database's own rights, on the operator's machine.

Nothing here is a second lifecycle. Cancel is tasks.cancel, in the task's own
organization. A retry puts a FAILURE task back in the queue as tasks.add_task queues a
new one (waiting its turn if an earlier question of its conversation is unfinished),
and the next claim runs it as a new attempt: the attempt number, the claim's lease,
goes on growing, so no claim of an earlier attempt can finish it. Effect exactly once:
only a task that stored no result is run again (a failed task never did, and a
question with a reply is refused all the same), and neither a task canceled by its
user, whose cancel stands, nor one of a batch that has completed and announced its
results.
"""

import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import case, literal, null, select, update

from app import metrics
from app.errors import Conflict, InvalidInput, NotFound
from app.extensions import db
from app.models import Batch, Task
from app.models.base import utcnow
from app.services import events, task_kinds, tasks

# The CLI's names for the task states.
STATES = {"queued": tasks.PENDING, "running": tasks.STARTED, "succeeded": tasks.SUCCESS,
          "failed": tasks.FAILURE}
_AGE = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_tasks = Task.__table__


def since(value: str, now: datetime | None = None) -> datetime:
    """A time from an ISO 8601 time (UTC unless it says otherwise) or an age: 90s, 30m,
    1h, 7d."""
    age = _AGE.match(value.strip())
    if age:
        return (now or utcnow()) - timedelta(**{_UNITS[age[2]]: int(age[1])})
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"--since {value!r}: give an ISO 8601 time "
                           "(2026-11-28T17:00:00Z) or an age such as 30m, 1h, 7d.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def list_tasks(state: str | None = None, kind: str | None = None,
               org_id: str | None = None, created_since: datetime | None = None,
               limit: int = 50) -> list[dict]:
    """Tasks, newest first, each row's columns (state: one of STATES' names)."""
    c = _tasks.c
    query = select(*c).order_by(c.created_at.desc(), c.id.desc()).limit(limit)
    if state is not None:
        query = query.where(c.state == STATES[state])
    if kind is not None:
        query = query.where(c.kind == kind)
    if org_id is not None:
        query = query.where(c.org_id == org_id)
    if created_since is not None:
        query = query.where(c.created_at >= created_since)
    return [dict(row._mapping) for row in db.session.execute(query)]


def show(task_id: str) -> dict:
    """Every column of the task's row, the reply that answers its question (if any),
    and its kind's Celery task and queue."""
    task = _find(task_id)
    kind = task_kinds.KINDS.get(task.kind)
    return {**task._mapping, "celery_task": tasks.celery_name(task.kind),
            "queue": kind.queue if kind is not None else None}


def cancel(task_id: str) -> str:
    """tasks.cancel, in the task's own organization: ENDED_NOW or STOPPING."""
    return tasks.cancel(_find(task_id).org_id, task_id)


def retry(task_id: str) -> bool:
    """Queue a FAILURE task again; whether it was published now (False: it waits for
    an earlier question of its conversation, or for the sweep if the broker is down)."""
    task = _find(task_id)
    _check_retryable(task)
    c, now = _tasks.c, utcnow()
    tasks.lock_conversation(task.conversation_id)
    queued = db.session.execute(
        update(_tasks).where(c.id == task_id, c.state == tasks.FAILURE,
                             c.canceled_at.is_(None))
        .values(state=tasks.PENDING, error=None, worker=None, not_before=None,
                updated_at=now,
                published_at=case((tasks.earlier_unfinished(c.conversation_id, c.message_id),
                                   null()), else_=literal(now, c.published_at.type)))
        .returning(c.published_at)).first()
    if queued is None:
        db.session.rollback()
        raise Conflict(f"Task {task_id} changed meanwhile; look at it again.",
                       code="task_busy")
    metrics.count_on_commit(db.session, metrics.TASKS_RETRIED, task.kind)
    db.session.commit()
    events.task_events().forget(task_id)  # its relays wait for the new attempt's events
    # Its message keeps the id of the request that first caused it, and says who sent
    # it again.
    return queued.published_at is not None and tasks.publish(
        task_id, task.kind, task.request_id, republished_by="parley tasks retry")


def _check_retryable(task) -> None:
    if task.state != tasks.FAILURE:
        raise Conflict(f"Task {task.id} is {task.state}: only a failed task runs again.",
                       code="task_not_failed")
    if task.canceled_at is not None:
        raise Conflict(f"Task {task.id} was canceled by its user; it stays canceled.",
                       code="task_canceled")
    if task.reply_message_id is not None:
        raise Conflict(f"Task {task.id} has its reply stored already.", code="task_stored")
    if task.batch_id is not None and db.session.scalar(
            select(Batch.completed_at).where(Batch.id == task.batch_id)) is not None:
        raise Conflict(f"Task {task.id} belongs to a batch that has completed and announced "
                       "its results.", code="batch_completed")


def _find(task_id: str):
    """The task's row as tasks.get_task reads it, whatever its organization."""
    org_id = db.session.scalar(select(_tasks.c.org_id).where(_tasks.c.id == task_id))
    if org_id is None:
        raise NotFound(f"Task {task_id} not found.")
    return tasks.get_task(org_id, task_id)

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
from sqlalchemy import bindparam, case, exists, insert, null, select, update

from app.errors import NotFound
from app.extensions import db
from app.models import Conversation, Message, Task, TaskState
from app.models.base import new_uuid, utcnow
from app.services import events

log = logging.getLogger(__name__)

REPLY_TASK = "parley.reply"
SWEEP_BATCH = 500
PENDING, STARTED = TaskState.PENDING.value, TaskState.STARTED.value
UNFINISHED = (PENDING, STARTED)
_TASK_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# (task id, task name) of a task to publish once the caller's transaction commits.
Handover = tuple[str, str] | None

# The statements every message runs are Core statements over the tables, built once
# with bound parameters: building an ORM statement, and the ORM's bulk-update
# bookkeeping, cost more than the database's own work for these one-row statements.
_tasks = Task.__table__
_earlier = _tasks.alias("earlier")
_next = _tasks.alias("next_task")


def _earlier_unfinished(conversation_id, message_id):
    """SQL: a question before `message_id` in the conversation is still unfinished.
    Takes bound parameters or columns, so it also works correlated to the tasks table."""
    return exists().where(_earlier.c.conversation_id == conversation_id,
                          _earlier.c.message_id < message_id,
                          _earlier.c.state.in_(UNFINISHED))


def _held(task_id, attempt):
    """SQL: the task is still STARTED under this claim."""
    return (_tasks.c.id == task_id) & (_tasks.c.state == STARTED) & (
        _tasks.c.attempts == attempt)


_GET_TASK = select(*_tasks.c).where(_tasks.c.id == bindparam("task_id"),
                                    _tasks.c.org_id == bindparam("org_id"))
_CLAIM = (
    update(_tasks)
    .where(_tasks.c.id == bindparam("task_id"), _tasks.c.state == PENDING,
           ~_earlier_unfinished(_tasks.c.conversation_id, _tasks.c.message_id))
    .values(state=STARTED, attempts=_tasks.c.attempts + 1, error=None,
            updated_at=bindparam("now"))
    .returning(_tasks.c.conversation_id, _tasks.c.message_id, _tasks.c.data_set_id,
               _tasks.c.chat_session_id, _tasks.c.attempts))
_SUCCEED = (
    update(_tasks).where(_held(bindparam("task_id"), bindparam("attempt")))
    .values(state=TaskState.SUCCESS.value, error=None,
            reply_message_id=bindparam("reply_id"), updated_at=bindparam("now"))
    .returning(_tasks.c.conversation_id, _tasks.c.message_id))
_HAND_OVER = (
    update(_tasks)
    .where(_tasks.c.id == select(_next.c.id).where(
        _next.c.conversation_id == bindparam("of_conversation"),
        _next.c.message_id > bindparam("after_message"), _next.c.state == PENDING)
        .order_by(_next.c.message_id).limit(1).scalar_subquery())
    .values(published_at=bindparam("now"))
    .returning(_tasks.c.id, _tasks.c.name))
# A question's reply task, queued now (published_at set) unless an earlier question of
# its conversation is unfinished: then it waits unpublished for its hand-over.
_ADD_REPLY_TASK = (
    insert(_tasks)
    .values(published_at=case(
        (_earlier_unfinished(bindparam("in_conversation"), bindparam("for_message")),
         null()), else_=bindparam("now", type_=_tasks.c.published_at.type)))
    .returning(_tasks.c.published_at))
_conversations = Conversation.__table__
_LOCK_CONVERSATION = (update(_conversations)
                      .where(_conversations.c.id == bindparam("conversation_id"))
                      .values(last_seq=_conversations.c.last_seq))


def get_task(org_id: str, task_id: str):
    """The task's row (its columns, not an ORM object: this is the hot read clients
    poll). Another organization's task is not found, like an unknown one.

    A plain pooled connection, not the session: one read needs no unit of work, and
    the session's bookkeeping would cost more than the read."""
    task = None
    if _TASK_ID.match(task_id):
        with db.engine.connect() as connection:
            task = connection.execute(_GET_TASK, {"task_id": task_id, "org_id": org_id}
                                      ).first()
    if task is None:
        raise NotFound(f"Task {task_id} not found.")
    return task


def outcome(task) -> tuple[str, dict] | None:
    """A finished task's terminal event, read from the database: (end, data) or
    (error, data); None while it is unfinished. For a relay whose event stream missed
    it, and for pointing a client at the stored result."""
    if task.state == TaskState.FAILURE.value:
        return events.ERROR, {"task_id": task.id, "message": task.error}
    if task.state != TaskState.SUCCESS.value:
        return None
    reply = None
    if task.reply_message_id is not None:
        reply = db.session.execute(
            select(Message.public_id, Message.model, Message.input_tokens,
                   Message.output_tokens).where(Message.id == task.reply_message_id)).first()
    if reply is None:  # a task whose result is not a message (a summary)
        return events.END, events.end_data(task.id, None, None, None, None)
    return events.END, events.end_data(task.id, *reply)


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
        db.session.execute(update(_tasks).where(_tasks.c.id == task_id)
                           .values(published_at=None))
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        log.warning("could not mark task %s unpublished: %s", task_id, exc)


def add_reply_task(org_id: str, conversation_id: int, message_id: int,
                   data_set_id: int | None, chat_session_id: str | None = None
                   ) -> tuple[str, bool]:
    """Add the reply task of a new question (not committed; call with the conversation
    locked). Returns its id, which is known before the commit so nothing after it
    reads the row back, and whether it is queued now rather than waiting its turn:
    the caller publishes it after the commit. A chat session's task is answered by
    the session's model."""
    task_id, now = new_uuid(), utcnow()
    published_at = db.session.execute(_ADD_REPLY_TASK, {
        "id": task_id, "org_id": org_id, "name": REPLY_TASK,
        "conversation_id": conversation_id, "message_id": message_id,
        "data_set_id": data_set_id, "chat_session_id": chat_session_id,
        "state": PENDING, "attempts": 0,
        "created_at": now, "updated_at": now, "now": now,
        # The wait rule's own names for the same two values: SQLAlchemy reserves the
        # column names for the inserted values.
        "in_conversation": conversation_id, "for_message": message_id}).scalar_one()
    return task_id, published_at is not None


def reply_public_id(task_id: str) -> str:
    """The message id the reply of this task will be stored under. It is known from the
    moment the task exists, so a stream can announce it before the reply is written."""
    return "msg_" + task_id.replace("-", "")[:16]


def add_task(org_id: str, conversation_id: int, name: str) -> str:
    """A task on a whole conversation (not on one of its questions: it waits for no
    question, and none waits for it), queued now (not committed; the caller publishes
    it after the commit)."""
    task_id, now = new_uuid(), utcnow()
    db.session.execute(insert(_tasks).values(
        id=task_id, org_id=org_id, name=name, conversation_id=conversation_id,
        state=PENDING, attempts=0, created_at=now, updated_at=now, published_at=now))
    return task_id


def claim(task_id: str):
    """Atomically move a PENDING task whose turn has come to STARTED, taking a new
    attempt number; returns the claimed task's (conversation_id, message_id,
    data_set_id, chat_session_id, attempts). None when there is nothing to do: the
    task is unknown, finished, waiting for an earlier question, or held by another
    worker, so a redelivered or duplicated message never runs the model twice."""
    claimed = db.session.execute(_CLAIM, {"task_id": task_id, "now": utcnow()}).first()
    db.session.commit()
    return claimed


def release_for_retry(task_id: str, attempt: int, error: str) -> bool:
    """Back to PENDING so the retried delivery can claim it; the error says why. The
    task keeps its place: later questions of its conversation go on waiting. The retry
    counts as published now: if its message is lost, the sweep sends it again."""
    db.session.rollback()  # whatever failed before may have left the transaction aborted
    released = db.session.execute(update(_tasks).where(_held(task_id, attempt)).values(
        state=PENDING, error=f"retrying after: {error}"[:2000],
        published_at=utcnow(), updated_at=utcnow())).rowcount
    db.session.commit()
    return bool(released)


def fail(task_id: str, error: str, attempt: int | None = None) -> None:
    """End the task FAILURE, if this claim still holds it (any unfinished task when
    attempt is None), and hand over to the conversation's next question."""
    db.session.rollback()  # whatever failed before may have left the transaction aborted
    conversation_id = db.session.scalar(
        select(_tasks.c.conversation_id).where(_tasks.c.id == task_id))
    if conversation_id is None:
        return
    lock_conversation(conversation_id)
    holder = (_held(task_id, attempt) if attempt is not None
              else (_tasks.c.id == task_id) & _tasks.c.state.in_(UNFINISHED))
    failed = db.session.execute(
        update(_tasks).where(holder)
        .values(state=TaskState.FAILURE.value, error=error[:2000], updated_at=utcnow())
        .returning(_tasks.c.conversation_id, _tasks.c.message_id)).first()
    if failed is None:
        db.session.rollback()
        return
    handover = hand_over(conversation_id, failed.message_id)
    db.session.commit()
    events.task_events().append(task_id, events.ERROR, {"task_id": task_id,
                                                        "message": error[:2000]})
    publish_handover(handover)


def succeed(task_id: str, attempt: int, reply_message_id: int):
    """Mark SUCCESS, if the claim `attempt` still holds the task, inside the caller's
    transaction (the one that stored the result, with the conversation locked).
    Returns the finished task's row, or None when the claim was lost."""
    return db.session.execute(_SUCCEED, {
        "task_id": task_id, "attempt": attempt, "reply_id": reply_message_id,
        "now": utcnow()}).first()


def hand_over(conversation_id: int, message_id: int | None) -> Handover:
    """The next waiting question of the conversation after `message_id`, marked
    published; the caller publishes it after its commit."""
    if message_id is None:
        return None
    return db.session.execute(_HAND_OVER, {
        "of_conversation": conversation_id, "after_message": message_id, "now": utcnow()}
    ).first()


def publish_handover(handover: Handover) -> None:
    if handover is not None:
        publish(*handover)


def lock_conversation(conversation_id: int) -> None:
    """Take the conversation's row lock for the rest of the transaction (SQLite locks
    the whole database on the first write anyway)."""
    db.session.execute(_LOCK_CONVERSATION, {"conversation_id": conversation_id})


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
    c = _tasks.c
    is_head = ~_earlier_unfinished(c.conversation_id, c.message_id)
    lost = db.session.execute(
        select(c.id, c.name).where(
            c.state == PENDING, is_head,
            ((c.published_at.is_(None)) & (c.created_at < now - timedelta(
                seconds=config["UNPUBLISHED_GRACE_SECONDS"])))
            | (c.published_at < now - timedelta(seconds=visibility)))
        .limit(SWEEP_BATCH)).all()
    stale = now - timedelta(seconds=config["TASK_TIME_LIMIT_SECONDS"])
    abandoned = db.session.execute(
        select(c.id, c.name, c.attempts).where(c.state == STARTED, c.updated_at < stale)
        .limit(SWEEP_BATCH)).all()
    too_often = [t for t in abandoned if t.attempts > config["REPLY_MAX_RETRIES"]]
    # Re-queue only what is still abandoned now: a slow worker may have finished since.
    requeued = db.session.execute(
        update(_tasks).where(
            c.id.in_([t.id for t in abandoned if t not in too_often]),
            c.state == STARTED, c.updated_at < stale)
        .values(state=PENDING, error="re-queued: its worker stopped", published_at=now)
        .returning(c.id, c.name)).all()
    db.session.execute(update(_tasks).where(c.id.in_([t.id for t in lost]))
                       .values(published_at=now))
    db.session.commit()
    for task in too_often:
        fail(task.id, "gave up: its worker stopped during each of its attempts", task.attempts)
    published = sum(publish(task_id, name) for task_id, name in [*lost, *requeued])
    return {"unpublished": len(lost), "abandoned": len(requeued), "failed": len(too_often),
            "published": published}

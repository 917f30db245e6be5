"""Task rows, the database's truth about every piece of background work, whatever its
kind.

The web side reads them (one indexed select) and publishes tasks after commit; the
worker side claims a task before working on it and finishes it in the same
transaction that stores its result (app/services/lifecycle.py runs those steps).

A claim is a lease with a token: claiming bumps `attempts` and records the worker,
and a worker may finish the task only while the task is still STARTED with the attempt
it claimed. A worker whose claim was taken over (the sweep judged it dead) can change
nothing. A queued task records the worker that publishes its message after a commit (a
hand-over, a retry, the sweep), so a worker that dies between the two is noticed too.
A finished task records no worker: `worker` is set on unfinished work only.

Order within a conversation: a task that takes a message's place in its
conversation's line (a question's reply) runs only when every earlier question of the
conversation has finished. One posted behind an unfinished one is stored unpublished;
when a task finishes, it hands over to the next waiting question of its conversation,
publishing it. Posting and finishing both hold the conversation's row lock while they
decide, so a hand-over is never missed.

The organization's share (ORG_MAX_IN_FLIGHT, 0 for none): at most that many of an
organization's tasks of the kinds that call the model (ORG_CAPPED_KINDS) run at once.
The claim counts them; one that finds no slot free is held: PENDING, unpublished,
`held_since` set. A task of the organization that ends (or is given back to retry)
publishes the longest held one. Claiming and ending both hold the organization's row
lock while they decide, so two claims never take the last slot both and a freed slot
is never missed; should its publication be lost, the sweep wakes held tasks of
organizations with free slots.
"""

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, case, exists, func, insert, null, or_, select, update

from app import metrics
from app.errors import Conflict, NotFound
from app.extensions import db
from app.models import Conversation, Message, Organization, Task, TaskState
from app.models.base import new_uuid, utcnow
from app.request_ids import current_request_id
from app.services import events, presence, webhook_events

log = logging.getLogger(__name__)

TASK_NAME_PREFIX = "parley."
SWEEP_BATCH = 500
PENDING, STARTED = TaskState.PENDING.value, TaskState.STARTED.value
SUCCESS, FAILURE = TaskState.SUCCESS.value, TaskState.FAILURE.value
UNFINISHED = (PENDING, STARTED)
CANCELED_ERROR = "canceled: cancel was requested for this task"
# What cancel did: the task ended at once, or it runs and stops at its next chunk.
ENDED_NOW, STOPPING = "canceled", "canceling"
# A task's messages carry the id of the request that caused it in these headers (and the
# sweep's re-publishes say so), for the worker's log lines (workers/celery_app.py).
REQUEST_ID_HEADER = "parley_request_id"
REPUBLISHED_BY_HEADER = "parley_republished_by"
# publish's default: the request being served (in a worker, the task being run).
CURRENT_REQUEST = object()
_TASK_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True)
class Claim:
    """A worker's hold on a task: only this attempt may finish it."""

    task_id: str
    org_id: str
    attempt: int
    conversation_id: int | None
    message_id: int | None
    kind: str | None = None
    created_at: datetime | None = None


# (task id, kind, request id) of a task to publish once the caller's transaction commits.
Handover = tuple[str, str, str | None] | None

# The statements every message runs are Core statements over the tables, built once
# with bound parameters: building an ORM statement, and the ORM's bulk-update
# bookkeeping, cost more than the database's own work for these one-row statements.
_tasks = Task.__table__
_earlier = _tasks.alias("earlier")
_next = _tasks.alias("next_task")
_replies = Message.__table__.alias("reply")


def earlier_unfinished(conversation_id, message_id):
    """SQL: a question before `message_id` in the conversation is still unfinished
    (never, for a task that takes no place in a line). Takes bound parameters or
    columns, so it also works correlated to the tasks table."""
    return exists().where(_earlier.c.conversation_id == conversation_id,
                          _earlier.c.message_id < message_id,
                          _earlier.c.state.in_(UNFINISHED))


def _held(task_id, attempt):
    """SQL: the task is still STARTED under this claim."""
    return (_tasks.c.id == task_id) & (_tasks.c.state == STARTED) & (
        _tasks.c.attempts == attempt)


# A task and, for a question's task, the reply that answers it: the status read.
_GET_TASK = (
    select(*_tasks.c, _replies.c.id.label("reply_message_id"))
    .select_from(_tasks.outerjoin(_replies, _replies.c.reply_to_id == _tasks.c.message_id))
    .where(_tasks.c.id == bindparam("task_id"), _tasks.c.org_id == bindparam("org_id")))
_CLAIM = (
    update(_tasks)
    .where(_tasks.c.id == bindparam("task_id"), _tasks.c.state == PENDING,
           ~earlier_unfinished(_tasks.c.conversation_id, _tasks.c.message_id))
    .values(state=STARTED, attempts=_tasks.c.attempts + 1, worker=bindparam("worker"),
            error=None, updated_at=bindparam("now"))
    .returning(_tasks.c.org_id, _tasks.c.attempts, _tasks.c.conversation_id,
               _tasks.c.message_id, _tasks.c.kind, _tasks.c.created_at))
# The organization's share: its capped kinds' running tasks, counted through
# ix_tasks_org_id_state, under its row lock (_LOCK_ORGANIZATION_OF).
_capped = _tasks.c.kind.in_(bindparam("capped", expanding=True))
_running = _tasks.alias("running")
_slot_free = select(func.count()).where(
    _running.c.org_id == _tasks.c.org_id, _running.c.state == STARTED,
    _running.c.kind.in_(bindparam("capped", expanding=True))
).scalar_subquery() < bindparam("cap")
_CLAIM_CAPPED = _CLAIM.where(or_(~_capped, _slot_free)).values(held_since=None)
# A task whose turn has come but found no slot: held, unpublished, keeping its place.
_HOLD = (
    update(_tasks)
    .where(_tasks.c.id == bindparam("task_id"), _tasks.c.state == PENDING, _capped,
           ~earlier_unfinished(_tasks.c.conversation_id, _tasks.c.message_id))
    .values(held_since=func.coalesce(_tasks.c.held_since, bindparam("now")),
            published_at=None, worker=None))
_held_task = _tasks.alias("held_task")
# The organization's longest held tasks whose turn has come, marked published by this
# worker: the caller publishes them after its commit.
_WAKE_HELD = (
    update(_tasks)
    .where(_tasks.c.id.in_(
        select(_held_task.c.id)
        .where(_held_task.c.org_id == bindparam("of_org"), _held_task.c.held_since.is_not(None),
               _held_task.c.published_at.is_(None), _held_task.c.state == PENDING,
               ~earlier_unfinished(_held_task.c.conversation_id, _held_task.c.message_id))
        .order_by(_held_task.c.held_since, _held_task.c.id).limit(bindparam("slots"))))
    .values(published_at=bindparam("now"), worker=bindparam("publisher"))
    .returning(_tasks.c.id, _tasks.c.kind, _tasks.c.request_id))
_COUNT_RUNNING = select(func.count()).where(
    _tasks.c.org_id == bindparam("org_id"), _tasks.c.state == STARTED, _capped)
# A task canceled while it ran ends canceled, whatever its worker asked.
_not_canceled = _tasks.c.canceled_at.is_(None)
_FINISH = (
    update(_tasks).where(_held(bindparam("task_id"), bindparam("attempt")))
    .values(state=case((_not_canceled, bindparam("state")), else_=FAILURE),
            error=case((_not_canceled, bindparam("error")), else_=CANCELED_ERROR),
            worker=None, updated_at=bindparam("now"))
    .returning(_tasks.c.canceled_at))
_HAND_OVER = (
    update(_tasks)
    .where(_tasks.c.id == select(_next.c.id).where(
        _next.c.conversation_id == bindparam("of_conversation"),
        _next.c.message_id > bindparam("after_message"), _next.c.state == PENDING)
        .order_by(_next.c.message_id).limit(1).scalar_subquery())
    .values(published_at=bindparam("now"), worker=bindparam("publisher"))
    .returning(_tasks.c.id, _tasks.c.kind, _tasks.c.request_id))
# A new task, queued now (published_at set) unless an earlier question of its
# conversation is unfinished: then it waits unpublished for its hand-over.
_ADD_TASK = (
    insert(_tasks)
    .values(published_at=case(
        (earlier_unfinished(bindparam("in_conversation"), bindparam("for_message")),
         null()), else_=bindparam("now", type_=_tasks.c.published_at.type)))
    .returning(_tasks.c.published_at))
_conversations = Conversation.__table__
_LOCK_CONVERSATION = (update(_conversations)
                      .where(_conversations.c.id == bindparam("conversation_id"))
                      .values(last_seq=_conversations.c.last_seq))
_organizations = Organization.__table__
_LOCK_ORGANIZATION = (update(_organizations)
                      .where(_organizations.c.id == bindparam("org_id"))
                      .values(name=_organizations.c.name))
# The row lock of a task's organization, when the task is of a capped kind.
_LOCK_ORGANIZATION_OF = (update(_organizations)
                         .where(_organizations.c.id == select(_tasks.c.org_id).where(
                             _tasks.c.id == bindparam("task_id"), _capped).scalar_subquery())
                         .values(name=_organizations.c.name))


def celery_name(kind: str) -> str:
    """The Celery task that runs a kind's tasks, as Flower shows it."""
    return TASK_NAME_PREFIX + kind


def get_task(org_id: str, task_id: str):
    """The task's row (its columns and, for a question's task, `reply_message_id`; not
    an ORM object: this is the hot read clients poll). Another organization's task is
    not found, like an unknown one.

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


def watch(org_id: str, task_id: str, seconds: float):
    """The task's row, once its state changes (claimed, finished) or after `seconds`:
    a long poll. It waits on the task's event stream, not on the database, and holds
    no database connection meanwhile; without Redis it answers at once."""
    stream = events.task_events()
    try:
        # Read before the task, so that a change between the two is not missed.
        after = stream.last_id(task_id) if seconds > 0 else None
    except events.EventsUnavailable:
        after = None
    task = get_task(org_id, task_id)
    if after is None or task.state in (SUCCESS, FAILURE):
        return task
    try:
        changed = stream.wait_for(task_id, after, events.STATE_CHANGES, seconds)
    except events.EventsUnavailable:
        changed = True  # read it again: the database has the truth
    return get_task(org_id, task_id) if changed else task


def outcome(task) -> tuple[str, dict] | None:
    """A finished task's terminal event, read from the database: (end, data) or
    (error, data); None while it is unfinished. For a relay whose event stream missed
    it, and for pointing a client at the stored result."""
    if task.state == FAILURE:
        data = {"task_id": task.id, "message": task.error}
        if task.canceled_at is not None:
            data["code"] = "canceled"
        return events.ERROR, data
    if task.state != SUCCESS:
        return None
    reply = None
    if task.reply_message_id is not None:
        reply = db.session.execute(
            select(Message.public_id, Message.model, Message.input_tokens,
                   Message.output_tokens).where(Message.id == task.reply_message_id)).first()
    if reply is None:  # a task whose result is not a message (a summary)
        return events.END, events.end_data(task.id, None, None, None, None)
    return events.END, events.end_data(task.id, *reply)


def cancel(org_id: str, task_id: str) -> str:
    """Cancel a task: one that is queued or waiting its turn ends FAILURE (canceled) at
    once, and its conversation's next question goes on (ENDED_NOW); a running one is
    told to stop at its next streamed chunk, storing nothing (STOPPING). A finished
    task is a Conflict, unless it was canceled already (asking twice is harmless)."""
    for _ in range(3):  # the task may move on between the read and the write
        task = get_task(org_id, task_id)
        if task.canceled_at is not None:
            return STOPPING if task.state == STARTED else ENDED_NOW
        if task.state in (SUCCESS, FAILURE):
            raise Conflict(f"Task {task_id} has finished ({task.state}); there is nothing "
                           "to cancel.", code="task_finished")
        if task.state == PENDING and _cancel_queued(task):
            return ENDED_NOW
        if task.state == STARTED and _cancel_running(task_id):
            return STOPPING
    raise Conflict(f"Task {task_id} kept changing state; try again.", code="task_busy")


def ended_canceled(now) -> dict:
    """The values that end a queued task canceled."""
    return {"state": FAILURE, "error": CANCELED_ERROR, "canceled_at": now, "worker": None,
            "held_since": None, "updated_at": now}


def _cancel_queued(task) -> bool:
    now = utcnow()
    lock_conversation(task.conversation_id)
    ended = db.session.execute(
        update(_tasks).where(_tasks.c.id == task.id, _tasks.c.state == PENDING)
        .values(**ended_canceled(now))).rowcount
    if not ended:
        db.session.rollback()
        return False
    metrics.count_on_commit(db.session, metrics.TASKS_CANCELED, task.kind)
    woken = [] if task.conversation_id is None else wake_waiting(
        _tasks.c.conversation_id == task.conversation_id)
    deliveries = webhook_events.task_finished(
        Claim(task.id, task.org_id, task.attempts, task.conversation_id, task.message_id,
              task.kind), FAILURE, CANCELED_ERROR, canceled=True)
    db.session.commit()
    announce_failure(task.id, CANCELED_ERROR, canceled=True)
    publish_many([*woken, *((task_id, webhook_events.DELIVERY_KIND, current_request_id())
                            for task_id in deliveries)])
    return True


def _cancel_running(task_id: str) -> bool:
    flagged = db.session.execute(
        update(_tasks).where(_tasks.c.id == task_id, _tasks.c.state == STARTED)
        .values(canceled_at=utcnow())).rowcount
    db.session.commit()
    if flagged:
        events.task_events().request_cancel(task_id)
    return bool(flagged)


def wake_waiting(in_conversations) -> list[tuple[str, str, str | None]]:
    """Queued questions of the conversations `in_conversations` (a condition on the
    tasks' conversation_id) whose turn has come but whose message was never sent,
    marked published by this process: after questions before them were canceled.
    The caller commits, then publishes them."""
    c = _tasks.c
    return db.session.execute(
        update(_tasks).where(in_conversations, c.state == PENDING, c.published_at.is_(None),
                             ~earlier_unfinished(c.conversation_id, c.message_id))
        .values(published_at=utcnow(), worker=presence.this_worker())
        .returning(c.id, c.kind, c.request_id)).all()


def message_options(request_id: str | None, republished_by: str | None = None) -> dict:
    """What a task's message carries besides its id: the id of the request that caused
    it, in its headers (for the worker's log lines; a Celery retry keeps them) and in
    its kwargsrepr, which Celery's task events carry and Flower shows as the task's
    kwargs (its real arguments stay its id alone); and who published it again, if the
    sweep did."""
    headers = {REQUEST_ID_HEADER: request_id} if request_id else {}
    if republished_by:
        headers[REPUBLISHED_BY_HEADER] = republished_by
    return {"headers": headers,
            "kwargsrepr": repr({"request_id": request_id}) if request_id else "{}"}


def publish(task_id: str, kind: str, request_id=CURRENT_REQUEST,
            republished_by: str | None = None) -> bool:
    """Send the task to the broker, after the row is committed, with the id of the
    request that caused it (by default the current one: message_options). If the
    broker is down, the row is marked unpublished and the sweep sends it later: the
    caller still answers with the task id, and nothing accepted is lost."""
    celery = current_app.extensions["celery"]
    if request_id is CURRENT_REQUEST:
        request_id = current_request_id()
    try:
        celery.send_task(celery_name(kind), args=[task_id], task_id=task_id,
                         **message_options(request_id, republished_by))
        return True
    except Exception as exc:  # kombu raises many kinds; any of them means "not sent"
        log.warning("could not publish task %s, the sweep will: %s", task_id, exc)
        mark_unpublished(task_id)
        return False


def publish_many(queued: list[tuple[str, str, str | None]]) -> list[str]:
    """Send many tasks (id, kind, the id of the request that caused it) over one broker
    connection, after their rows are committed; the ids sent. If the broker goes down,
    the rest are marked unpublished and the sweep sends them later."""
    celery, sent = current_app.extensions["celery"], []
    if not queued:
        return sent
    try:
        with celery.producer_or_acquire() as producer:
            for task_id, kind, request_id in queued:
                celery.send_task(celery_name(kind), args=[task_id], task_id=task_id,
                                 producer=producer, **message_options(request_id))
                sent.append(task_id)
    except Exception as exc:  # kombu raises many kinds; any of them means "not sent"
        log.warning("could not publish %d tasks, the sweep will: %s", len(queued) - len(sent),
                    exc)
        for task_id, *_ in queued[len(sent):]:
            mark_unpublished(task_id)
    return sent


def mark_unpublished(task_id: str) -> None:
    """Best effort: if the database is down too, the sweep still finds the task once
    its publication is older than the visibility timeout."""
    try:
        db.session.execute(update(_tasks).where(_tasks.c.id == task_id)
                           .values(published_at=None))
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        log.warning("could not mark task %s unpublished: %s", task_id, exc)


def add_task(org_id: str, kind: str, conversation_id: int | None = None,
             message_id: int | None = None) -> tuple[str, bool]:
    """Add a task (not committed; with a message, call with the conversation locked).
    Returns its id, known before the commit so nothing after it reads the row back,
    and whether it is queued now rather than waiting its turn: the caller publishes
    it after the commit. The task records the current request id (in a worker, the
    one of the task that caused it)."""
    task_id, now = new_uuid(), utcnow()
    published_at = db.session.execute(_ADD_TASK, {
        "id": task_id, "org_id": org_id, "kind": kind, "conversation_id": conversation_id,
        "message_id": message_id, "state": PENDING, "attempts": 0,
        "request_id": current_request_id(),
        "created_at": now, "updated_at": now, "now": now,
        # The wait rule's own names for the same two values: SQLAlchemy reserves the
        # column names for the inserted values.
        "in_conversation": conversation_id, "for_message": message_id}).scalar_one()
    metrics.count_on_commit(db.session, metrics.TASKS_CREATED, kind)
    return task_id, published_at is not None


def claim(task_id: str, worker: str) -> Claim | None:
    """Atomically move a PENDING task whose turn has come to STARTED, held by
    `worker` under a new attempt number. None when there is nothing to do: the task
    is unknown, finished, waiting for an earlier question, or held by another worker,
    so a redelivered or duplicated message never runs the work twice; or its
    organization has no slot free (ORG_MAX_IN_FLIGHT): then it is held, and published
    again when one frees."""
    params = {"task_id": task_id, "worker": worker, "now": utcnow()}
    cap = current_app.config["ORG_MAX_IN_FLIGHT"]
    if cap > 0:
        return _claim_capped(params, cap)
    claimed = db.session.execute(_CLAIM, params).first()
    db.session.commit()
    return Claim(task_id, *claimed) if claimed else None


def _claim_capped(params: dict, cap: int) -> Claim | None:
    params.update(cap=cap, capped=_capped_kinds())
    db.session.execute(_LOCK_ORGANIZATION_OF, params)
    claimed = db.session.execute(_CLAIM_CAPPED, params).first()
    # Its own parameters: a column's name among them would be SET (worker).
    if claimed is None and db.session.execute(_HOLD, {
            "task_id": params["task_id"], "now": params["now"],
            "capped": params["capped"]}).rowcount:
        log.info("task %s is held: its organization has %d tasks running", params["task_id"],
                 cap)
    db.session.commit()
    return Claim(params["task_id"], *claimed) if claimed else None


def _capped_kinds() -> list[str]:
    return list(current_app.config["ORG_CAPPED_KINDS"])


def free_slot(held: Claim) -> list[tuple[str, str, str | None]]:
    """The task `held` no longer runs (not committed yet): its organization's longest
    held task takes its slot, marked published by this worker (the caller publishes it
    after its commit). Nothing when there is no cap or the kind is not capped."""
    if current_app.config["ORG_MAX_IN_FLIGHT"] <= 0 or held.kind not in _capped_kinds():
        return []
    db.session.execute(_LOCK_ORGANIZATION, {"org_id": held.org_id})
    return _wake_held(held.org_id, 1)


def _wake_held(org_id: str, slots: int) -> list[tuple[str, str, str | None]]:
    """Call with the organization's row locked."""
    return [tuple(row) for row in db.session.execute(_WAKE_HELD, {
        "of_org": org_id, "slots": slots, "now": utcnow(),
        "publisher": presence.this_worker()})]


def release(held: Claim, error: str, *, retry_at: datetime | None = None,
            by_sweep: bool = False, write: Callable[[], object] | None = None) -> bool:
    """Back to PENDING, if this claim still holds the task, so that a later delivery
    can claim it; the error says why, `retry_at` when it is due, `write()` records what
    the kind keeps of the failed attempt. The task keeps its place: later questions of
    its conversation go on waiting. It counts as published now: if its message is lost,
    the sweep sends it again. `by_sweep`: no message is sent; the task stays unpublished
    and the sweep publishes it at `retry_at` (a wait longer than a Celery retry's). A
    task canceled while it ran ends instead."""
    db.session.rollback()  # whatever failed before may have left the transaction aborted
    now = utcnow()
    released = db.session.execute(update(_tasks).where(_held(held.task_id, held.attempt),
                                                       _not_canceled)
                                  .values(state=PENDING,
                                          worker=None if by_sweep else presence.this_worker(),
                                          error=error[:2000],
                                          published_at=None if by_sweep else now,
                                          not_before=retry_at, updated_at=now)).rowcount
    if released and write is not None:
        write()
    if released:
        metrics.count_on_commit(db.session, metrics.TASKS_RETRIED, held.kind)
    woken = free_slot(held) if released else []
    db.session.commit()
    publish_many(woken)
    if not released:
        fail(held, CANCELED_ERROR)  # canceled meanwhile: it ends now (if still held)
    return bool(released)


@dataclass(frozen=True)
class Finished:
    written: object  # what the result's write returned (a reply's `end` event data)
    handover: Handover  # the conversation's next question, to publish now
    repeated: bool = False  # finished before: a commit whose answer was lost
    canceled: bool = False  # canceled while it ran: ended FAILURE, nothing written
    deliveries: tuple[str, ...] = ()  # webhook deliveries of its end, to publish now
    woken: tuple[tuple[str, str, str | None], ...] = ()  # held tasks of its organization, to publish now


def finish(held: Claim, state: str, error: str | None = None,
           write: Callable[[], object] | None = None) -> Finished | None:
    """End the task in `state` (SUCCESS, or FAILURE with its error) if the claim still
    holds it, with `write()` storing its result, and take its conversation's next
    question: one transaction, with the conversation locked so a hand-over is never
    missed. The caller appends the task's last event and publishes the hand-over. A
    task canceled while it ran ends canceled instead, and nothing is written.

    None, having changed nothing, when the claim was lost. When this claim already
    finished the task the same way (a commit that went through though its answer was
    lost), the hand-over is taken again, since its publication may not have happened."""
    lock_conversation(held.conversation_id)
    ended = db.session.execute(_FINISH, {"task_id": held.task_id, "attempt": held.attempt,
                                         "state": state, "error": error and error[:2000],
                                         "now": utcnow()}).first()
    if ended is None:
        return _finished_before(held, state)
    if ended.canceled_at is not None:
        metrics.count_on_commit(db.session, metrics.TASKS_CANCELED, held.kind)
        deliveries = webhook_events.task_finished(held, FAILURE, CANCELED_ERROR, canceled=True)
        return _hand_over_and_commit(held, None, canceled=True, deliveries=tuple(deliveries))
    metrics.count_on_commit(db.session, metrics.TASKS_SUCCEEDED if state == SUCCESS
                            else metrics.TASKS_FAILED, held.kind)
    written = write() if write is not None else None
    deliveries = webhook_events.task_finished(held, state, error)
    return _hand_over_and_commit(held, written, deliveries=tuple(deliveries))


def _finished_before(held: Claim, state: str) -> Finished | None:
    ended = db.session.execute(select(_tasks.c.state, _tasks.c.attempts, _tasks.c.canceled_at)
                               .where(_tasks.c.id == held.task_id)).first()
    canceled = ended is not None and ended.canceled_at is not None
    if ended is None or ended.attempts != held.attempt or ended.state != (
            FAILURE if canceled else state):
        db.session.rollback()
        return None
    return _hand_over_and_commit(held, None, repeated=True, canceled=canceled)


def _hand_over_and_commit(held: Claim, written, **how) -> Finished:
    """Take the conversation's next question, and the organization's held task the
    slot goes to, and commit: the caller publishes them (publish_after)."""
    handover = hand_over(held.conversation_id, held.message_id)
    woken = tuple(free_slot(held))
    db.session.commit()
    return Finished(written, handover, woken=woken, **how)


def fail(held: Claim, error: str, write: Callable[[], object] | None = None) -> bool:
    """End the task FAILURE, if the claim still holds it (with `write()`, what the kind
    records of it), say so on its event stream, and hand over to its conversation's
    next question. False when the claim was lost."""
    db.session.rollback()  # whatever failed before may have left the transaction aborted
    finished = finish(held, FAILURE, error, write)
    if finished is None:
        return False
    announce_failure(held.task_id, CANCELED_ERROR if finished.canceled else error,
                     finished.canceled)
    publish_after(finished)
    return True


def announce_failure(task_id: str, error: str, canceled: bool = False) -> None:
    """The task's `error` event: a canceled task's says so in its code."""
    announce_failures([task_id], error, canceled)


def announce_failures(task_ids: list[str], error: str, canceled: bool = False) -> None:
    """The `error` event of each of these tasks, in pipelined round trips."""
    extra = {"code": "canceled"} if canceled else {}
    events.task_events().append_many(
        [(task_id, events.ERROR, {"task_id": task_id, "message": error[:2000], **extra})
         for task_id in task_ids])


def hand_over(conversation_id: int | None, message_id: int | None) -> Handover:
    """The next waiting question of the conversation after `message_id`, marked
    published by this worker; the caller publishes it after its commit."""
    if conversation_id is None or message_id is None:
        return None
    return db.session.execute(_HAND_OVER, {
        "of_conversation": conversation_id, "after_message": message_id, "now": utcnow(),
        "publisher": presence.this_worker()}).first()


def publish_handover(handover: Handover) -> None:
    if handover:
        publish(*handover)


def publish_after(finished: Finished) -> None:
    """What a finished task's commit queued: its hand-over and its webhook deliveries."""
    publish_handover(finished.handover)
    publish_many(list(finished.woken))
    for task_id in finished.deliveries:
        publish(task_id, webhook_events.DELIVERY_KIND)


def lock_conversation(conversation_id: int | None) -> None:
    """Take the conversation's row lock for the rest of the transaction (SQLite locks
    the whole database on the first write anyway)."""
    if conversation_id is not None:
        db.session.execute(_LOCK_CONVERSATION, {"conversation_id": conversation_id})


def sweep(broker=None) -> dict:
    """Make sure every task ends, soon:
    - take back what a dead worker held (STARTED) or was to publish after a commit (a
      hand-over, a retry), and what made no progress for the time limit although its
      worker beats (stuck): queued again and published; a task abandoned more often
      than its retries allow fails;
    - publish tasks the broker never accepted (unpublished past a grace period), every
      queued task when Redis restarted empty (its messages are gone), and tasks
      published so long ago that their message must be lost;
    - once a worker has died, put back in their queues the messages it received but
      never started (queued tasks whose message has been held unacknowledged for a
      heartbeat's lifetime; `broker`: app/broker.py);
    - publish held tasks of organizations with slots free (a wake-up that was lost).
    Only the head of each conversation's line is published; the rest follow in turn."""
    config = current_app.config
    ttl = config["WORKER_HEARTBEAT_TTL"]
    census = presence.census(events.task_events().client, ttl)
    requeued, too_often = _take_back(config, census)
    lost = _lost(config, census.redis_was_reset)
    stranded = (_stranded(broker, ttl) if broker is not None and census.a_worker_died
                else [])
    db.session.commit()
    for task in too_often:
        fail(Claim(task.id, task.org_id, task.attempts, task.conversation_id,
                   task.message_id, task.kind),
             "gave up: its worker stopped during each of its attempts")
    if stranded:
        broker.restore(stranded)
    woken = _wake_where_free(config["ORG_MAX_IN_FLIGHT"])
    published = (sum(_republish(*task) for task in [*lost, *requeued])
                 + sum(publish(*task) for task in woken))
    if census.redis_was_reset:
        census.mark_epoch()  # only now: a sweep that failed before here tries again
    return {"unpublished": len(lost), "abandoned": len(requeued), "failed": len(too_often),
            "restored": len(stranded), "woken": len(woken), "published": published}


def _wake_where_free(cap: int) -> list[tuple[str, str, str | None]]:
    """Held tasks of organizations running fewer than `cap` tasks, marked published;
    in a transaction of its own, each organization under its row lock, as claims are."""
    if cap <= 0:
        return []
    c = _tasks.c
    # Through the partial index of held tasks: a handful of rows, not the table.
    orgs = db.session.scalars(select(c.org_id).where(c.held_since.is_not(None),
                                                     c.published_at.is_(None),
                                                     c.state == PENDING).distinct()).all()
    woken = []
    for org_id in orgs:
        db.session.execute(_LOCK_ORGANIZATION, {"org_id": org_id})
        running = db.session.execute(_COUNT_RUNNING, {"org_id": org_id,
                                                      "capped": _capped_kinds()}).scalar_one()
        if running < cap:
            woken += _wake_held(org_id, cap - running)
    db.session.commit()
    return woken


def _republish(task_id: str, kind: str, request_id: str | None) -> bool:
    """The sweep publishes a task again, with the request id that caused it, saying so
    in its message and its log line."""
    log.info("sweep re-publishes task %s (%s) of request %s", task_id, kind,
             request_id or "-", extra={"task_id": task_id, "task_kind": kind,
                                       "request_id": request_id})
    return publish(task_id, kind, request_id, republished_by="sweep")


def _stranded(broker, older_than: float) -> list[str]:
    """Delivery tags of messages held unacknowledged for `older_than` seconds whose task
    is still queued: a live worker claims a message as it receives it, so these were
    received by a worker that died."""
    held = broker.stranded_messages(older_than)
    if not held:
        return []
    queued = db.session.scalars(select(_tasks.c.id).where(
        _tasks.c.id.in_(list(held)), _tasks.c.state == PENDING)).all()
    return [held[task_id] for task_id in queued]


def _take_back(config, census: presence.Census) -> tuple[list, list]:
    """Queue again the tasks of dead workers, and stuck ones; returns those queued, to
    publish, and those that have used up their attempts, to fail."""
    c = _tasks.c
    columns = (c.id, c.kind, c.org_id, c.state, c.attempts, c.worker, c.conversation_id,
               c.message_id, c.canceled_at, c.request_id)
    # Only unfinished tasks name a worker, so this reads the worker index, not the table.
    workers = set(db.session.scalars(select(c.worker).where(c.worker.is_not(None))
                                     .distinct()))
    dead = census.dead(workers)
    orphans = db.session.execute(select(*columns).where(c.worker.in_(dead))).all() \
        if dead else []
    limit = config["TASK_TIME_LIMIT_SECONDS"]
    stuck = db.session.execute(select(*columns).where(
        c.state == STARTED, c.updated_at < utcnow() - timedelta(seconds=limit))
        .limit(SWEEP_BATCH)).all()
    reasons = {**{t.id: f"re-queued: no progress for {limit}s" for t in stuck},
               **{t.id: "re-queued: its worker stopped" for t in orphans}}
    abandoned = list({t.id: t for t in [*stuck, *orphans]}.values())
    # A canceled task is not run again: it ends (canceled) like one tried too often.
    too_often = [t for t in abandoned if t.state == STARTED and (
        t.attempts > _retries_allowed(config, t.kind) or t.canceled_at is not None)]
    return _requeue([t for t in abandoned if t not in too_often], reasons), too_often


def _retries_allowed(config, kind: str) -> int:
    """How many attempts beyond the first a task of `kind` may make."""
    if kind == webhook_events.DELIVERY_KIND:
        return len(webhook_events.schedule(config))
    return config["REPLY_MAX_RETRIES"]


def _requeue(abandoned: list, reasons: dict[str, str]) -> list[tuple[str, str, str | None]]:
    """Queued again, and to be published by this worker; each only if it is as it was
    read (its worker may have finished it since)."""
    now, requeued, c = utcnow(), [], _tasks.c
    for task in abandoned:
        said = {"error": reasons[task.id]} if task.state == STARTED else {}
        if db.session.execute(update(_tasks).where(
                c.id == task.id, c.state == task.state, c.attempts == task.attempts,
                c.worker.is_not_distinct_from(task.worker))
                .values(state=PENDING, worker=presence.this_worker(), published_at=now,
                        updated_at=now, **said)).rowcount:
            requeued.append((task.id, task.kind, task.request_id))
            if task.state == STARTED:  # an attempt given back, not only a message resent
                metrics.count_on_commit(db.session, metrics.TASKS_RETRIED, task.kind)
    return requeued


def _lost(config, redis_was_reset: bool) -> list:
    """Queued heads of line whose message the broker does not have, marked published.
    After Redis restarted empty that is every queued head, however many."""
    now = utcnow()
    c = _tasks.c
    visibility = config["CELERY"]["broker_transport_options"]["visibility_timeout"]
    # Unpublished past the grace of a publish after commit, or a retry whose wait
    # (not_before) is over.
    # (Held tasks wait for a slot, not for the broker: _wake_where_free's.)
    never_sent = c.published_at.is_(None) & c.held_since.is_(None) & (
        (c.not_before.is_(None) & (c.created_at < now - timedelta(
            seconds=config["UNPUBLISHED_GRACE_SECONDS"]))) | (c.not_before <= now))
    # Marked published at `now` below, so a second batch does not take them again.
    sent_before = now if redis_was_reset else now - timedelta(seconds=visibility)
    query = (select(c.id, c.kind, c.request_id)
             .where(c.state == PENDING, never_sent | (c.published_at < sent_before),
                    ~earlier_unfinished(c.conversation_id, c.message_id))
             .limit(SWEEP_BATCH))
    lost: list = []
    while True:
        batch = db.session.execute(query).all()
        if batch:
            db.session.execute(update(_tasks).where(c.id.in_([t.id for t in batch]))
                               .values(published_at=now, worker=presence.this_worker()))
        lost += batch
        if len(batch) < SWEEP_BATCH or not redis_was_reset:
            return lost

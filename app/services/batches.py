"""Batches: many questions in one request (POST /api/batches), for batch integrations.

Accepting: the whole batch is checked first (all or nothing: every failing line is
reported and nothing is stored), then stored in ONE transaction of a few large
statements — new conversations for the requests naming a data set, the positions taken
in existing conversations, the questions, their tasks, the requests' order — and
published after the commit by a task of its own (parley.publish_batch) in chunks. What
it does not publish, the sweep does, as for single questions: nothing accepted is lost.

Answering: each request is a task of kind `batch_reply` — the reply's own gather and
store, on the `batch` queue, which workers of their own consume, so batch work never
holds up interactive replies. A request joining an existing conversation takes its
place in that conversation's line like any question.

How a batch stands is read from its tasks' rows (one grouped, indexed read, always
true). It is marked completed by the finish that saw its last request end (or by the
sweep, should that finish not get there), which is when its `batch.completed` event is
sent and its long polls answer.
"""

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import bindparam, exists, func, insert, select, update

from app import metrics
from app.errors import Conflict, InvalidInput, NotFound
from app.extensions import db
from app.models import Batch, BatchRequest, Conversation, DataSet, Message, Task
from app.models.base import new_uuid, public_id, utcnow
from app.models.conversations import ENDED
from app.request_ids import current_request_id
from app.services import (bulk, conversations, events, presence, replies, tasks,
                          webhook_events, webhooks)
from app.services.lifecycle import TaskKind
from app.services.tasks import FAILURE, PENDING, STARTED, SUCCESS, UNFINISHED, Claim

log = logging.getLogger(__name__)

IN_PROGRESS, COMPLETED, CANCELING, CANCELED = ("in_progress", "completed", "canceling",
                                               "canceled")
# A request's state, as its results line says it.
QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
REQUEST_STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELED)
MAX_REPORTED_LINES = 100
RESULTS_PAGE = 500  # lines read per statement while streaming results
PUBLISH_CHUNK = 500
# The batch's own event stream (app/services/events.py, keyed by its public id) gets
# one `end` event when it completes: what its long polls wait for.
COMPLETED_EVENT = events.END

_tasks, _batches, _requests = Task.__table__, Batch.__table__, BatchRequest.__table__
_messages, _conversations = Message.__table__, Conversation.__table__
_replies = _messages.alias("reply")


@dataclass(frozen=True)
class Request:
    """One checked request: its question goes to a conversation, or to a new one over
    a data set."""

    index: int  # its line in the input
    custom_id: str
    question: str
    conversation_id: int | None = None
    data_set_id: int | None = None


@dataclass(frozen=True)
class BatchView:
    public_id: str
    status: str
    request_counts: dict
    metadata: dict
    created_at: datetime
    completed_at: datetime | None
    canceled_at: datetime | None

    @property
    def results_url(self) -> str:
        return f"/api/batches/{self.public_id}/results"


# -- accepting ---------------------------------------------------------------------------


def line_error(index: int, custom_id, field: str, message: str) -> dict:
    """A failing line, as the 422 lists it."""
    return {"index": index, "custom_id": custom_id if isinstance(custom_id, str) else None,
            "field": field, "message": message}


def refuse(failures: list[dict]) -> None:
    """Nothing is stored: the 422 lists the failing lines (the first 100) by index and
    custom_id, each with the field at fault."""
    if failures:
        failures.sort(key=lambda failure: failure["index"])
        first = failures[0]
        raise InvalidInput(
            f"{len(failures)} of the batch's requests are invalid, nothing was stored; "
            f"the first: line {first['index']}, {first['field']}: {first['message']}",
            {"lines": failures[:MAX_REPORTED_LINES], "failed_lines": len(failures)})


def submit(org_id: str, requests: list[Request], failures: list[dict], metadata: dict,
           callback_url: str | None = None) -> BatchView:
    """Store the batch (all of it, or nothing when a line failed its checks, or a
    request names a conversation or data set the organization does not have, or a
    conversation that has ended: all of those are reported together), then have it
    published. `failures`: the lines that failed the face's checks (line_error);
    `callback_url` (checked: webhooks.check_callback_url) gets its batch.completed."""
    config, total = current_app.config, len(requests) + len(failures)
    if not total:
        raise InvalidInput("A batch needs at least one request.",
                           {"lines": [], "failed_lines": 0})
    if total > config["BATCH_MAX_REQUESTS"]:
        raise InvalidInput(f"A batch takes at most {config['BATCH_MAX_REQUESTS']} "
                           f"requests; this one has {total}.",
                           {"lines": [], "failed_lines": total})
    now, batch_public_id = utcnow(), public_id("batch")
    batch_id = db.session.execute(insert(_batches).returning(_batches.c.id), {
        "public_id": batch_public_id, "org_id": org_id, "total": len(requests),
        "metadata": metadata, "created_at": now}).scalar_one()
    # The insert above took SQLite's write lock; on PostgreSQL the conversations are
    # locked by the read below. Either way no question slips in between.
    existing = _lock_conversations(org_id, {r.conversation_id for r in requests
                                            if r.conversation_id is not None})
    unknown = _unknown_targets(org_id, requests, existing)
    if failures or unknown:
        db.session.rollback()
        refuse(failures + unknown)
    new_conversations = _create_conversations(
        org_id, [r.data_set_id for r in requests if r.data_set_id is not None], now)
    placed = _place_questions(requests, existing, new_conversations)
    message_ids = _insert_questions(placed, now)
    _take_positions(existing, placed)
    task_ids = _insert_tasks(org_id, batch_id, placed, message_ids, now)
    bulk.insert_rows(_requests, [
        {"batch_id": batch_id, "position": request.index, "custom_id": request.custom_id,
         "task_id": task_id} for request, task_id in zip(requests, task_ids)])
    if callback_url is not None:
        webhooks.register_callback(org_id, batch_public_id, callback_url)
    db.session.commit()
    _publish_later(batch_id)
    return get(org_id, batch_public_id)


def _lock_conversations(org_id: str, ids: set[int]) -> dict[int, tuple]:
    """The organization's shared conversations among `ids`, locked: id -> (last_seq,
    data_set_id, status)."""
    if not ids:
        return {}
    found = db.session.execute(
        select(_conversations.c.id, _conversations.c.last_seq, _conversations.c.data_set_id,
               _conversations.c.status)
        .where(bulk.ids_in(_conversations.c.id, sorted(ids)), *conversations.shared_by(org_id))
        .order_by(_conversations.c.id).with_for_update()).all()
    return {row.id: (row.last_seq, row.data_set_id, row.status) for row in found}


def _unknown_targets(org_id: str, requests: list[Request], existing: dict) -> list[dict]:
    data_set_ids = {r.data_set_id for r in requests if r.data_set_id is not None}
    known_data_sets = set(db.session.scalars(select(DataSet.id).where(
        DataSet.org_id == org_id, DataSet.id.in_(data_set_ids)))) if data_set_ids else set()
    failures = []
    for request in requests:
        if request.conversation_id is not None:
            found = existing.get(request.conversation_id)
            if found is None:
                failures.append(line_error(request.index, request.custom_id,
                                           "conversation_id", f"Conversation "
                                           f"{request.conversation_id} not found."))
            elif found[2] == ENDED:
                failures.append(line_error(request.index, request.custom_id,
                                           "conversation_id", f"Conversation "
                                           f"{request.conversation_id} has ended: it "
                                           "takes no more messages."))
        elif request.data_set_id not in known_data_sets:
            failures.append(line_error(request.index, request.custom_id, "data_set_id",
                                       f"Data set {request.data_set_id} not found."))
    return failures


def _create_conversations(org_id: str, data_set_ids: list[int], now) -> list[int]:
    """One new conversation per request naming a data set, each with its question's
    two positions taken; their ids, in order."""
    rows = [{"org_id": org_id, "public_id": public_id("conv"), "data_set_id": data_set_id,
             "last_seq": 2, "started_at": now, "updated_at": now, "thread_count": 0,
             "status": "active", "tags": [], "state": {}, "metadata": {}}
            for data_set_id in data_set_ids]
    ids = dict(bulk.insert_rows(_conversations, rows, returning=("public_id", "id")))
    return [ids[row["public_id"]] for row in rows]


@dataclass(frozen=True)
class _Placed:
    conversation_id: int
    seq: int
    data_set_id: int | None
    text: str


def _place_questions(requests: list[Request], existing: dict,
                     new_conversations: list[int]) -> list[_Placed]:
    """Each question's conversation and position: in an existing conversation the next
    free ones in input order (a question, then its reply's); in a new one, the first."""
    last_seq = {conversation_id: found[0] for conversation_id, found in existing.items()}
    new = iter(new_conversations)
    placed = []
    for request in requests:
        if request.conversation_id is None:
            placed.append(_Placed(next(new), 1, request.data_set_id, request.question))
            continue
        last_seq[request.conversation_id] += 2
        placed.append(_Placed(request.conversation_id, last_seq[request.conversation_id] - 1,
                              existing[request.conversation_id][1], request.question))
    return placed


def _take_positions(existing: dict, placed: list[_Placed]) -> None:
    """The existing conversations' counters moved past the questions just placed in
    them (and their replies' slots), in one statement."""
    last_seq = {}
    for question in placed:
        if question.conversation_id in existing:
            last_seq[question.conversation_id] = question.seq + 1
    bulk.set_values(_conversations, "last_seq", last_seq)


def _insert_questions(placed: list[_Placed], now) -> list[int]:
    """The questions, in one statement; their ids, in order."""
    ids = {(row.conversation_id, row.seq): row.id for row in bulk.insert_rows(
        _messages, [{"conversation_id": p.conversation_id, "seq": p.seq, "role": "user",
                     "text": p.text, "public_id": public_id("msg"),
                     "data_set_id": p.data_set_id, "created_at": now} for p in placed],
        returning=("id", "conversation_id", "seq"))}
    return [ids[p.conversation_id, p.seq] for p in placed]


def _insert_tasks(org_id: str, batch_id: int, placed: list[_Placed], message_ids: list[int],
                  now) -> list[str]:
    """A task per question, all left unpublished: the publisher sends the heads of
    their conversations' lines (a question behind an unfinished one waits its turn)."""
    task_ids, request_id = [new_uuid() for _ in placed], current_request_id()
    bulk.insert_rows(_tasks, [
        {"id": task_id, "org_id": org_id, "kind": KIND.name, "state": PENDING, "attempts": 0,
         "conversation_id": p.conversation_id, "message_id": message_id, "batch_id": batch_id,
         "request_id": request_id, "created_at": now, "updated_at": now}
        for task_id, p, message_id in zip(task_ids, placed, message_ids)])
    metrics.count_on_commit(db.session, metrics.TASKS_CREATED, KIND.name, len(task_ids))
    return task_ids


def _publish_later(batch_id: int) -> None:
    """Have a worker publish the batch's tasks, so the request answers once they are
    stored. If this message is lost too, the sweep publishes them."""
    try:
        current_app.extensions["celery"].send_task(
            PUBLISH_TASK, args=[batch_id], **tasks.message_options(current_request_id()))
    except Exception as exc:  # kombu raises many kinds; the sweep publishes the tasks
        log.warning("could not ask for batch %s to be published: %s", batch_id, exc)


def publish(batch_id: int) -> int:
    """Send the batch's queued tasks whose turn has come, in chunks, each marked
    published once sent (a publisher that dies leaves the rest to the sweep). How many
    were sent."""
    c = _tasks.c
    due = (select(c.id, c.request_id).where(c.batch_id == batch_id, c.state == PENDING,
                              c.published_at.is_(None),
                              ~tasks.earlier_unfinished(c.conversation_id, c.message_id))
           .order_by(c.id).limit(PUBLISH_CHUNK))
    sent, after = 0, ""
    while chunk := db.session.execute(due.where(c.id > after)).all():
        db.session.commit()  # no transaction is held while the broker is written to
        published = tasks.publish_many([(task.id, KIND.name, task.request_id)
                                        for task in chunk])
        db.session.execute(update(_tasks).where(c.id.in_(published), c.published_at.is_(None))
                           .values(published_at=utcnow(), worker=presence.this_worker()))
        db.session.commit()
        sent, after = sent + len(published), chunk[-1].id
        if len(published) < len(chunk):
            break  # the broker is down: the sweep publishes the rest
    return sent


# -- how it stands -----------------------------------------------------------------------


_COUNTS = (
    select(_tasks.c.state, _tasks.c.canceled_at.is_not(None).label("canceled"),
           func.count().label("count"), func.max(_tasks.c.updated_at).label("last"))
    .where(_tasks.c.batch_id == bindparam("batch_id"))
    .group_by(_tasks.c.state, _tasks.c.canceled_at.is_not(None)))


def _find(org_id: str, batch_public_id: str):
    batch = db.session.execute(select(_batches).where(
        _batches.c.public_id == batch_public_id, _batches.c.org_id == org_id)).first()
    if batch is None:
        raise NotFound(f"Batch {batch_public_id} not found.")
    return batch


def get(org_id: str, batch_public_id: str) -> BatchView:
    return _view(_find(org_id, batch_public_id))


def _view(batch) -> BatchView:
    counts = dict.fromkeys(("total", QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELED), 0)
    last = None
    for row in db.session.execute(_COUNTS, {"batch_id": batch.id}):
        counts[_request_state(row.state, row.canceled)] += row.count
        last = max(last, row.last) if last and row.last else (last or row.last)
    counts["total"] = batch.total
    unfinished = counts[QUEUED] + counts[RUNNING]
    if unfinished:
        status = CANCELING if batch.canceled_at else IN_PROGRESS
    else:
        status = CANCELED if batch.canceled_at else COMPLETED
    return BatchView(batch.public_id, status, counts, batch.metadata, batch.created_at,
                     None if unfinished else (batch.completed_at or last), batch.canceled_at)


def _request_state(state: str, canceled: bool) -> str:
    if state == FAILURE:
        return CANCELED if canceled else FAILED
    return {PENDING: QUEUED, STARTED: RUNNING, SUCCESS: SUCCEEDED}[state]


def page(org_id: str, limit: int, after: str | None) -> tuple[list[BatchView], str | None]:
    """The organization's batches, newest first, `limit` at a time after the batch
    `after`; and the cursor of the next page, if there is one."""
    query = select(_batches).where(_batches.c.org_id == org_id)
    if after is not None:
        query = query.where(_batches.c.id < _find(org_id, after).id)
    found = db.session.execute(query.order_by(_batches.c.id.desc()).limit(limit + 1)).all()
    views = [_view(batch) for batch in found[:limit]]
    return views, (views[-1].public_id if len(found) > limit else None)


def watch(org_id: str, batch_public_id: str, seconds: float) -> BatchView:
    """The batch, once it has completed (or been canceled to the end), or after
    `seconds`: a long poll on the batch's event stream, holding no database connection
    while it waits."""
    view = get(org_id, batch_public_id)
    if seconds <= 0 or view.status in (COMPLETED, CANCELED):
        return view
    db.session.close()
    try:
        events.task_events().wait_for(batch_public_id, events.FROM_START,
                                      (COMPLETED_EVENT,), seconds)
    except events.EventsUnavailable:
        pass  # read it again: the database has the truth
    return get(org_id, batch_public_id)


def results(org_id: str, batch_public_id: str, state: str | None) -> Iterator[dict]:
    """Each request's line, in input order, with its current state (so while the batch
    runs, unfinished requests are listed as queued or running); `state` keeps one
    state's lines. Read RESULTS_PAGE lines per statement: memory stays flat whatever
    the batch's size."""
    batch_id = _find(org_id, batch_public_id).id
    r, t, reply = _requests.c, _tasks.c, _replies.c
    query = (
        select(r.position, r.custom_id, t.id.label("task_id"), t.conversation_id, t.state,
               t.canceled_at, t.error, reply.id.label("reply_id"),
               reply.text.label("reply_text"), reply.model, reply.input_tokens,
               reply.output_tokens)
        .select_from(_requests.join(_tasks, t.id == r.task_id)
                     .outerjoin(_replies, reply.reply_to_id == t.message_id))
        .where(r.batch_id == batch_id, r.position > bindparam("after"))
        .order_by(r.position).limit(RESULTS_PAGE))
    if state is not None:
        query = query.where(*_state_condition(state))
    after = -1
    while True:
        rows = db.session.execute(query, {"after": after}).all()
        db.session.commit()  # no transaction held between pages
        for row in rows:
            yield _line(row)
        if len(rows) < RESULTS_PAGE:
            return
        after = rows[-1].position


def _state_condition(state: str) -> tuple:
    t = _tasks.c
    return {QUEUED: (t.state == PENDING,), RUNNING: (t.state == STARTED,),
            SUCCEEDED: (t.state == SUCCESS,),
            FAILED: (t.state == FAILURE, t.canceled_at.is_(None)),
            CANCELED: (t.state == FAILURE, t.canceled_at.is_not(None))}[state]


def _line(row) -> dict:
    state = _request_state(row.state, row.canceled_at is not None)
    reply = None
    if row.reply_id is not None:
        reply = {"text": row.reply_text, "message_id": row.reply_id, "model": row.model,
                 "usage": {"input_tokens": row.input_tokens,
                           "output_tokens": row.output_tokens}}
    return {"custom_id": row.custom_id, "task_id": row.task_id,
            "conversation_id": row.conversation_id, "state": state, "reply": reply,
            "error": row.error if state in (FAILED, CANCELED) else None}


# -- cancel and completion -----------------------------------------------------------------


def cancel(org_id: str, batch_public_id: str) -> BatchView:
    """Queued requests end canceled at once; running ones finish; the batch is
    `canceled` once none runs. A finished batch is a Conflict; cancelling twice is
    harmless."""
    batch = _find(org_id, batch_public_id)
    if batch.completed_at is not None and batch.canceled_at is None:
        raise Conflict(f"Batch {batch_public_id} has completed; there is nothing to "
                       "cancel.", code="batch_completed")
    now, c = utcnow(), _tasks.c
    db.session.execute(update(_batches).where(_batches.c.id == batch.id,
                                              _batches.c.canceled_at.is_(None))
                       .values(canceled_at=now))
    canceled = db.session.scalars(
        update(_tasks).where(c.batch_id == batch.id, c.state == PENDING)
        .values(**tasks.ended_canceled(now)).returning(c.id)).all()
    metrics.count_on_commit(db.session, metrics.TASKS_CANCELED, KIND.name, len(canceled))
    woken = tasks.wake_waiting(c.conversation_id.in_(
        select(_tasks.c.conversation_id).where(_tasks.c.batch_id == batch.id)
        .scalar_subquery()))
    db.session.commit()
    tasks.announce_failures(canceled, tasks.CANCELED_ERROR, canceled=True)
    tasks.publish_many(woken)
    settle(batch.id)
    return get(org_id, batch_public_id)


_SETTLE = (
    update(_batches)
    .where(_batches.c.completed_at.is_(None),
           ~exists().where(_tasks.c.batch_id == _batches.c.id, _tasks.c.state.in_(UNFINISHED)))
    .values(completed_at=bindparam("now"))
    .returning(*_batches.c))


def settle(batch_id: int | None = None) -> int:
    """Mark completed the batch `batch_id` (every unsettled batch, for the sweep) once
    none of its requests is unfinished, recording its batch.completed event in the same
    transaction, and tell its long polls; how many were."""
    statement = _SETTLE if batch_id is None else _SETTLE.where(_batches.c.id == batch_id)
    settled = db.session.execute(statement, {"now": utcnow()}).all()
    deliveries = [delivery for batch in settled for delivery in webhook_events.record_event(
        batch.org_id, webhook_events.BATCH_COMPLETED, lambda batch=batch: _event_data(batch),
        subject=batch.public_id)]
    db.session.commit()
    for batch in settled:
        events.task_events().append(batch.public_id, COMPLETED_EVENT,
                                    {"batch_id": batch.public_id})
    webhooks.publish(deliveries)
    return len(settled)


def _event_data(batch) -> dict:
    """batch.completed's data: the batch as GET /api/batches/{id} shows it (a canceled
    batch completes too, with its status `canceled`)."""
    view = _view(batch)
    return {"batch_id": view.public_id, "status": view.status,
            "request_counts": view.request_counts, "metadata": view.metadata,
            "completed_at": view.completed_at.isoformat(),
            "results_url": view.results_url}


def settle_after(held: Claim) -> None:
    """After one of its requests finished: the batch may be complete."""
    batch_id = db.session.scalar(select(_tasks.c.batch_id).where(_tasks.c.id == held.task_id))
    if batch_id is not None:
        settle(batch_id)


PUBLISH_TASK = "parley.publish_batch"
QUEUE = "batch"
KIND = TaskKind("batch_reply", QUEUE, replies.gather, replies.store, finished=settle_after)

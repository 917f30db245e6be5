"""Webhook events: recording an event's deliveries inside the transaction of the change
that caused it, so that a delivery is committed with its cause and never lost.

record_event inserts, for each enabled endpoint of the organization subscribed to the
event's type and each callback URL registered for its subject, a delivery and the task
of kind `webhook` that sends it (app/services/webhooks.py), and returns the tasks' ids:
the caller publishes them after its commit (tasks.publish(id, DELIVERY_KIND)). Which
endpoints want the event is one indexed read, matched in SQL by a join on the
subscriptions (the same on PostgreSQL and SQLite); an organization with no endpoint
and no callback for the subject pays that one read and nothing else.

A task that ends (tasks.finish) records its event here: task.succeeded / task.failed
for replies (a batch's too) and summaries, job.completed / job.failed for jobs, and
task.canceled for any of them canceled; no other kind has events (a delivery's own end
never makes another). A batch records batch.completed when it completes.
"""

import json
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import bindparam, insert, null, select, union_all

from app import metrics
from app.extensions import db
from app.models import (Job, Message, Task, TaskState, Webhook, WebhookCallback,
                        WebhookDelivery, WebhookEvent)
from app.models.base import new_uuid, public_id, utcnow
from app.request_ids import current_request_id

DELIVERY_KIND = "webhook"  # the task kind that sends a delivery (webhooks.KIND)

TASK_SUCCEEDED, TASK_FAILED, TASK_CANCELED = "task.succeeded", "task.failed", "task.canceled"
BATCH_COMPLETED = "batch.completed"
JOB_COMPLETED, JOB_FAILED = "job.completed", "job.failed"
WEBHOOK_TEST = "webhook.test"  # sent by POST /api/webhooks/{id}/test only
# What an endpoint may subscribe to.
EVENT_TYPES = (TASK_SUCCEEDED, TASK_FAILED, TASK_CANCELED, BATCH_COMPLETED, JOB_COMPLETED,
               JOB_FAILED)

_SUCCESS, _FAILURE = TaskState.SUCCESS.value, TaskState.FAILURE.value
# The event a task of each kind sends when it ends, by its end state.
TASK_EVENTS = {
    "reply": {_SUCCESS: TASK_SUCCEEDED, _FAILURE: TASK_FAILED},
    "batch_reply": {_SUCCESS: TASK_SUCCEEDED, _FAILURE: TASK_FAILED},
    "compact": {_SUCCESS: TASK_SUCCEEDED, _FAILURE: TASK_FAILED},
    "job": {_SUCCESS: JOB_COMPLETED, _FAILURE: JOB_FAILED},
}

# Data: the event's `data`, or a function making it, called only when some endpoint
# wants the event (so an organization without webhooks never pays for it).
Data = dict | Callable[[], dict]

_webhooks, _subscriptions = Webhook.__table__, WebhookEvent.__table__
_callbacks, _tasks = WebhookCallback.__table__, Task.__table__
_callbacks_endpoint = _webhooks.alias("callbacks_endpoint")
# (endpoint id, URL or NULL for the endpoint's own), built once (see tasks.py).
_SUBSCRIBED = (
    select(_webhooks.c.id, null().label("url"))
    .join(_subscriptions, _subscriptions.c.webhook_id == _webhooks.c.id)
    .where(_webhooks.c.org_id == bindparam("org_id"), _webhooks.c.enabled.is_(True),
           _subscriptions.c.event_type == bindparam("event_type")))
_FOR_SUBJECT = (
    select(_callbacks_endpoint.c.id, _callbacks.c.url)
    .join(_callbacks_endpoint, _callbacks_endpoint.c.callbacks_of == _callbacks.c.org_id)
    .where(_callbacks.c.subject == bindparam("subject"),
           _callbacks.c.org_id == bindparam("org_id"),
           _callbacks_endpoint.c.enabled.is_(True)))
_TARGETS = union_all(_SUBSCRIBED, _FOR_SUBJECT)
_CALLBACKS_ENDPOINT = select(_webhooks.c.id).where(
    _webhooks.c.callbacks_of == bindparam("org_id"), _webhooks.c.enabled.is_(True))
_ADD_TASK = insert(_tasks)
_ADD_DELIVERY = insert(WebhookDelivery.__table__)


def record_event(org_id: str, event_type: str, data: Data, *, subject: str | None = None,
                 callback_url: str | None = None) -> list[str]:
    """Record the event's deliveries (not committed): to each enabled endpoint of the
    organization subscribed to `event_type`, to each callback URL registered for
    `subject` (a task's or a batch's id: webhooks.register_callback), and to
    `callback_url` if given (checked by the caller: webhooks.check_callback_url).
    Returns the ids of the tasks sending them: publish each after the commit."""
    parameters = {"org_id": org_id, "event_type": event_type, "subject": subject}
    targets = [tuple(row) for row in db.session.execute(
        _TARGETS if subject is not None else _SUBSCRIBED, parameters)]
    if callback_url is not None:
        endpoint = db.session.scalar(_CALLBACKS_ENDPOINT, parameters)
        if endpoint is not None:
            targets.append((endpoint, callback_url))
    if not targets:
        return []
    return add_deliveries(org_id, event_type, data() if callable(data) else data, targets)


def add_deliveries(org_id: str, event_type: str, data: dict,
                   targets: list[tuple[int, str | None]], now: datetime | None = None
                   ) -> list[str]:
    """One message of the event to each (endpoint id, URL or None) and its task, queued
    now (not committed); the tasks' ids. The tasks record the current request id (in a
    worker, the one of the task whose end is the event)."""
    now = now or utcnow()
    payload = json.dumps({"type": event_type, "timestamp": timestamp(now), "data": data},
                         separators=(",", ":"), ensure_ascii=False, default=str)
    task_ids, request_id = [new_uuid() for _ in targets], current_request_id()
    db.session.execute(_ADD_TASK, [
        {"id": task_id, "org_id": org_id, "kind": DELIVERY_KIND,
         "state": TaskState.PENDING.value, "attempts": 0, "published_at": now,
         "request_id": request_id, "created_at": now, "updated_at": now}
        for task_id in task_ids])
    db.session.execute(_ADD_DELIVERY, [
        {"public_id": public_id("dlv"), "webhook_id": webhook_id, "task_id": task_id,
         "event_type": event_type, "payload": payload, "url": url, "attempts": 0,
         "created_at": now} for task_id, (webhook_id, url) in zip(task_ids, targets)])
    metrics.count_on_commit(db.session, metrics.TASKS_CREATED, DELIVERY_KIND, len(task_ids))
    return task_ids


def schedule(config) -> list[float]:
    """The waits between a delivery's attempts: WEBHOOK_BACKOFF_SECONDS, doubling up to
    WEBHOOK_BACKOFF_MAX_SECONDS, for as long as they add up to WEBHOOK_RETRY_SECONDS."""
    waits, total = [], 0.0
    wait = config["WEBHOOK_BACKOFF_SECONDS"]
    while total + wait <= config["WEBHOOK_RETRY_SECONDS"]:
        waits.append(wait)
        total += wait
        wait = min(wait * 2, config["WEBHOOK_BACKOFF_MAX_SECONDS"])
    return waits


def timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, as Standard Webhooks' payloads write it."""
    return moment.isoformat().replace("+00:00", "Z")


def task_finished(held, state: str, error: str | None, canceled: bool = False) -> list[str]:
    """The deliveries of a task's end (`held`: its tasks.Claim), recorded in the
    transaction that ends it; their tasks' ids. A canceled task of a kind with events
    sends task.canceled."""
    event_type = TASK_EVENTS.get(held.kind or "", {}).get(state)
    if event_type is None:
        return []
    if canceled:
        event_type = TASK_CANCELED
    return record_event(held.org_id, event_type, lambda: task_data(held, state, error),
                        subject=held.task_id)


def task_data(held, state: str, error: str | None) -> dict:
    """The data of a task's event: its ids and, for a reply, the reply's (the polling
    face's integer ids); a job's own id and status; the error of a failure."""
    failed = state == _FAILURE
    if held.kind == "job":
        job_id = db.session.scalar(select(Job.public_id).where(Job.task_id == held.task_id))
        return {"job_id": job_id, "task_id": held.task_id,
                "status": "failed" if failed else "completed",
                "error": error if failed else None}
    reply_id = None
    if not failed and held.message_id is not None:
        reply_id = db.session.scalar(select(Message.id).where(
            Message.reply_to_id == held.message_id))
    return {"task_id": held.task_id, "kind": held.kind,
            "state": TaskState.FAILURE.value if failed else TaskState.SUCCESS.value,
            "conversation_id": held.conversation_id, "message_id": held.message_id,
            "reply_message_id": reply_id, "error": error if failed else None}

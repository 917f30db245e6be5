"""Webhooks: an organization's endpoints, per-request callbacks, and the delivery of
events to them as Standard Webhooks messages (task kind `webhook`, queue `webhooks`).

An endpoint has a URL, the event types it is subscribed to, and a signing secret
(`whsec_…`, shown once). Events are recorded with the change that caused them
(app/services/webhook_events.py); each delivery is a task on the one lifecycle:
gather loads the message and where it goes, the agent (workers/agents/webhook_sender.py)
signs and posts it, store records the answer. Timeouts, connection errors and answers
other than 2xx are retried with exponential backoff (delivery_retry) for up to
WEBHOOK_RETRY_SECONDS (24 h); each attempt is recorded on the delivery.

Callbacks: a callback URL given with a request (POST /api/conversations/{id}'s
`callback_url`, a batch's) gets that request's events. They are signed with the
organization's callback secret (POST /api/webhooks/callback_secret, which makes or
rotates it): the secret of its *callbacks endpoint*, an endpoint with no URL of its own
whose deliveries each carry their URL, listed and redelivered like any other's.
"""

import base64
import json
import secrets

from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from app import metrics
from app.errors import Conflict, InvalidInput, NotFound
from app.extensions import db
from app.models import Task, Webhook, WebhookCallback, WebhookDelivery, WebhookEvent
from app.models.base import new_uuid, utcnow
from app.request_ids import current_request_id
from app.services import tasks, webhook_events, webhook_targets
from app.services.agent_io import DeliveryInput, DeliveryResult
from app.services.lifecycle import Gathered, TaskKind
from app.services.tasks import Claim
from app.services.webhook_events import EVENT_TYPES

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
# A delivery's status, from its task's state.
STATUSES = {tasks.PENDING: "pending", tasks.STARTED: "pending", tasks.SUCCESS: "succeeded",
            tasks.FAILURE: "failed"}


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


# -- targets ------------------------------------------------------------------------------

def check_url(url: str, field: str = "url") -> str:
    """The URL, if webhooks may be sent there (app/services/webhook_targets.py: http or
    https, resolving to public addresses unless PARLEY_WEBHOOKS_ALLOW_PRIVATE); a 422
    naming `field` otherwise."""
    try:
        webhook_targets.check(url, current_app.config["WEBHOOKS_ALLOW_PRIVATE"])
    except webhook_targets.RefusedTarget as exc:
        raise InvalidInput(f"Invalid request: {field}: {exc}", {"json": {field: [str(exc)]}})
    return url


def check_callback_url(org_id: str, url: str, field: str = "callback_url") -> str:
    """A callback URL the organization may give (checked like an endpoint's URL), once
    it has a callback secret to sign with; a 422 naming `field` otherwise. Call it
    before the transaction that registers the callback: it resolves the host."""
    if _callbacks_endpoint(org_id) is None:
        message = ("Callbacks are signed with your organization's callback secret: create "
                   "it first (POST /api/webhooks/callback_secret).")
        raise InvalidInput(f"Invalid request: {field}: {message}", {"json": {field: [message]}},
                           code="no_callback_secret")
    return check_url(url, field)


def register_callback(org_id: str, subject: str, url: str) -> None:
    """Send the events of `subject` (a task's id: its task.succeeded / task.failed /
    task.canceled; a batch's id: its batch.completed) to `url` too, signed with the
    callback secret. Not committed: call it in the transaction that creates the
    subject, with a URL check_callback_url accepted."""
    db.session.add(WebhookCallback(org_id=org_id, subject=subject, url=url))


def publish(task_ids) -> None:
    """Send the deliveries webhook_events.record_event recorded, after the commit."""
    for task_id in task_ids:
        tasks.publish(task_id, KIND.name)


# -- endpoints ----------------------------------------------------------------------------

def _checked_events(events: list[str]) -> list[str]:
    unknown = [event for event in events if event not in EVENT_TYPES]
    if unknown or not events:
        message = (f"Unknown event type {unknown[0]!r}" if unknown else "At least one event "
                   "type is needed") + f"; one of: {', '.join(EVENT_TYPES)}."
        raise InvalidInput(f"Invalid request: events: {message}", {"json": {"events": [message]}})
    return sorted(set(events))


def create(org_id: str, url: str, events: list[str], description: str = "") -> dict:
    """A new endpoint; its view with the secret, which is shown this once."""
    webhook = Webhook(org_id=org_id, url=check_url(url), description=description,
                      enabled=True, secret=new_secret(),
                      subscriptions=[WebhookEvent(event_type=e) for e in _checked_events(events)])
    db.session.add(webhook)
    db.session.commit()
    return {**view(webhook), "secret": webhook.secret}


def list_webhooks(org_id: str) -> list[dict]:
    return [view(webhook) for webhook in db.session.scalars(
        select(Webhook).where(Webhook.org_id == org_id).order_by(Webhook.id))]


def get(org_id: str, webhook_id: str) -> Webhook:
    """One of the organization's endpoints (another's is not found)."""
    webhook = db.session.scalar(select(Webhook).where(Webhook.public_id == webhook_id,
                                                      Webhook.org_id == org_id))
    if webhook is None:
        raise NotFound(f"Webhook {webhook_id} not found.")
    return webhook


def view(webhook: Webhook) -> dict:
    return {"id": webhook.public_id, "url": webhook.url, "events": webhook.events,
            "description": webhook.description, "enabled": webhook.enabled,
            "kind": "callbacks" if webhook.callbacks_of else "endpoint",
            "created_at": webhook.created_at, "updated_at": webhook.updated_at}


def update_webhook(org_id: str, webhook_id: str, changes: dict) -> dict:
    """Change an endpoint's url, events, description or enabled. The callbacks
    endpoint has no URL or events of its own."""
    webhook = get(org_id, webhook_id)
    if webhook.callbacks_of and {"url", "events"} & set(changes):
        field = "url" if "url" in changes else "events"
        message = "The callbacks endpoint has no URL or events of its own."
        raise InvalidInput(f"Invalid request: {field}: {message}",
                           {"json": {field: [message]}})
    if "url" in changes:
        webhook.url = check_url(changes["url"])
    if "events" in changes:
        webhook.subscriptions = [WebhookEvent(event_type=event)
                                 for event in _checked_events(changes["events"])]
    for name in ("description", "enabled"):
        if name in changes:
            setattr(webhook, name, changes[name])
    webhook.updated_at = utcnow()
    db.session.commit()
    return view(webhook)


def delete_webhook(org_id: str, webhook_id: str) -> None:
    """The endpoint and its deliveries; a delivery's task still queued then finds
    nothing to send and fails saying so."""
    webhook = get(org_id, webhook_id)
    db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook.id))
    db.session.delete(webhook)
    db.session.commit()


def callback_secret(org_id: str) -> dict:
    """Make the organization's callbacks endpoint, or give it a new secret: the
    secret, shown this once. Deliveries are signed when sent, so ones still pending are
    signed with the new secret."""
    webhook = _callbacks_endpoint(org_id)
    if webhook is None:
        webhook = Webhook(org_id=org_id, url=None, callbacks_of=org_id, enabled=True,
                          description="Per-request callbacks", secret=new_secret())
        db.session.add(webhook)
        try:
            db.session.commit()
        except IntegrityError:  # made meanwhile by another request: rotate that one
            db.session.rollback()
            return callback_secret(org_id)
    else:
        webhook.secret, webhook.updated_at = new_secret(), utcnow()
        db.session.commit()
    return {"webhook_id": webhook.public_id, "secret": webhook.secret}


def _callbacks_endpoint(org_id: str) -> Webhook | None:
    return db.session.scalar(select(Webhook).where(Webhook.callbacks_of == org_id))


def send_test(org_id: str, webhook_id: str) -> dict:
    """Send a webhook.test event to the endpoint now; the delivery's view."""
    webhook = get(org_id, webhook_id)
    if webhook.callbacks_of:
        raise Conflict("The callbacks endpoint has no URL of its own: its deliveries go "
                       "to each request's callback_url.")
    if not webhook.enabled:
        raise Conflict(f"Webhook {webhook_id} is disabled: enable it first.")
    [task_id] = webhook_events.add_deliveries(
        org_id, webhook_events.WEBHOOK_TEST,
        {"webhook_id": webhook.public_id, "message": "A test event from Parley."},
        [(webhook.id, None)])
    db.session.commit()
    publish([task_id])
    return delivery(org_id, webhook_id, _public_id_of(task_id))


# -- deliveries ---------------------------------------------------------------------------

def _deliveries(webhook: Webhook):
    return (select(WebhookDelivery, Task.state, Task.not_before, Task.error)
            .join(Task, Task.id == WebhookDelivery.task_id)
            .where(WebhookDelivery.webhook_id == webhook.id))


def deliveries(org_id: str, webhook_id: str, limit: int, before: str | None = None) -> dict:
    """The endpoint's deliveries, newest first: `limit` of them before the delivery
    `before`, and `older`, the id to page on from (None at the first delivery)."""
    webhook = get(org_id, webhook_id)
    query = _deliveries(webhook)
    if before is not None:
        cursor = db.session.scalar(select(WebhookDelivery.id).where(
            WebhookDelivery.public_id == before, WebhookDelivery.webhook_id == webhook.id))
        if cursor is None:
            raise NotFound(f"Delivery {before} not found.")
        query = query.where(WebhookDelivery.id < cursor)
    rows = db.session.execute(query.order_by(WebhookDelivery.id.desc()).limit(limit + 1)
                              ).all()
    page = [delivery_view(webhook, *row) for row in rows[:limit]]
    return {"deliveries": page, "older": page[-1]["id"] if len(rows) > limit else None}


def delivery(org_id: str, webhook_id: str, delivery_id: str) -> dict:
    webhook = get(org_id, webhook_id)
    row = db.session.execute(_deliveries(webhook).where(
        WebhookDelivery.public_id == delivery_id)).first()
    if row is None:
        raise NotFound(f"Delivery {delivery_id} not found.")
    return delivery_view(webhook, *row)


def delivery_view(webhook: Webhook, sent: WebhookDelivery, state: str, not_before,
                  task_error: str | None) -> dict:
    return {"id": sent.public_id, "webhook_id": webhook.public_id,
            "event_type": sent.event_type, "status": STATUSES[state],
            "url": sent.url or webhook.url, "attempts": sent.attempts,
            "last_response_code": sent.last_status_code,
            "last_error": sent.last_error or (task_error if state == tasks.FAILURE else None),
            "last_attempt_at": sent.last_attempt_at,
            "next_attempt_at": not_before if state == tasks.PENDING else None,
            "payload": json.loads(sent.payload), "task_id": sent.task_id,
            "created_at": sent.created_at}


def redeliver(org_id: str, webhook_id: str, delivery_id: str) -> dict:
    """Send the delivery again now, the same message (webhook-id and body), signed
    anew: one waiting for its next attempt is sent now; a finished one (succeeded or
    failed) gets a new task, retried like a new delivery. While an attempt is being
    made it is a 409."""
    webhook = get(org_id, webhook_id)
    row = db.session.execute(_deliveries(webhook).where(
        WebhookDelivery.public_id == delivery_id)).first()
    if row is None:
        raise NotFound(f"Delivery {delivery_id} not found.")
    sent, state = row[0], row[1]
    now = utcnow()
    if state == tasks.STARTED:
        raise Conflict(f"Delivery {delivery_id} is being attempted right now.")
    if state == tasks.PENDING:
        task_id = sent.task_id
        db.session.execute(update(Task).where(Task.id == task_id, Task.state == tasks.PENDING)
                           .values(not_before=None, published_at=now, worker=None))
    else:
        task_id = new_uuid()
        db.session.add(Task(id=task_id, org_id=org_id, kind=KIND.name, state=tasks.PENDING,
                            attempts=0, published_at=now, request_id=current_request_id(),
                            created_at=now, updated_at=now))
        metrics.count_on_commit(db.session, metrics.TASKS_CREATED, KIND.name)
        db.session.flush()
        sent.task_id = task_id
    db.session.commit()
    publish([task_id])
    return delivery(org_id, webhook_id, delivery_id)


def _public_id_of(task_id: str) -> str:
    return db.session.scalar(select(WebhookDelivery.public_id)
                             .where(WebhookDelivery.task_id == task_id))


# -- the kind of work ---------------------------------------------------------------------

def delivery_retry(config, attempt: int, retry_after: float | None) -> float | None:
    """The wait after a delivery's attempt `attempt` failed (its schedule's, or longer
    if the receiver asked with Retry-After, up to WEBHOOK_BACKOFF_MAX_SECONDS); None
    once the schedule is used up."""
    waits = webhook_events.schedule(config)
    if attempt > len(waits):
        return None
    return max(waits[attempt - 1], min(retry_after or 0, config["WEBHOOK_BACKOFF_MAX_SECONDS"]))


_GATHER = (select(WebhookDelivery.id, WebhookDelivery.public_id, WebhookDelivery.payload,
                  WebhookDelivery.url, Webhook.url, Webhook.secret, Webhook.enabled)
           .join(Webhook, Webhook.id == WebhookDelivery.webhook_id))


def gather(claim: Claim) -> Gathered:
    found = db.session.execute(_GATHER.where(WebhookDelivery.task_id == claim.task_id)).first()
    config = current_app.config
    if found is None:
        return Gathered(DeliveryInput("", "", "", "", 0, refused="its webhook was deleted"))
    delivery_id, public_id, payload, own_url, endpoint_url, secret, enabled = found
    return Gathered(
        input=DeliveryInput(
            url=own_url or endpoint_url, secret=secret, message_id=public_id,
            payload=payload, timeout=config["WEBHOOK_TIMEOUT_SECONDS"],
            allow_private=config["WEBHOOKS_ALLOW_PRIVATE"],
            refused=None if enabled else "its webhook is disabled"),
        kept=(delivery_id, public_id), announce={"delivery_id": public_id})


def store(claim: Claim, kept: tuple[int, str], answer: DeliveryResult) -> dict:
    """The receiver's answer on the delivery."""
    delivery_id, public_id = kept
    db.session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(
        attempts=WebhookDelivery.attempts + 1, last_status_code=answer.status_code,
        last_error=None, last_attempt_at=utcnow()))
    return {"task_id": claim.task_id, "delivery_id": public_id,
            "status_code": answer.status_code}


def attempt_failed(claim: Claim, exc: Exception) -> None:
    """A failed attempt on the delivery: the answer's status, if one came, and why."""
    db.session.execute(update(WebhookDelivery).where(
        WebhookDelivery.task_id == claim.task_id).values(
        attempts=WebhookDelivery.attempts + 1,
        last_status_code=getattr(exc, "status_code", None),
        last_error=str(exc)[:2000], last_attempt_at=utcnow()))


KIND = TaskKind(webhook_events.DELIVERY_KIND, "webhooks", gather, store,
                retry=delivery_retry, attempt_failed=attempt_failed)
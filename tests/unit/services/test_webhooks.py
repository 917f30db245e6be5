"""Webhook deliveries on SQLite with a real receiver on 127.0.0.1, run in-process as a
worker runs them: the signature, the backoff schedule, which endpoints an event goes
to, a task's end recorded with it, retries (a long wait left to the sweep), failures."""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select, update
from standardwebhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError

from app.config import Config
from app.extensions import db as _db
from app.models import Task, Webhook, WebhookDelivery
from app.models.base import utcnow
from app.services import tasks, webhook_events, webhooks
from app.services.tasks import Claim
from tests.support.data import ask
from tests.support.webhook_receiver import WebhookReceiver
from tests.support.work import answer, deliver, fail
from workers.agents.webhook_sender import signed_headers

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def receiver(app):
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = True
    with WebhookReceiver() as receiver:
        yield receiver


def endpoint(org_id, url, events=("task.succeeded", "task.failed"), enabled=True) -> Webhook:
    webhook = webhooks.create(org_id, url, list(events))
    if not enabled:
        webhooks.update_webhook(org_id, webhook["id"], {"enabled": False})
    return _db.session.scalar(select(Webhook).where(Webhook.public_id == webhook["id"]))


def delivery_of(task_id) -> WebhookDelivery:
    _db.session.expire_all()
    return _db.session.scalar(select(WebhookDelivery).where(WebhookDelivery.task_id == task_id))


def task_row(task_id) -> Task:
    _db.session.expire_all()
    return _db.session.get(Task, task_id)


# -- signatures and the schedule ----------------------------------------------------------

def test_a_signed_message_verifies_with_standardwebhooks():
    body = '{"type":"task.succeeded","timestamp":"2026-11-28T12:00:00Z","data":{}}'

    headers = signed_headers(SECRET, "dlv_0123", datetime.now(timezone.utc), body)

    assert Verifier(SECRET).verify(body, headers) == {"type": "task.succeeded",
                                                      "timestamp": "2026-11-28T12:00:00Z",
                                                      "data": {}}
    assert headers["webhook-id"] == "dlv_0123"
    assert headers["webhook-signature"].startswith("v1,")


@pytest.mark.parametrize("change", ["body", "id", "secret"])
def test_a_changed_message_or_another_secret_does_not_verify(change):
    body = '{"type":"task.succeeded","data":{}}'
    headers = signed_headers(SECRET, "dlv_0123", datetime.now(timezone.utc), body)
    secret = webhooks.new_secret() if change == "secret" else SECRET
    if change == "body":
        body = body.replace("succeeded", "failed")
    if change == "id":
        headers["webhook-id"] = "dlv_9999"

    with pytest.raises(WebhookVerificationError):
        Verifier(secret).verify(body, headers)


def test_secrets_are_standard_webhooks_secrets():
    secret = webhooks.new_secret()

    assert secret.startswith("whsec_") and secret != webhooks.new_secret()
    assert len(Verifier(secret)._whsecret) == webhooks.SECRET_BYTES


def test_the_default_schedule_doubles_from_30_s_to_4_h_within_24_h():
    waits = webhook_events.schedule(Config.__dict__)

    assert waits[:5] == [30, 60, 120, 240, 480]
    assert max(waits) == 14_400 and sum(waits) <= 86_400
    assert sum(waits) + 14_400 > 86_400  # no room for one more
    print(f"\n{len(waits) + 1} attempts over {sum(waits) / 3600:.1f} h: {waits}")


def test_the_schedule_follows_its_settings():
    config = {"WEBHOOK_BACKOFF_SECONDS": 1, "WEBHOOK_BACKOFF_MAX_SECONDS": 4,
              "WEBHOOK_RETRY_SECONDS": 20}

    assert webhook_events.schedule(config) == [1, 2, 4, 4, 4, 4]
    assert webhooks.delivery_retry(config, 3, None) == 4
    assert webhooks.delivery_retry(config, 6, None) == 4
    assert webhooks.delivery_retry(config, 7, None) is None


def test_retry_after_lengthens_a_wait_up_to_the_longest():
    config = {"WEBHOOK_BACKOFF_SECONDS": 1, "WEBHOOK_BACKOFF_MAX_SECONDS": 4,
              "WEBHOOK_RETRY_SECONDS": 20}

    assert webhooks.delivery_retry(config, 1, 3.0) == 3.0
    assert webhooks.delivery_retry(config, 1, 600.0) == 4


# -- which endpoints an event goes to -----------------------------------------------------

def test_an_event_goes_to_the_enabled_endpoints_subscribed_to_it(app, org_key):
    org_id = org_key["org_id"]
    wanted = endpoint(org_id, "https://93.184.215.14/a", ["task.succeeded"])
    endpoint(org_id, "https://93.184.215.14/b", ["task.failed"])
    endpoint(org_id, "https://93.184.215.14/c", ["task.succeeded"], enabled=False)

    task_ids = webhook_events.record_event(org_id, "task.succeeded", {"task_id": "t"})
    _db.session.commit()

    assert [delivery_of(t).webhook_id for t in task_ids] == [wanted.id]
    queued = task_row(task_ids[0])
    assert (queued.kind, queued.state, queued.org_id) == ("webhook", "PENDING", org_id)


def test_another_organizations_endpoints_get_nothing(app, org_key, client, other_auth):
    client.post("/api/webhooks", json={"url": "https://93.184.215.14/x",
                                       "events": ["task.succeeded"]}, headers=other_auth)

    assert webhook_events.record_event(org_key["org_id"], "task.succeeded", {}) == []


def test_an_organization_without_webhooks_pays_one_statement(app, org_key):
    statements = []
    listen = lambda *args, **kwargs: statements.append(args[2])  # noqa: E731
    event.listen(_db.engine, "before_cursor_execute", listen)
    try:
        made = []
        found = webhook_events.record_event(org_key["org_id"], "task.succeeded",
                                            lambda: made.append(1) or {}, subject="t-1")
    finally:
        event.remove(_db.engine, "before_cursor_execute", listen)

    assert found == [] and made == []  # the data is never made
    assert len(statements) == 1


def test_a_callback_registered_for_a_subject_gets_its_events(app, org_key):
    org_id = org_key["org_id"]
    webhooks.callback_secret(org_id)
    webhooks.register_callback(org_id, "batch-7", "https://93.184.215.14/done")

    [for_batch] = webhook_events.record_event(org_id, "batch.completed", {"batch_id": "7"},
                                              subject="batch-7")
    assert webhook_events.record_event(org_id, "batch.completed", {}, subject="batch-8") == []
    _db.session.commit()

    assert delivery_of(for_batch).url == "https://93.184.215.14/done"


def test_an_explicit_callback_url_is_delivered_to_the_callbacks_endpoint(app, org_key):
    org_id = org_key["org_id"]
    callbacks = webhooks.callback_secret(org_id)

    [task_id] = webhook_events.record_event(org_id, "batch.completed", {},
                                            callback_url="https://93.184.215.14/cb")
    _db.session.commit()

    sent = delivery_of(task_id)
    assert sent.url == "https://93.184.215.14/cb"
    assert _db.session.get(Webhook, sent.webhook_id).public_id == callbacks["webhook_id"]


# -- a task's end ---------------------------------------------------------------------------

def test_a_replys_end_is_recorded_and_published_with_it(app, client, auth, org_key,
                                                       conversation_id, sent):
    endpoint(org_key["org_id"], "https://93.184.215.14/hooks")
    task_id = ask(client, auth, conversation_id)
    sent.clear()

    answer(task_id)

    [(name, delivery_task)] = sent
    assert name == "parley.webhook"
    message = delivery_of(delivery_task)
    status = client.get(f"/api/task_status/{task_id}", headers=auth).get_json()
    assert message.event_type == "task.succeeded"
    assert json.loads(message.payload)["data"] == {
        "task_id": task_id, "kind": "reply", "state": "SUCCESS",
        "conversation_id": conversation_id, "message_id": status["message_id"],
        "reply_message_id": status["reply_message_id"], "error": None}


def test_a_failed_reply_sends_task_failed_with_its_error(app, client, auth, org_key,
                                                         conversation_id, sent):
    endpoint(org_key["org_id"], "https://93.184.215.14/hooks")
    task_id = ask(client, auth, conversation_id)
    sent.clear()

    fail(task_id, "The model refused.")

    [(_, delivery_task)] = sent
    payload = json.loads(delivery_of(delivery_task).payload)
    assert payload["type"] == "task.failed"
    assert payload["data"]["error"] == "The model refused."
    assert payload["data"]["reply_message_id"] is None


def test_a_delivery_ending_makes_no_event(app, org_key, receiver, sent):
    endpoint(org_key["org_id"], receiver.url + "/hooks")
    [task_id] = webhook_events.record_event(org_key["org_id"], "task.succeeded", {})
    _db.session.commit()
    sent.clear()

    deliver(task_id)

    assert task_row(task_id).state == "SUCCESS" and sent == []


def test_a_claim_without_a_kind_records_nothing(app, org_key):
    endpoint(org_key["org_id"], "https://93.184.215.14/hooks")

    assert webhook_events.task_finished(Claim("t", org_key["org_id"], 1, None, None),
                                        "SUCCESS", None) == []


# -- sending ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Endpoint:
    public_id: str
    id: int
    secret: str


def recorded(org_id, url) -> tuple[str, Endpoint]:
    """An endpoint at `url` and a task.succeeded event's delivery to it: the delivery's
    task id, and the endpoint's ids and secret."""
    webhook = endpoint(org_id, url)
    [task_id] = webhook_events.record_event(org_id, "task.succeeded", {"n": 1})
    _db.session.commit()
    return task_id, Endpoint(webhook.public_id, webhook.id, webhook.secret)


def test_a_delivery_arrives_signed_and_is_recorded(app, org_key, receiver):
    task_id, webhook = recorded(org_key["org_id"], receiver.url + "/hooks")

    deliver(task_id)

    [request] = receiver.wait_for(1)
    message = delivery_of(task_id)
    assert Verifier(webhook.secret).verify(request.body, request.headers)["data"] == {"n": 1}
    assert request.headers["webhook-id"] == message.public_id
    assert request.text == message.payload
    assert (message.attempts, message.last_status_code, message.last_error) == (1, 204, None)
    assert task_row(task_id).state == "SUCCESS"


def test_a_short_wait_is_a_celery_retry(app, org_key, receiver):
    app.config.update(WEBHOOK_BACKOFF_SECONDS=0.1, RETRY_BACKOFF_MAX_SECONDS=0.2)
    task_id, _ = recorded(org_key["org_id"], receiver.url + "/hooks")
    receiver.fail_next(1, status=500)

    later = deliver(task_id)

    assert later is not None and later.seconds == 0.1
    message, queued = delivery_of(task_id), task_row(task_id)
    assert (message.attempts, message.last_status_code) == (1, 500)
    assert message.last_error == "answered 500: try later"
    assert queued.state == "PENDING" and queued.published_at is not None
    assert queued.not_before is not None


def test_a_long_wait_is_left_to_the_sweep(app, org_key, receiver, sent):
    app.config.update(WEBHOOK_BACKOFF_SECONDS=3600, RETRY_BACKOFF_MAX_SECONDS=0.2)
    task_id, _ = recorded(org_key["org_id"], receiver.url + "/hooks")
    receiver.fail_next(1)

    assert deliver(task_id) is None  # no Celery retry

    queued = task_row(task_id)
    assert (queued.state, queued.published_at, queued.worker) == ("PENDING", None, None)
    assert queued.not_before > utcnow() + timedelta(minutes=59)
    sent.clear()
    tasks.sweep()
    assert sent == []  # not yet due
    _db.session.execute(update(Task).where(Task.id == task_id)
                        .values(not_before=utcnow() - timedelta(seconds=1)))
    _db.session.commit()
    tasks.sweep()
    assert sent == [("parley.webhook", task_id)]
    deliver(task_id)
    assert (delivery_of(task_id).attempts, task_row(task_id).state) == (2, "SUCCESS")


def test_the_deliveries_list_says_when_the_next_attempt_is(app, client, auth, org_key,
                                                          receiver):
    app.config.update(WEBHOOK_BACKOFF_SECONDS=3600, RETRY_BACKOFF_MAX_SECONDS=0.2)
    task_id, webhook = recorded(org_key["org_id"], receiver.url + "/hooks")
    receiver.fail_next(1, status=502)
    deliver(task_id)

    [shown] = client.get(f"/api/webhooks/{webhook.public_id}/deliveries",
                         headers=auth).get_json()["deliveries"]

    assert shown["status"] == "pending" and shown["attempts"] == 1
    assert shown["last_response_code"] == 502
    assert datetime.fromisoformat(shown["next_attempt_at"]) > utcnow() + timedelta(minutes=59)


def test_a_delivery_gives_up_when_its_schedule_is_used_up(app, org_key, receiver):
    app.config.update(WEBHOOK_BACKOFF_SECONDS=1, WEBHOOK_RETRY_SECONDS=0.5)
    task_id, _ = recorded(org_key["org_id"], receiver.url + "/hooks")
    receiver.fail_next(1, status=410)

    assert deliver(task_id) is None

    queued = task_row(task_id)
    assert queued.state == "FAILURE"
    assert queued.error == "gave up after 1 attempts: answered 410: try later"
    assert delivery_of(task_id).last_status_code == 410


def test_a_connection_refused_is_retried(app, org_key, receiver):
    from tests.support.processes import free_port
    app.config.update(WEBHOOK_BACKOFF_SECONDS=0.1, RETRY_BACKOFF_MAX_SECONDS=0.2)
    task_id, _ = recorded(org_key["org_id"], f"http://127.0.0.1:{free_port()}/gone")

    assert deliver(task_id) is not None

    message = delivery_of(task_id)
    assert message.last_status_code is None
    assert message.last_error.startswith("connection failed: ConnectError")


def test_a_target_refused_at_delivery_time_fails_at_once(app, org_key, receiver):
    task_id, webhook = recorded(org_key["org_id"], receiver.url + "/hooks")
    # As if its name resolved elsewhere since it was checked.
    _db.session.execute(update(Webhook).where(Webhook.id == webhook.id)
                        .values(url="http://169.254.169.254/latest/meta-data/"))
    _db.session.commit()

    deliver(task_id)

    queued = task_row(task_id)
    assert queued.state == "FAILURE" and "a cloud metadata address" in queued.error
    assert receiver.requests == []


def test_private_targets_are_refused_at_delivery_time_unless_allowed(app, org_key, receiver):
    task_id, _ = recorded(org_key["org_id"], receiver.url + "/hooks")
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = False

    deliver(task_id)

    assert "a loopback address" in task_row(task_id).error
    assert receiver.requests == []


def test_a_disabled_endpoint_is_not_sent_what_it_had_queued(app, org_key, receiver):
    task_id, webhook = recorded(org_key["org_id"], receiver.url + "/hooks")
    webhooks.update_webhook(org_key["org_id"], webhook.public_id, {"enabled": False})

    deliver(task_id)

    assert task_row(task_id).error == "not sent: its webhook is disabled"
    assert receiver.requests == []


def test_a_deleted_endpoint_is_not_sent_what_it_had_queued(app, org_key, receiver):
    task_id, webhook = recorded(org_key["org_id"], receiver.url + "/hooks")
    webhooks.delete_webhook(org_key["org_id"], webhook.public_id)

    deliver(task_id)

    assert task_row(task_id).error == "not sent: its webhook was deleted"
    assert receiver.requests == []


def test_a_redelivery_sends_the_same_message_again(app, client, auth, org_key, receiver):
    task_id, webhook = recorded(org_key["org_id"], receiver.url + "/hooks")
    deliver(task_id)
    message_id = delivery_of(task_id).public_id

    again = client.post(f"/api/webhooks/{webhook.public_id}/deliveries/{message_id}"
                        "/redeliver", headers=auth)
    assert again.status_code == 202
    deliver(again.get_json()["task_id"])

    first, second = receiver.wait_for(2)
    assert first.body == second.body
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == message_id
    assert Verifier(webhook.secret).verify(second.body, second.headers)
    assert delivery_of(again.get_json()["task_id"]).attempts == 2


def test_redelivering_a_waiting_delivery_sends_it_now(app, client, auth, org_key, receiver,
                                                     sent):
    app.config.update(WEBHOOK_BACKOFF_SECONDS=3600, RETRY_BACKOFF_MAX_SECONDS=0.2)
    task_id, webhook = recorded(org_key["org_id"], receiver.url + "/hooks")
    receiver.fail_next(1)
    deliver(task_id)
    sent.clear()

    again = client.post(f"/api/webhooks/{webhook.public_id}/deliveries/"
                        f"{delivery_of(task_id).public_id}/redeliver", headers=auth)

    assert again.get_json()["task_id"] == task_id and again.get_json()["status"] == "pending"
    assert again.get_json()["next_attempt_at"] is None
    assert sent == [("parley.webhook", task_id)]


def test_a_delivery_abandoned_late_in_its_schedule_is_queued_again_not_failed(
        app, org_key, sent):
    """The sweep fails a task its workers abandoned more often than its kind retries: a
    delivery's schedule, not REPLY_MAX_RETRIES."""
    endpoint(org_key["org_id"], "https://93.184.215.14/hooks")
    [task_id] = webhook_events.record_event(org_key["org_id"], "task.succeeded", {})
    _db.session.execute(update(Task).where(Task.id == task_id).values(
        state="STARTED", attempts=app.config["REPLY_MAX_RETRIES"] + 2,
        worker="gone-host:1:dead"))
    _db.session.commit()

    result = tasks.sweep()

    assert (result["abandoned"], result["failed"]) == (1, 0)
    assert task_row(task_id).state == "PENDING"


def test_deliveries_run_on_a_queue_of_their_own_that_workers_consume(app):
    routes = app.config["CELERY"]["task_routes"]

    assert routes["parley.webhook"] == {"queue": "webhooks"}
    assert "webhooks" in {queue.name for queue in app.config["CELERY"]["task_queues"]}


def test_a_jobs_end_sends_job_completed(app, client, auth, org_key, sent):
    from tests.support.dialog_sessions import run_job_task

    endpoint(org_key["org_id"], "https://93.184.215.14/jobs", ["job.completed"])
    preset = client.post("/v1/presets", headers=auth, json={
        "name": "Legal formal", "briefing": {"domain": "legal", "tone": "formal"}}
    ).get_json()["id"]
    session = client.post("/v1/dialog-sessions", headers=auth, json={
        "mode": "translation", "text": "Der Vertrag gilt.",
        "context": {"source_lang": "de", "target_lang": "en", "preset_id": preset}}
    ).get_json()["session_id"]
    job_id = client.post(f"/v1/dialog-sessions/{session}/confirm", headers=auth,
                         json={}).get_json()["job_id"]
    job = client.get(f"/v1/jobs/{job_id}", headers=auth).get_json()
    sent.clear()

    run_job_task(job["task_id"])

    [(_, delivery_task)] = [call for call in sent if call[0] == "parley.webhook"]
    payload = json.loads(delivery_of(delivery_task).payload)
    assert payload["type"] == "job.completed"
    assert payload["data"] == {"job_id": job_id, "task_id": job["task_id"],
                               "status": "completed", "error": None}

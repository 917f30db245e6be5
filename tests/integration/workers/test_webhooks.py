"""Webhooks on the real path: the API in-process, PostgreSQL, Redis, a Celery worker
process consuming the webhooks queue, celery beat running the sweep, and a receiver on
127.0.0.1 (PARLEY_WEBHOOKS_ALLOW_PRIVATE=true). A receiver that fails is tried again
after waits longer than a Celery retry may take, so each retry goes through the task
row's not_before and the sweep, as a 24-hour schedule's would."""

import time

import pytest
import redis
from standardwebhooks import Webhook as Verifier

from tests.support.data import ask, setup_conversation
from tests.support.environment import REDIS_DB
from tests.support.processes import start_beat, stop_process
from tests.support.stacks import stack_on
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.integration

WEBHOOK_ENV = {
    "PARLEY_LLM": "offline",
    "PARLEY_WEBHOOKS_ALLOW_PRIVATE": "true",
    # Waits of 1 s, then 2 s: longer than PARLEY_RETRY_BACKOFF_MAX (0.5 s in the
    # stack's worker), so left to the sweep; five attempts in all.
    "PARLEY_WEBHOOK_BACKOFF": "1",
    "PARLEY_WEBHOOK_BACKOFF_MAX": "2",
    "PARLEY_WEBHOOK_RETRY_WINDOW": "8",
    "PARLEY_WEBHOOK_TIMEOUT": "5",
    "PARLEY_SWEEP_INTERVAL": "1",
}


@pytest.fixture(scope="module")
def stack(postgres_url, redis_server, tmp_path_factory):
    """A worker and beat on the offline stack's Redis database (flushed first)."""
    folder = tmp_path_factory.mktemp("webhooks")
    redis_url = f"{redis_server}/{REDIS_DB['offline']}"
    redis.Redis.from_url(redis_url).flushdb()
    with stack_on(postgres_url, redis_url, folder, WEBHOOK_ENV) as stack:
        stack.app.config["WEBHOOKS_ALLOW_PRIVATE"] = True
        beat = start_beat({**WEBHOOK_ENV, "DATABASE_URL": postgres_url,
                           "REDIS_URL": redis_url}, folder / "beat.log")
        try:
            yield stack
        finally:
            stop_process(beat)


@pytest.fixture(scope="module")
def receiver():
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def auth(stack, receiver):
    receiver.reset()
    return stack.new_org()


def add_webhook(stack, auth, url, events=("task.succeeded", "task.failed")) -> dict:
    response = stack.client.post("/api/webhooks", headers=auth,
                                 json={"url": url, "events": list(events)})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def deliveries(stack, auth, webhook_id) -> list[dict]:
    return stack.client.get(f"/api/webhooks/{webhook_id}/deliveries",
                            headers=auth).get_json()["deliveries"]


def wait_for_delivery(stack, auth, webhook_id, status="succeeded", timeout=30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = deliveries(stack, auth, webhook_id)
        if found and found[0]["status"] == status:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no {status} delivery in {timeout}s: {found}; worker log:\n"
                         + stack.log_path.read_text()[-3000:])


def test_a_replys_task_succeeded_arrives_signed(stack, receiver, auth):
    webhook = add_webhook(stack, auth, receiver.url + "/hooks")
    conversation_id = setup_conversation(stack.client, auth)
    task_id = ask(stack.client, auth, conversation_id)

    status = stack.wait_for_task(auth, task_id)
    [request] = receiver.wait_for(1, "/hooks")

    event = Verifier(webhook["secret"]).verify(request.body, request.headers)
    assert event["type"] == "task.succeeded"
    assert event["data"] == {"task_id": task_id, "kind": "reply", "state": "SUCCESS",
                             "conversation_id": conversation_id,
                             "message_id": status["message_id"],
                             "reply_message_id": status["reply_message_id"], "error": None}
    shown = wait_for_delivery(stack, auth, webhook["id"])
    assert request.headers["webhook-id"] == shown["id"]
    assert (shown["attempts"], shown["last_response_code"]) == (1, 204)


def test_a_failing_receiver_gets_the_delivery_again_until_it_takes_it(stack, receiver, auth):
    webhook = add_webhook(stack, auth, receiver.url + "/flaky")
    receiver.fail_next(2, status=503)
    conversation_id = setup_conversation(stack.client, auth)
    ask(stack.client, auth, conversation_id)

    requests = receiver.wait_for(3, "/flaky")

    assert [r.answered for r in requests] == [503, 503, 204]
    assert len({r.headers["webhook-id"] for r in requests}) == 1
    assert len({r.body for r in requests}) == 1
    for request in requests:  # each attempt signed anew, each verifies
        Verifier(webhook["secret"]).verify(request.body, request.headers)
    shown = wait_for_delivery(stack, auth, webhook["id"])
    assert (shown["attempts"], shown["last_response_code"], shown["last_error"]) == (
        3, 204, None)


def test_a_delivery_the_receiver_never_takes_fails_once_its_schedule_is_used_up(
        stack, receiver, auth):
    webhook = add_webhook(stack, auth, receiver.url + "/down")
    receiver.fail_next(100, status=500)

    stack.client.post(f"/api/webhooks/{webhook['id']}/test", headers=auth)
    shown = wait_for_delivery(stack, auth, webhook["id"], status="failed")

    assert shown["attempts"] == 5 == len(receiver.at("/down"))
    assert shown["last_response_code"] == 500
    assert shown["last_error"] == "answered 500: try later"


def test_a_delivery_is_redelivered_on_request(stack, receiver, auth):
    webhook = add_webhook(stack, auth, receiver.url + "/again")
    first = stack.client.post(f"/api/webhooks/{webhook['id']}/test", headers=auth).get_json()
    wait_for_delivery(stack, auth, webhook["id"])

    again = stack.client.post(f"/api/webhooks/{webhook['id']}/deliveries/{first['id']}"
                              "/redeliver", headers=auth)

    assert again.status_code == 202
    one, two = receiver.wait_for(2, "/again")
    assert one.body == two.body
    assert one.headers["webhook-id"] == two.headers["webhook-id"] == first["id"]
    Verifier(webhook["secret"]).verify(two.body, two.headers)
    assert wait_for_delivery(stack, auth, webhook["id"])["attempts"] == 2


def test_a_test_event_arrives_signed(stack, receiver, auth):
    webhook = add_webhook(stack, auth, receiver.url + "/test")

    response = stack.client.post(f"/api/webhooks/{webhook['id']}/test", headers=auth)
    [request] = receiver.wait_for(1, "/test")

    assert response.status_code == 202
    event = Verifier(webhook["secret"]).verify(request.body, request.headers)
    assert event["type"] == "webhook.test"
    assert event["data"]["webhook_id"] == webhook["id"]


def test_a_callback_url_gets_its_tasks_end_signed_with_the_callback_secret(
        stack, receiver, auth):
    callbacks = stack.client.post("/api/webhooks/callback_secret", headers=auth).get_json()
    conversation_id = setup_conversation(stack.client, auth)

    response = stack.client.post(f"/api/conversations/{conversation_id}", headers=auth, json={
        "question_message": "Does FiberUP Business Duplex include an SLA?",
        "callback_url": receiver.url + "/callback"})
    [request] = receiver.wait_for(1, "/callback")

    event = Verifier(callbacks["secret"]).verify(request.body, request.headers)
    assert event["type"] == "task.succeeded"
    assert event["data"]["task_id"] == response.get_json()["task_id"]
    shown = wait_for_delivery(stack, auth, callbacks["webhook_id"])
    assert shown["url"] == receiver.url + "/callback"


def test_a_disabled_webhook_gets_nothing(stack, receiver, auth):
    off = add_webhook(stack, auth, receiver.url + "/off")
    on = add_webhook(stack, auth, receiver.url + "/on")
    stack.client.patch(f"/api/webhooks/{off['id']}", headers=auth, json={"enabled": False})
    conversation_id = setup_conversation(stack.client, auth)

    ask(stack.client, auth, conversation_id)
    receiver.wait_for(1, "/on")

    # Both would have been recorded with the task's end, in one transaction.
    assert deliveries(stack, auth, off["id"]) == []
    assert receiver.at("/off") == []


def test_private_targets_are_refused_unless_allowed(stack, auth):
    stack.app.config["WEBHOOKS_ALLOW_PRIVATE"] = False
    try:
        webhook = stack.client.post("/api/webhooks", headers=auth, json={
            "url": "http://127.0.0.1:9/hooks", "events": ["task.succeeded"]})
        stack.client.post("/api/webhooks/callback_secret", headers=auth)
        conversation_id = setup_conversation(stack.client, auth)
        callback = stack.client.post(f"/api/conversations/{conversation_id}", headers=auth,
                                     json={"question_message": "Hi?",
                                           "callback_url": "http://10.1.2.3/cb"})
    finally:
        stack.app.config["WEBHOOKS_ALLOW_PRIVATE"] = True

    assert webhook.status_code == 422
    assert "a loopback address" in webhook.get_json()["errors"]["json"]["url"][0]
    assert callback.status_code == 422
    assert "a private address" in callback.get_json()["errors"]["json"]["callback_url"][0]
    assert stack.client.post("/api/webhooks", headers=auth, json={
        "url": "http://169.254.169.254/latest/meta-data/",
        "events": ["task.succeeded"]}).status_code == 422


def test_a_batch_sends_batch_completed_to_its_webhooks_and_callback(stack, receiver, auth):
    webhook = add_webhook(stack, auth, receiver.url + "/batches", events=("batch.completed",))
    callbacks = stack.client.post("/api/webhooks/callback_secret", headers=auth).get_json()
    data_set_id = stack.client.post("/api/data_sets", json={"name": "Plans"},
                                    headers=auth).get_json()["id"]
    batch = stack.client.post("/api/batches", headers=auth, json={
        "requests": [{"custom_id": str(n), "data_set_id": data_set_id,
                      "question_message": "Anything?"} for n in range(3)],
        "callback_url": receiver.url + "/batch-callback"}).get_json()

    [to_webhook] = receiver.wait_for(1, "/batches")
    [to_callback] = receiver.wait_for(1, "/batch-callback")

    event = Verifier(webhook["secret"]).verify(to_webhook.body, to_webhook.headers)
    assert event["type"] == "batch.completed"
    assert event["data"]["batch_id"] == batch["id"]
    assert event["data"]["status"] == "completed"
    assert event["data"]["request_counts"]["succeeded"] == 3
    assert Verifier(callbacks["secret"]).verify(to_callback.body, to_callback.headers
                                                )["data"]["batch_id"] == batch["id"]


def test_a_canceled_task_sends_task_canceled(stack, receiver, auth):
    webhook = add_webhook(stack, auth, receiver.url + "/canceled", events=("task.canceled",))
    conversation_id = setup_conversation(stack.client, auth)
    # A long line of questions ahead: the last one is still waiting when canceled.
    stack.client.post("/api/batches", headers=auth, json={"requests": [
        {"custom_id": str(n), "conversation_id": conversation_id,
         "question_message": "Anything?"} for n in range(50)]})
    waiting = ask(stack.client, auth, conversation_id, "Behind the batch?")

    canceled = stack.client.post(f"/api/tasks/{waiting}/cancel", headers=auth)

    assert canceled.status_code == 200
    [request] = receiver.wait_for(1, "/canceled")
    event = Verifier(webhook["secret"]).verify(request.body, request.headers)
    assert (event["type"], event["data"]["task_id"]) == ("task.canceled", waiting)

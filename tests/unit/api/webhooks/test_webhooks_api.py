"""The webhooks' endpoints (/api/webhooks) on SQLite: the secret shown once, changes,
organizations apart, URLs refused with a 422 naming the field, callbacks needing the
callback secret, deliveries paged."""

import pytest
from sqlalchemy import select

from app.models import WebhookCallback

PUBLIC = "https://93.184.215.14/hooks"


@pytest.fixture
def webhook(client, auth) -> dict:
    response = client.post("/api/webhooks", headers=auth, json={
        "url": PUBLIC, "events": ["task.succeeded", "job.completed"], "description": "CRM"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_the_secret_is_shown_when_the_webhook_is_made_and_never_again(client, auth, webhook):
    shown = client.get(f"/api/webhooks/{webhook['id']}", headers=auth).get_json()

    assert webhook["id"].startswith("wh_") and webhook["secret"].startswith("whsec_")
    assert "secret" not in shown
    assert shown == {key: value for key, value in webhook.items() if key != "secret"}
    assert shown["events"] == ["job.completed", "task.succeeded"]
    assert (shown["kind"], shown["enabled"], shown["description"]) == ("endpoint", True, "CRM")


def test_the_organizations_webhooks_are_listed(client, auth, webhook, other_auth):
    client.post("/api/webhooks", headers=other_auth,
                json={"url": PUBLIC, "events": ["task.failed"]})

    assert [w["id"] for w in client.get("/api/webhooks", headers=auth).get_json()] == [
        webhook["id"]]


def test_a_webhook_is_changed_in_part(client, auth, webhook):
    changed = client.patch(f"/api/webhooks/{webhook['id']}", headers=auth, json={
        "enabled": False, "events": ["task.failed", "task.succeeded"],
        "url": "https://93.184.215.14/v2"})

    assert changed.status_code == 200
    body = changed.get_json()
    assert (body["enabled"], body["events"], body["url"]) == (
        False, ["task.failed", "task.succeeded"], "https://93.184.215.14/v2")
    assert body["description"] == "CRM"


def test_a_deleted_webhook_is_gone(client, auth, webhook):
    assert client.delete(f"/api/webhooks/{webhook['id']}", headers=auth).status_code == 204
    assert client.get(f"/api/webhooks/{webhook['id']}", headers=auth).status_code == 404


@pytest.mark.parametrize("method, path", [
    ("get", ""), ("patch", ""), ("delete", ""), ("post", "/test"), ("get", "/deliveries")])
def test_another_organizations_webhook_is_not_found(client, webhook, other_auth, method,
                                                    path):
    kwargs = {"json": {"enabled": False}} if method == "patch" else {}
    response = getattr(client, method)(f"/api/webhooks/{webhook['id']}{path}",
                                       headers=other_auth, **kwargs)

    assert response.status_code == 404
    assert response.get_json()["message"] == f"Webhook {webhook['id']} not found."


@pytest.mark.parametrize("url, reason", [
    ("http://127.0.0.1:8080/hook", "a loopback address"),
    ("http://10.0.0.5/hook", "a private address"),
    ("http://169.254.169.254/latest/meta-data/", "a cloud metadata address"),
    ("http://[fd00:ec2::254]/", "a cloud metadata address"),
    ("ftp://93.184.215.14/hook", "http or https"),
])
def test_a_url_that_may_not_be_a_target_is_a_422_naming_the_field(client, auth, url, reason):
    response = client.post("/api/webhooks", headers=auth,
                           json={"url": url, "events": ["task.succeeded"]})

    assert response.status_code == 422
    assert response.get_json()["message"].startswith("Invalid request: url: ")
    assert reason in response.get_json()["errors"]["json"]["url"][0]


def test_a_changed_url_is_checked_too(client, auth, webhook):
    response = client.patch(f"/api/webhooks/{webhook['id']}", headers=auth,
                            json={"url": "http://192.168.0.1/"})

    assert response.status_code == 422 and "url" in response.get_json()["errors"]["json"]


def test_private_targets_are_allowed_when_the_setting_says_so(app, client, auth):
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = True

    assert client.post("/api/webhooks", headers=auth, json={
        "url": "http://127.0.0.1:8080/hook", "events": ["task.succeeded"]}).status_code == 201
    assert client.post("/api/webhooks", headers=auth, json={
        "url": "http://169.254.169.254/", "events": ["task.succeeded"]}).status_code == 422


@pytest.mark.parametrize("events", [[], ["task.exploded"], "task.succeeded"])
def test_events_must_be_known_types(client, auth, events):
    response = client.post("/api/webhooks", headers=auth, json={"url": PUBLIC,
                                                                "events": events})

    assert response.status_code == 422 and "events" in response.get_json()["errors"]["json"]


def test_a_callback_url_needs_the_callback_secret_first(client, auth, conversation_id):
    response = client.post(f"/api/conversations/{conversation_id}", headers=auth, json={
        "question_message": "Hi?", "callback_url": PUBLIC})

    assert response.status_code == 422
    assert response.get_json()["errors"]["json"]["callback_url"][0].startswith(
        "Callbacks are signed with your organization's callback secret")
    assert client.get(f"/api/conversations/{conversation_id}",
                      headers=auth).get_json()["history"] == []


def test_a_callback_url_is_registered_with_its_task(client, auth, db, conversation_id):
    secret = client.post("/api/webhooks/callback_secret", headers=auth).get_json()

    response = client.post(f"/api/conversations/{conversation_id}", headers=auth, json={
        "question_message": "Hi?", "callback_url": PUBLIC})

    assert response.status_code == 202
    registered = db.session.scalar(select(WebhookCallback).where(
        WebhookCallback.subject == response.get_json()["task_id"]))
    assert registered.url == PUBLIC
    assert secret["secret"].startswith("whsec_") and secret["webhook_id"].startswith("wh_")


def test_a_private_callback_url_is_refused(client, auth, conversation_id):
    client.post("/api/webhooks/callback_secret", headers=auth)

    response = client.post(f"/api/conversations/{conversation_id}", headers=auth, json={
        "question_message": "Hi?", "callback_url": "http://10.0.0.1/cb"})

    assert response.status_code == 422
    assert "a private address" in response.get_json()["errors"]["json"]["callback_url"][0]


def test_asking_for_the_callback_secret_again_replaces_it(client, auth):
    first = client.post("/api/webhooks/callback_secret", headers=auth).get_json()
    second = client.post("/api/webhooks/callback_secret", headers=auth).get_json()

    assert first["webhook_id"] == second["webhook_id"]
    assert first["secret"] != second["secret"]
    [callbacks] = client.get("/api/webhooks", headers=auth).get_json()
    assert (callbacks["kind"], callbacks["url"], callbacks["events"]) == ("callbacks", None, [])


def test_the_callbacks_endpoint_has_no_url_or_events_to_change(client, auth):
    callbacks = client.post("/api/webhooks/callback_secret", headers=auth).get_json()

    response = client.patch(f"/api/webhooks/{callbacks['webhook_id']}", headers=auth,
                            json={"url": PUBLIC})

    assert response.status_code == 422
    assert client.post(f"/api/webhooks/{callbacks['webhook_id']}/test",
                       headers=auth).status_code == 409


def test_a_test_event_is_queued_for_the_webhook(client, auth, webhook):
    response = client.post(f"/api/webhooks/{webhook['id']}/test", headers=auth)

    assert response.status_code == 202
    body = response.get_json()
    assert (body["event_type"], body["status"], body["attempts"]) == ("webhook.test",
                                                                      "pending", 0)
    assert body["payload"]["data"]["webhook_id"] == webhook["id"]


def test_a_disabled_webhook_takes_no_test_event(client, auth, webhook):
    client.patch(f"/api/webhooks/{webhook['id']}", headers=auth, json={"enabled": False})

    assert client.post(f"/api/webhooks/{webhook['id']}/test", headers=auth).status_code == 409


def test_deliveries_are_paged_newest_first(client, auth, webhook):
    made = [client.post(f"/api/webhooks/{webhook['id']}/test", headers=auth).get_json()["id"]
            for _ in range(5)]
    path = f"/api/webhooks/{webhook['id']}/deliveries"

    first = client.get(f"{path}?limit=2", headers=auth).get_json()
    second = client.get(f"{path}?limit=2&before={first['older']}", headers=auth).get_json()
    last = client.get(f"{path}?limit=2&before={second['older']}", headers=auth).get_json()

    pages = [first, second, last]
    assert [d["id"] for page in pages for d in page["deliveries"]] == made[::-1]
    assert last["older"] is None


def test_an_unknown_delivery_is_not_found(client, auth, webhook):
    path = f"/api/webhooks/{webhook['id']}/deliveries"

    assert client.get(f"{path}?before=dlv_nope", headers=auth).status_code == 404
    assert client.post(f"{path}/dlv_nope/redeliver", headers=auth).status_code == 404

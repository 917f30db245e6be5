"""Per-key request limits per face (app/rate_limits.py), counted in memory here (the
unit tests' app has no Redis; tests/integration/api/test_rate_limits.py counts in
Redis): the RateLimit-* headers, and each face's own 429 body."""

import pytest

LIMIT = 2


@pytest.fixture(autouse=True)
def low_limits(app):
    app.config["RATE_LIMITS"] = {face: f"{LIMIT} per minute" for face in (
        "polling", "dialogues", "conversation_service", "dialog_sessions")}


def over_the_limit(client, path, headers):
    """The answers to LIMIT requests, then the 429 of the one after."""
    answers = [client.get(path, headers=headers) for _ in range(LIMIT)]
    return answers, client.get(path, headers=headers)


def assert_limited(answers, refused):
    assert [a.status_code for a in answers] == [200] * LIMIT
    assert [a.headers["RateLimit-Remaining"] for a in answers] == ["1", "0"]
    assert {a.headers["RateLimit-Limit"] for a in answers} == {str(LIMIT)}
    assert all("Retry-After" not in a.headers for a in answers)
    assert refused.status_code == 429
    assert refused.headers["RateLimit-Limit"] == str(LIMIT)
    assert refused.headers["RateLimit-Remaining"] == "0"
    reset, retry_after = int(refused.headers["RateLimit-Reset"]), int(
        refused.headers["Retry-After"])
    assert 0 < retry_after <= 60 and 0 <= reset <= 60  # seconds, not a timestamp


def test_the_polling_face_answers_429_in_its_error_body(client, auth):
    answers, refused = over_the_limit(client, "/api/data_sets", auth)

    assert_limited(answers, refused)
    body = refused.get_json()
    assert (body["code"], body["status"]) == (429, "Too Many Requests")
    assert "2 per minute" in body["message"]


def test_the_dialogue_store_answers_rate_limit_exceeded(client, auth):
    answers, refused = over_the_limit(client, "/dialogue", auth)

    assert_limited(answers, refused)
    body = refused.get_json()
    assert body["code"] == "RATE_LIMIT_EXCEEDED"
    assert body["requestId"] == refused.headers["X-Request-Id"]


def test_the_conversation_service_answers_its_429(client, auth, org_key):
    answers, refused = over_the_limit(client, f"/api/models?org_id={org_key['org_id']}",
                                      auth)

    assert_limited(answers, refused)
    assert (refused.get_json()["code"], refused.get_json()["status"]) == (
        429, "Too Many Requests")


def test_the_dialog_sessions_face_answers_rate_limited(client, auth):
    answers, refused = over_the_limit(client, "/v1/jobs", auth)

    assert_limited(answers, refused)
    error = refused.get_json()["error"]
    assert (error["status"], error["code"]) == (429, "rate_limited")


def test_each_key_has_its_own_count(client, auth, other_auth):
    over_the_limit(client, "/api/data_sets", auth)

    assert client.get("/api/data_sets", headers=other_auth).status_code == 200


def test_a_bearer_token_counts_as_its_key(client, auth):
    token = client.post("/v1/auth/token", headers=auth).get_json()["access_token"]
    client.get("/api/data_sets", headers=auth)
    client.get("/api/data_sets", headers={"Authorization": f"Bearer {token}"})

    assert client.get("/api/data_sets", headers=auth).status_code == 429


def test_each_face_has_its_own_count(client, auth):
    over_the_limit(client, "/api/data_sets", auth)

    assert client.get("/dialogue", headers=auth).status_code == 200
    # The polling face's side blueprints count with it.
    assert client.get("/api/batches", headers=auth).status_code == 429


def test_requests_without_a_key_are_counted_by_address(client, auth):
    answers, refused = over_the_limit(client, "/api/data_sets", {})

    assert [a.status_code for a in answers] == [401] * LIMIT
    assert refused.status_code == 429
    assert client.get("/api/data_sets", headers=auth).status_code == 200


def test_an_empty_setting_turns_the_face_limit_off(app, client, auth):
    app.config["RATE_LIMITS"]["polling"] = ""

    answers, last = over_the_limit(client, "/api/data_sets", auth)

    assert last.status_code == 200
    assert "RateLimit-Limit" not in last.headers


def test_the_openapi_document_lists_429_with_retry_after(client):
    document = client.get("/openapi.json").get_json()
    operation = document["paths"]["/dialogue"]["get"]

    assert "Retry-After" in operation["responses"]["429"]["headers"]
    schema = operation["responses"]["429"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("DialogueError")

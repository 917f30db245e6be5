"""CORS (app/cors.py): browsers from PARLEY_CORS_ORIGINS may call every face and read
/openapi.json; their preflights need no key and are not counted by the rate limiter;
other origins get no CORS header, and with no setting nothing changes."""

from contextlib import ExitStack

import pytest

from app import create_app
from app.config import TestConfig
from app.cors import ALLOWED_HEADERS, EXPOSED_HEADERS
from app.services import organizations
from tests.support.apps import app_context_on, sqlite_copy

ALLOWED = "https://app.example.com"
OTHER = "https://elsewhere.example.net"
# A path of each face (and the OpenAPI document), as a browser would ask for it.
FACE_PATHS = ("/api/data_sets", "/api/task_status/some-task", "/api/batches",
              "/api/tasks/some-task/cancel", "/api/webhooks", "/api/conversation/list",
              "/dialogue", "/v1/dialog-sessions", "/openapi.json")


@pytest.fixture
def cors_client(migrated_sqlite, tmp_path):
    """make(origins): a client of an app (on its own database) whose
    PARLEY_CORS_ORIGINS is `origins`, its context pushed."""
    with ExitStack() as stack:
        yield lambda origins: stack.enter_context(app_context_on(
            sqlite_copy(migrated_sqlite, tmp_path), CORS_ORIGINS=origins)).test_client()


def preflight(client, path: str, origin: str, method: str = "POST"):
    return client.options(path, headers={
        "Origin": origin, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": ", ".join(ALLOWED_HEADERS)})


def cors_headers(response) -> dict:
    return {name: value for name, value in response.headers.items()
            if name.startswith("Access-Control-")}


def names(value: str) -> set[str]:
    return {name.strip().lower() for name in value.split(",")}


@pytest.mark.parametrize("path", FACE_PATHS)
def test_a_preflight_from_an_allowed_origin_is_answered_without_a_key(cors_client, path):
    response = preflight(cors_client([ALLOWED, "http://localhost:3000"]), path, ALLOWED)

    assert response.status_code in (200, 204)
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert names(response.headers["Access-Control-Allow-Headers"]) == {
        name.lower() for name in ALLOWED_HEADERS}
    assert "post" in names(response.headers["Access-Control-Allow-Methods"])
    assert int(response.headers["Access-Control-Max-Age"]) > 0
    assert "Access-Control-Allow-Credentials" not in response.headers  # keys, not cookies
    assert "Origin" in response.vary


def test_a_preflight_is_refused_the_headers_the_faces_do_not_read(cors_client):
    response = cors_client([ALLOWED]).options("/api/data_sets", headers={
        "Origin": ALLOWED, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "X-API-Key, X-Something-Else"})

    assert names(response.headers["Access-Control-Allow-Headers"]) == {"x-api-key"}


def test_a_preflight_from_another_origin_gets_no_allow_origin(cors_client):
    response = preflight(cors_client([ALLOWED]), "/api/data_sets", OTHER)

    assert cors_headers(response) == {}
    assert "Origin" in response.vary  # a cache must not hand it to the allowed origin


def test_an_origin_is_matched_whole_not_as_a_prefix_or_a_pattern(cors_client):
    client = cors_client(["http://[::1]:3000", "https://a.example.com"])

    assert preflight(client, "/dialogue", "http://[::1]:3000").headers[
        "Access-Control-Allow-Origin"] == "http://[::1]:3000"
    assert preflight(client, "/dialogue", "HTTPS://A.EXAMPLE.COM").headers[
        "Access-Control-Allow-Origin"] == "HTTPS://A.EXAMPLE.COM"  # hosts are not case-sensitive
    for near in ("http://[::1]:30001", "https://a.example.com.evil.net", "https://aXexample.com"):
        assert cors_headers(preflight(client, "/dialogue", near)) == {}


def test_without_the_setting_there_are_no_cors_headers(client, auth):
    answers = [preflight(client, "/api/data_sets", ALLOWED),
               client.get("/api/data_sets", headers={**auth, "Origin": ALLOWED}),
               client.get("/openapi.json", headers={"Origin": ALLOWED})]

    assert [cors_headers(response) for response in answers] == [{}, {}, {}]
    assert answers[1].status_code == 200


def test_a_request_from_an_allowed_origin_may_read_the_answer_and_its_headers(cors_client):
    client = cors_client([ALLOWED])
    key = organizations.create_key("acme")["api_key"]

    response = client.get("/api/data_sets", headers={"X-API-Key": key, "Origin": ALLOWED})

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    exposed = names(response.headers["Access-Control-Expose-Headers"])
    assert exposed == {name.lower() for name in EXPOSED_HEADERS}
    assert {"x-request-id", "ratelimit-remaining", "etag", "idempotent-replayed"} <= exposed
    assert {"X-Request-Id", "RateLimit-Remaining"} <= set(response.headers.keys())


def test_an_error_answer_carries_the_headers_too_so_a_browser_can_read_it(cors_client):
    response = cors_client([ALLOWED]).get("/v1/dialog-sessions/nope",
                                          headers={"Origin": ALLOWED})

    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED


def test_a_request_without_origin_gets_no_cors_headers(cors_client):
    response = cors_client([ALLOWED]).get("/openapi.json")

    assert cors_headers(response) == {}
    assert "Origin" in response.vary


def test_any_origin_with_a_star(cors_client):
    client = cors_client(["*"])

    assert preflight(client, "/v1/dialog-sessions", OTHER).headers[
        "Access-Control-Allow-Origin"] == "*"
    assert client.get("/openapi.json", headers={"Origin": ALLOWED}).headers[
        "Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("path", ["/healthz", "/docs", "/metrics"])
def test_paths_outside_the_faces_get_no_cors_headers(cors_client, path):
    response = cors_client(["*"]).get(path, headers={"Origin": ALLOWED})

    assert cors_headers(response) == {}


def test_preflights_are_not_counted_by_the_rate_limiter(cors_client):
    client = cors_client([ALLOWED])
    client.application.config["RATE_LIMITS"] = {"polling": "2 per minute"}
    key = organizations.create_key("acme")["api_key"]

    preflights = [preflight(client, "/api/data_sets", ALLOWED, "GET") for _ in range(5)]
    first = client.get("/api/data_sets", headers={"X-API-Key": key, "Origin": ALLOWED})

    assert {response.status_code for response in preflights} == {200}
    assert all("RateLimit-Remaining" not in response.headers for response in preflights)
    assert first.status_code == 200
    assert first.headers["RateLimit-Remaining"] == "1"


def test_an_origin_with_a_path_is_refused_when_the_app_is_made():
    with pytest.raises(ValueError, match="PARLEY_CORS_ORIGINS.*'https://app.example.com/'"):
        create_app(TestConfig, REDIS_URL="memory://", CORS_ORIGINS=["https://app.example.com/"])

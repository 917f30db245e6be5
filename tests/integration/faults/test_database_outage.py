"""While the database is unreachable the API answers 503 with a JSON error, and it
recovers by itself when the database returns. The test stops and starts a PostgreSQL
server of its own (a throwaway cluster on its own port, the `cluster` fixture),
never the machine's."""

import time

import pytest

from app.extensions import db
from app.services import organizations
from tests.support.apps import make_real_app

pytestmark = pytest.mark.integration


def test_database_outage_is_503_then_recovers_by_itself(cluster):
    from flask_migrate import upgrade

    app = make_real_app(cluster.url, "memory://", AUTH_CACHE_SECONDS=0)
    with app.app_context():
        upgrade()
        auth = {"X-API-Key": organizations.create_key("outage")["api_key"]}
    # Each request in its own app context, as under gunicorn.
    client = app.test_client()
    assert client.get("/api/data_sets", headers=auth).status_code == 200

    cluster.stop()
    down = [client.get("/api/data_sets", headers=auth),
            client.post("/api/data_sets", json={"name": "x"}, headers=auth),
            client.get("/api/task_status/00000000-0000-0000-0000-000000000000",
                       headers=auth)]
    cluster.start()
    recovered = _first_success(client, auth)
    with app.app_context():
        db.engine.dispose()

    for response in down:
        assert response.status_code == 503, response.get_data(as_text=True)
        assert response.get_json()["message"] == "The database is unavailable; try again shortly."
    assert recovered < 3, "the API should recover within a request or two"


def _first_success(client, auth) -> int:
    """How many requests it took, once the database is back, to get a 200."""
    for attempt in range(10):
        response = client.get("/api/data_sets", headers=auth)
        assert response.status_code in (200, 503), response.get_data(as_text=True)
        if response.status_code == 200:
            return attempt
        time.sleep(0.2)
    raise AssertionError("the API did not recover after the database returned")

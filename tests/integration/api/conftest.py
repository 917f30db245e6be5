"""Fixtures of the faces' tests, which run every test on both databases: the app is
app_on_each_database (tests/integration/conftest.py), so a test runs once on a migrated
SQLite file and once on the run's PostgreSQL database.

Each test works in organizations of its own (all data is org-scoped), so the shared
PostgreSQL database needs no cleaning between tests. The models table is global: a
test that disables a model disables one it added under a unique name (spare_model).
"""

import uuid

import pytest

from app.services import language_models
from tests.support.conversation_service import Api
from tests.support.data import new_org


@pytest.fixture
def app(app_on_each_database):
    """With the configured models synced (idempotent), as `parley up` does at start."""
    # An idle relay checks the database this often: a test that reads too far waits
    # half a second, not fifteen.
    app_on_each_database.config["SSE_HEARTBEAT_SECONDS"] = 0.5
    language_models.sync_configured(app_on_each_database.config)
    return app_on_each_database


@pytest.fixture
def other_auth(app):
    """Another organization, authenticating the other way (X-API-Key)."""
    return {"X-API-Key": new_org()["api_key"]}


@pytest.fixture
def other(app):
    """Another organization, authenticating the other way (X-API-Key): its ids and
    headers."""
    key = new_org()
    return {**key, "auth": {"X-API-Key": key["api_key"]}}


@pytest.fixture
def spare_model(app) -> str:
    """The id of an enabled model of this test's own (safe to disable)."""
    return language_models.add_model("offline", f"cs-test-{uuid.uuid4().hex[:12]}").id


@pytest.fixture
def api(client, auth, org) -> Api:
    """The conversation service's calls as this test's organization."""
    return Api(client, auth, org["org_id"])


@pytest.fixture
def other_api(client, other) -> Api:
    """The conversation service's calls as another organization."""
    return Api(client, other["auth"], other["org_id"])

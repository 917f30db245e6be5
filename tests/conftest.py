"""Fixtures shared by the unit tests: an app on a migrated SQLite file, its client,
an organization with an API key, and small data fixtures that return ids."""

import pytest

from app.extensions import db as _db
from app.services import organizations
from tests.support.apps import app_context_on, make_app, migrate, sqlite_copy
from tests.support.data import PRICE_DOCUMENT, SLA_DOCUMENT


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory):
    """Run the real migrations once; each test gets a copy of the result."""
    path = tmp_path_factory.mktemp("template") / "parley.db"
    migrate(make_app(f"sqlite:///{path}"))
    return path


@pytest.fixture
def app(migrated_sqlite, tmp_path):
    with app_context_on(sqlite_copy(migrated_sqlite, tmp_path)) as app:
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def org_key(app):
    """{"org_id", "key_id", "api_key"} of a fresh organization."""
    return organizations.create_key("acme")


@pytest.fixture
def auth(org_key):
    return {"X-API-Key": org_key["api_key"]}


@pytest.fixture
def other_auth(app):
    return {"X-API-Key": organizations.create_key("globex")["api_key"]}


@pytest.fixture
def data_set_id(client, auth):
    response = client.post("/api/data_sets", json={"name": "Plans", "description": "x"},
                           headers=auth)
    data_set_id = response.get_json()["id"]
    for title, content in (("FiberUP Business Duplex", SLA_DOCUMENT),
                           ("Home price list", PRICE_DOCUMENT)):
        client.post(f"/api/data_sets/{data_set_id}/documents",
                    json={"title": title, "content": content}, headers=auth)
    return data_set_id


@pytest.fixture
def conversation_id(client, auth, data_set_id):
    response = client.post("/api/conversations", json={"data_set_id": data_set_id},
                           headers=auth)
    return response.get_json()["id"]

"""Fixtures shared by the unit tests: an app on a migrated SQLite file, its client,
an organization with an API key, and small data fixtures that return ids."""

import shutil
from contextlib import contextmanager

import fakeredis
import pytest

from app import create_app
from app.config import TestConfig
from app.extensions import db as _db
from app.services import organizations
from app.services.events import TaskEventStreams

SLA_DOCUMENT = (
    "FiberUP Business Duplex is a symmetric fibre plan for companies.\n\n"
    "FiberUP Business Duplex includes an SLA guaranteeing 99.9% uptime, with an optional "
    "priority support package that answers within two hours.\n\n"
    "Installation takes five working days."
)
PRICE_DOCUMENT = "The FiberUP Home plan costs 30 euros a month. It has no SLA."
SLA_QUESTION = "Does FiberUP Business Duplex include an SLA?"


def ask(client, auth, conversation_id, question=SLA_QUESTION) -> str:
    """Post a question through the polling face; the task id it was accepted under."""
    response = client.post(f"/api/conversations/{conversation_id}",
                           json={"question_message": question}, headers=auth)
    assert response.status_code == 202, response.get_json()
    return response.get_json()["task_id"]


def make_app(database_url: str, **overrides):
    """An app whose Celery publishes to an in-memory broker that nothing consumes, and
    whose task event streams live in an in-process fake Redis."""
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database_url,
                     REDIS_URL="memory://", **overrides)
    app.extensions["task_events"] = TaskEventStreams(
        fakeredis.FakeRedis(decode_responses=True), app.config["EVENTS_MAXLEN"],
        app.config["EVENTS_TTL_SECONDS"])
    return app


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory):
    """Run the real migrations once; each test gets a copy of the result."""
    from flask_migrate import upgrade

    path = tmp_path_factory.mktemp("template") / "parley.db"
    app = make_app(f"sqlite:///{path}")
    with app.app_context():
        upgrade()
        _db.engine.dispose()
    return path


def sqlite_copy(template, tmp_path) -> str:
    """A URL of a fresh copy of the migrated SQLite template."""
    path = tmp_path / "parley.db"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


@contextmanager
def app_context_on(database_url: str):
    """An app on that database, with its context pushed; its connections closed after."""
    app = make_app(database_url)
    with app.app_context():
        yield app
        _db.session.remove()
        _db.engine.dispose()


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

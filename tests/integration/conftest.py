"""Fixtures of the real path: PostgreSQL, Redis, Celery worker processes and the fake
Anthropic server, with the API driven in-process through the Flask test client; and an
app on each database for the faces' tests.

With CI=true a missing PostgreSQL or Redis fails the run; elsewhere those tests are
skipped, saying why (the tests that need neither still run). The services, and the Redis
databases the stacks use (PARLEY_TEST_REDIS_DBS), come from the environment: see
tests/support/environment.py.
"""

import psycopg
import pytest
import redis

from tests.support.apps import app_context_on, sqlite_copy
from tests.support.data import new_org
from tests.support.environment import (POSTGRES_ADMIN_URL, REDIS_SERVER_URL,
                                       unavailable)
from tests.support.fake_anthropic import FakeAnthropicServer
from tests.support.postgres import scratch_database
from tests.support.stacks import real_stack


@pytest.fixture(scope="session")
def postgres_url():
    """A database of our own for this run, migrated, created and dropped around it."""
    try:
        psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL at {POSTGRES_ADMIN_URL}", exc)
    with scratch_database(POSTGRES_ADMIN_URL) as url:
        yield url


@pytest.fixture(scope="session")
def redis_server():
    client = redis.Redis.from_url(REDIS_SERVER_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable(f"Redis at {REDIS_SERVER_URL}", exc)
    return REDIS_SERVER_URL


@pytest.fixture(scope="session")
def fake_model():
    with FakeAnthropicServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_fake_model(request):
    """Each test starts with a well-behaved model."""
    if "fake_model" in request.fixturenames:
        request.getfixturevalue("fake_model").reset()


@pytest.fixture(params=["sqlite", "postgresql"])
def app_on_each_database(request, tmp_path):
    """The unit tests' app (Celery to memory://, task events in a fake Redis) on a
    fresh copy of the migrated SQLite template, then on the run's migrated PostgreSQL
    database, with an app context pushed: a test using it runs once on each."""
    if request.param == "sqlite":
        url = sqlite_copy(request.getfixturevalue("migrated_sqlite"), tmp_path)
    else:
        url = request.getfixturevalue("postgres_url")
    with app_context_on(url) as flask_app:
        yield flask_app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def org(app):
    """An organization of this test's own."""
    return new_org()


@pytest.fixture
def auth(org):
    return {"Authorization": f"Bearer {org['api_key']}"}


@pytest.fixture(scope="module")
def claude_stack(postgres_url, redis_server, fake_model, tmp_path_factory):
    with real_stack("anthropic", postgres_url, redis_server,
                    tmp_path_factory.mktemp("worker-anthropic"), fake_model) as stack:
        yield stack


@pytest.fixture(scope="module")
def offline_stack(postgres_url, redis_server, tmp_path_factory):
    with real_stack("offline", postgres_url, redis_server,
                    tmp_path_factory.mktemp("worker-offline")) as stack:
        yield stack

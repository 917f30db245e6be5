"""The real path: PostgreSQL, Redis, Celery worker processes and the fake Anthropic
server, with the API driven in-process through the Flask test client.

With CI=true a missing PostgreSQL or Redis fails the run; elsewhere those tests are
skipped, saying why (the tests that need neither still run).
"""

import os
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import redis

from app import create_app
from app.config import Config
from app.extensions import db
from app.services import organizations
from tests.fake_anthropic import FakeAnthropicServer

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_ADMIN_URL = os.environ.get("PARLEY_TEST_POSTGRES",
                                    "postgresql://postgres@127.0.0.1:5432/test")
REDIS_SERVER_URL = os.environ.get("PARLEY_TEST_REDIS", "redis://127.0.0.1:6379")
WORKER_READY_SECONDS = 60
# Each worker kind gets its own Redis database, so no worker takes another's tasks.
REDIS_DB = {"anthropic": 11, "offline": 12}
WORKER_ENV = {
    "PARLEY_RETRY_BACKOFF": "0.1",
    "PARLEY_RETRY_BACKOFF_MAX": "0.5",
    "PARLEY_REPLY_MAX_RETRIES": "4",
    "PARLEY_LLM_TIMEOUT": "1.5",
    "ANTHROPIC_MODEL": "claude-fake-1",
}


def _unavailable(what: str, exc: Exception):
    message = f"{what} is not reachable ({exc})"
    if IN_CI:
        pytest.fail(f"{message}; with CI=true the integration tests must run", pytrace=False)
    pytest.skip(f"{message}; integration test skipped")


@pytest.fixture(scope="session")
def postgres_url():
    """A database of our own for this run, created and dropped around it."""
    name = f"parley_it_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        _unavailable(f"PostgreSQL at {POSTGRES_ADMIN_URL}", exc)
    admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)
    _migrate(url)
    yield url
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def _migrate(url: str) -> None:
    from flask_migrate import upgrade

    app = make_app(url, "memory://")
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def redis_server():
    client = redis.Redis.from_url(REDIS_SERVER_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        _unavailable(f"Redis at {REDIS_SERVER_URL}", exc)
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
    from tests.conftest import app_context_on, sqlite_copy

    if request.param == "sqlite":
        url = sqlite_copy(request.getfixturevalue("migrated_sqlite"), tmp_path)
    else:
        url = request.getfixturevalue("postgres_url")
    with app_context_on(url) as flask_app:
        yield flask_app


def new_org() -> dict:
    """{"org_id", "key_id", "api_key"} of a new organization (inside an app context).
    Each test works in organizations of its own, so a shared database needs no cleaning."""
    return organizations.create_key(f"org-{uuid.uuid4().hex}")


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


def make_app(database_url: str, redis_url: str, **overrides):
    return create_app(Config, SQLALCHEMY_DATABASE_URI=database_url, REDIS_URL=redis_url,
                      **overrides)


class Stack:
    """The API (in-process) and a real worker process sharing PostgreSQL and Redis."""

    def __init__(self, app, worker: subprocess.Popen, log_path: Path):
        self.app = app
        self.client = app.test_client()
        self.worker = worker
        self.log_path = log_path

    def new_org(self) -> dict:
        with self.app.app_context():
            key = organizations.create_key(f"org-{secrets.token_hex(4)}")
        return {"X-API-Key": key["api_key"]}

    def wait_for_task(self, auth: dict, task_id: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.client.get(f"/api/task_status/{task_id}", headers=auth).get_json()
            if status["state"] in ("SUCCESS", "FAILURE"):
                return status
            time.sleep(0.05)
        raise AssertionError(f"task {task_id} still {status} after {timeout}s; worker log:\n"
                             + self.log_path.read_text()[-3000:])


def start_worker(env: dict, log_path: Path, concurrency: int = 8) -> subprocess.Popen:
    return start_celery(
        ["worker", "--pool", "threads", "--concurrency", str(concurrency),
         "--queues", "replies,maintenance", "--task-events", "--loglevel", "INFO",
         "--without-gossip", "--without-mingle",
         "--hostname", f"it-{secrets.token_hex(3)}@%h"], env, log_path, " ready.")


def start_beat(env: dict, log_path: Path) -> subprocess.Popen:
    schedule = log_path.with_name("celerybeat-schedule")
    return start_celery(["beat", "--loglevel", "INFO", "--schedule", str(schedule)],
                        env, log_path, "beat: Starting")


def start_celery(arguments: list[str], env: dict, log_path: Path,
                 ready_marker: str) -> subprocess.Popen:
    """A celery process of the project, started and waited for until it says it is
    ready. Each process needs a log file of its own."""
    log = log_path.open("w")
    process = subprocess.Popen([sys.executable, "-m", "celery", "-A", "workers.celery_app",
                                *arguments], cwd=ROOT, env={**os.environ, **env},
                               stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + WORKER_READY_SECONDS
    while ready_marker not in log_path.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"celery {arguments[0]} did not start:\n"
                               + log_path.read_text()[-3000:])
        time.sleep(0.1)
    return process


def stop_worker(worker: subprocess.Popen) -> None:
    worker.terminate()
    try:
        worker.wait(timeout=15)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def _stack(kind: str, postgres_url: str, redis_server: str, tmp_path_factory,
           fake_model=None):
    redis_url = f"{redis_server}/{REDIS_DB[kind]}"
    redis.Redis.from_url(redis_url).flushdb()
    env = {**WORKER_ENV, "DATABASE_URL": postgres_url, "REDIS_URL": redis_url,
           "PARLEY_LLM": kind}
    if fake_model is not None:
        env.update(ANTHROPIC_API_KEY="test-key", ANTHROPIC_BASE_URL=fake_model.url)
    log_path = tmp_path_factory.mktemp(f"worker-{kind}") / "worker.log"
    worker = start_worker(env, log_path)
    app = make_app(postgres_url, redis_url)
    try:
        with app.app_context():
            yield Stack(app, worker, log_path)
            db.session.remove()
            db.engine.dispose()
    finally:
        stop_worker(worker)


@pytest.fixture(scope="module")
def claude_stack(postgres_url, redis_server, fake_model, tmp_path_factory):
    yield from _stack("anthropic", postgres_url, redis_server, tmp_path_factory, fake_model)


@pytest.fixture(scope="module")
def offline_stack(postgres_url, redis_server, tmp_path_factory):
    yield from _stack("offline", postgres_url, redis_server, tmp_path_factory)

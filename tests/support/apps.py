"""Apps for tests. The unit tests' app publishes to an in-memory broker that nothing
consumes and keeps task events in an in-process fake Redis; the real path's app has the
production Config and real Redis."""

import shutil
import time
from contextlib import contextmanager

import fakeredis

from app import create_app
from app.config import Config, TestConfig
from app.extensions import db
from app.services.events import TaskEventStreams


def make_app(database_url: str, **overrides):
    """An app whose Celery publishes to an in-memory broker that nothing consumes, and
    whose task event streams live in an in-process fake Redis."""
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database_url,
                     REDIS_URL="memory://", **overrides)
    fake_redis = fakeredis.FakeRedis(decode_responses=True)
    # A Redis that has held its data for an hour, not one just restarted empty (whose
    # first sweep publishes every queued task again: tests/unit/services/test_sweep.py).
    fake_redis.set("parley:epoch", repr(time.time() - 3600))
    app.extensions["task_events"] = TaskEventStreams(
        fake_redis, app.config["EVENTS_MAXLEN"], app.config["EVENTS_TTL_SECONDS"])
    return app


def make_real_app(database_url: str, redis_url: str, **overrides):
    """An app with the production Config, on that database and that Redis."""
    return create_app(Config, SQLALCHEMY_DATABASE_URI=database_url, REDIS_URL=redis_url,
                      **overrides)


def migrate(app) -> None:
    """Run the real migrations on the app's database; its connections closed after."""
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
        db.engine.dispose()


def sqlite_copy(template, tmp_path) -> str:
    """A URL of a fresh copy of the migrated SQLite template."""
    path = tmp_path / "parley.db"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


@contextmanager
def app_context_on(database_url: str, **overrides):
    """An app on that database (and `overrides` of its settings), with its context
    pushed; its connections closed after."""
    app = make_app(database_url, **overrides)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()

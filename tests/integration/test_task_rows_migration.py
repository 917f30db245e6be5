"""Migration 0005 (a task row for any kind of work) keeps every row, on SQLite and on
PostgreSQL: the kind from the task's name, the data set on the question, the reply
found from the question; and going back restores the older columns."""

import secrets

import psycopg
import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from app.extensions import db
from tests.support.apps import make_app
from tests.support.environment import POSTGRES_ADMIN_URL

pytestmark = pytest.mark.integration

ROWS = [
    "INSERT INTO organizations (id, name, created_at, dialogues_immutable) "
    "VALUES ('org_1', 'o', CURRENT_TIMESTAMP, false)",
    "INSERT INTO data_sets (id, org_id, name, description, created_at) "
    "VALUES (1, 'org_1', 'ds', '', CURRENT_TIMESTAMP)",
    "INSERT INTO language_models (id, provider, name, enabled, created_at) "
    "VALUES ('m1', 'offline', 'x', true, CURRENT_TIMESTAMP)",
    "INSERT INTO conversations (id, public_id, org_id, data_set_id, last_seq, started_at, "
    "thread_count, status, tags, state, metadata, updated_at) VALUES (1, 'c1', 'org_1', 1, 4, "
    "CURRENT_TIMESTAMP, 0, 'active', '[]', '{}', '{}', CURRENT_TIMESTAMP)",
    "INSERT INTO chat_sessions (id, org_id, conversation_id, model_id, status, created_at, "
    "updated_at) VALUES ('s1', 'org_1', 1, 'm1', 'active', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
    "INSERT INTO messages (id, public_id, conversation_id, seq, role, text, created_at) "
    "VALUES (1, 'q1', 1, 1, 'user', 'q1', CURRENT_TIMESTAMP), "
    "(3, 'q2', 1, 3, 'user', 'q2', CURRENT_TIMESTAMP)",
    "INSERT INTO messages (id, public_id, conversation_id, seq, role, text, reply_to_id, "
    "created_at) VALUES (2, 'a1', 1, 2, 'agent', 'a1', 1, CURRENT_TIMESTAMP)",
    "INSERT INTO tasks (id, org_id, name, conversation_id, message_id, data_set_id, state, "
    "attempts, reply_message_id, chat_session_id, published_at, created_at, updated_at) VALUES "
    "('t1', 'org_1', 'parley.reply', 1, 1, 1, 'SUCCESS', 1, 2, NULL, CURRENT_TIMESTAMP, "
    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP), "
    "('t2', 'org_1', 'parley.reply', 1, 3, 1, 'PENDING', 0, NULL, 's1', CURRENT_TIMESTAMP, "
    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP), "
    "('t3', 'org_1', 'parley.compact', 1, NULL, NULL, 'SUCCESS', 1, NULL, NULL, "
    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
]


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'parley.db'}"
        return
    request.getfixturevalue("postgres_url")  # PostgreSQL is reachable, or the test says why
    admin_url = POSTGRES_ADMIN_URL
    name = f"parley_mig_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def rows(sql: str) -> list[tuple]:
    return [tuple(row) for row in db.session.execute(text(sql))]


def test_task_rows_survive_the_move_to_kinds_and_back(empty_database):
    app = make_app(empty_database)
    with app.app_context():
        upgrade(revision="0004")
        for statement in ROWS:
            db.session.execute(text(statement))
        db.session.commit()

        upgrade(revision="0005")
        assert rows("SELECT id, kind, conversation_id, message_id, state, worker FROM tasks "
                    "ORDER BY id") == [("t1", "reply", 1, 1, "SUCCESS", None),
                                       ("t2", "reply", 1, 3, "PENDING", None),
                                       ("t3", "compact", 1, None, "SUCCESS", None)]
        assert rows("SELECT id, data_set_id, chat_session_id FROM messages ORDER BY id") == [
            (1, 1, None), (2, None, None), (3, 1, "s1")]

        db.session.remove()
        downgrade(revision="0004")
        assert rows("SELECT id, name, data_set_id, reply_message_id, chat_session_id "
                    "FROM tasks ORDER BY id") == [
            ("t1", "parley.reply", 1, 2, None), ("t2", "parley.reply", 1, None, "s1"),
            ("t3", "parley.compact", None, None, None)]
        db.session.remove()
        db.engine.dispose()

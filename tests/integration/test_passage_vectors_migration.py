"""Migration 0014 on PostgreSQL: passages stored before it keep their text, get a stored
full-text vector (the search finds them through its GIN index) and no semantic vector;
going back restores the expression index the search used before."""

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from app.extensions import db
from app.services import search
from tests.support.apps import make_real_app
from tests.support.environment import POSTGRES_ADMIN_URL
from tests.support.postgres import scratch_database

pytestmark = pytest.mark.integration

ROWS = [
    "INSERT INTO organizations (id, name, created_at, dialogues_immutable) "
    "VALUES ('org_1', 'o', CURRENT_TIMESTAMP, false)",
    "INSERT INTO data_sets (id, org_id, name, description, created_at) "
    "VALUES (1, 'org_1', 'ds', '', CURRENT_TIMESTAMP)",
    "INSERT INTO documents (id, data_set_id, title, content, passage_count, created_at) "
    "VALUES (1, 1, 'Manual', 'The router has an SLA.', 1, CURRENT_TIMESTAMP)",
    "INSERT INTO passages (id, data_set_id, document_id, position, text) "
    "VALUES (1, 1, 1, 0, 'The router has an SLA.')",
]
OLD_SEARCH = ("SELECT p.id FROM passages p WHERE p.data_set_id = 1 AND "
              "to_tsvector('english', p.text) @@ to_tsquery('english', 'router')")


@pytest.fixture
def pg_app(postgres_url):
    """A database of its own (these tests take it down to 0013, the revision before
    0014); postgres_url first, so an unreachable PostgreSQL is reported as for every
    integration test."""
    with scratch_database(POSTGRES_ADMIN_URL) as url:
        app = make_real_app(url, "memory://")
        with app.app_context():
            yield app
            db.session.remove()
            db.engine.dispose()


def test_passages_stored_before_are_found_after(pg_app):
    db.session.remove()
    downgrade(revision="0013")
    for row in ROWS:
        db.session.execute(text(row))
    db.session.commit()

    upgrade()

    assert db.session.execute(text("SELECT text, embedding FROM passages")).all() == [
        ("The router has an SLA.", None)]
    assert [hit.passage_id for hit in search.search_passages(1, "router SLA", 4)] == [1]


def test_going_back_restores_the_expression_index(pg_app):
    db.session.remove()
    downgrade(revision="0013")
    for row in ROWS:
        db.session.execute(text(row))
    db.session.commit()

    indexes = set(db.session.scalars(text(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'passages'")))

    assert "ix_passages_search" in indexes and "ix_passages_search_vector" not in indexes
    assert db.session.execute(text(OLD_SEARCH)).scalars().all() == [1]

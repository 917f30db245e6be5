"""On PostgreSQL, the migrated schema matches the models, and retrieval uses the
full-text index the migration built."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from app.extensions import db, include_in_autogenerate
from app.services import data_sets, organizations, search
from tests.support.apps import make_real_app
from tests.support.data import PRICE_DOCUMENT, SLA_DOCUMENT

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_app(postgres_url):
    app = make_real_app(postgres_url, "memory://")
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_migrations_leave_no_drift_from_the_models(pg_app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": include_in_autogenerate})
        assert compare_metadata(context, db.metadata) == []


def test_full_text_search_ranks_the_answering_passage_first(pg_app):
    org_id = organizations.create_key("search-org")["org_id"]
    data_set = data_sets.create_data_set(org_id, "Plans")
    data_sets.add_document(org_id, data_set.id, "Home price list", PRICE_DOCUMENT)
    data_sets.add_document(org_id, data_set.id, "FiberUP Business Duplex", SLA_DOCUMENT)
    other = data_sets.create_data_set(org_id, "Elsewhere")
    data_sets.add_document(org_id, other.id, "Decoy", "FiberUP Business Duplex SLA SLA SLA.")

    hits = search.search_passages(data_set.id, "Does FiberUP Business Duplex include an SLA?", 4)

    assert [h.document_title for h in hits][0] == "FiberUP Business Duplex"
    assert "Decoy" not in {h.document_title for h in hits}


def test_the_migrations_build_the_gin_search_index_over_stored_vectors(pg_app):
    index = db.session.execute(text(
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_passages_search_vector'")
    ).scalar_one()
    column = db.session.execute(text(
        "SELECT generation_expression FROM information_schema.columns "
        "WHERE table_name = 'passages' AND column_name = 'search_vector'")).scalar_one()

    assert "gin" in index and "(search_vector)" in index
    assert "to_tsvector('english'::regconfig, text)" in column

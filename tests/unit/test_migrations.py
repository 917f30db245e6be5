"""The migrations are the schema: the migrated database matches the models, and the
migrations go down to nothing and back up again."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from app.extensions import include_in_autogenerate
from app.services import data_sets, organizations
from app.services.search import search_passages

TABLES = {"organizations", "api_keys", "data_sets", "documents", "passages", "conversations",
          "messages", "tasks", "idempotency_keys", "batches", "batch_requests", "webhooks",
          "webhook_events", "webhook_callbacks", "webhook_deliveries"}


def schema_drift(db) -> list:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": include_in_autogenerate})
        return compare_metadata(context, db.metadata)


def table_names(db) -> set[str]:
    db.engine.dispose()  # forget connections opened before the schema changed
    return set(inspect(db.engine).get_table_names())


def test_migrated_schema_matches_the_models(db):
    assert schema_drift(db) == []


def test_migrated_schema_has_the_search_index(db):
    names = {row[0] for row in db.session.execute(
        text("SELECT name FROM sqlite_master WHERE name LIKE 'passages_fts%'"))}

    assert "passages_fts" in names
    assert {"passages_fts_insert", "passages_fts_delete", "passages_fts_update"} <= names


def test_downgrade_to_base_removes_every_table(app, db):
    db.session.remove()

    downgrade(revision="base")

    assert table_names(db) & (TABLES | {"passages_fts"}) == set()


def test_downgrade_then_upgrade_restores_the_schema(app, db):
    db.session.remove()
    downgrade(revision="base")

    upgrade()

    assert TABLES <= table_names(db)
    assert schema_drift(db) == []


def test_search_works_after_downgrade_and_upgrade(app, db):
    db.session.remove()
    downgrade(revision="base")
    upgrade()
    org_id = organizations.create_key("acme")["org_id"]
    data_set = data_sets.create_data_set(org_id, "Plans")

    data_sets.add_document(org_id, data_set.id, "Manual", "The router has an SLA.")

    assert [h.document_title for h in search_passages(data_set.id, "router SLA", 4)] == ["Manual"]

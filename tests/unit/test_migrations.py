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



def a_passage_stored_at_0012(db) -> int:
    """Down to 0012, a data set with one passage written as 0012's schema has it; its id."""
    db.session.remove()
    downgrade(revision="0012")
    org_id = organizations.create_key("acme")["org_id"]
    data_set_id = data_sets.create_data_set(org_id, "Plans").id
    db.session.execute(text(
        "INSERT INTO documents (data_set_id, title, content, passage_count, created_at) "
        "VALUES (:ds, 'Manual', 'The router has an SLA.', 1, CURRENT_TIMESTAMP)"),
        {"ds": data_set_id})
    db.session.execute(text(
        "INSERT INTO passages (data_set_id, document_id, position, text) "
        "SELECT :ds, id, 0, content FROM documents"), {"ds": data_set_id})
    db.session.commit()
    db.session.remove()
    return data_set_id


def test_passage_vectors_column_keeps_existing_passages(app, db):
    data_set_id = a_passage_stored_at_0012(db)

    upgrade()

    assert db.session.execute(text("SELECT text, embedding FROM passages")).all() == [
        ("The router has an SLA.", None)]
    assert [h.document_title for h in search_passages(data_set_id, "router SLA", 4)] == [
        "Manual"]


def test_downgrade_from_passage_vectors_keeps_the_search_index(app, db):
    a_passage_stored_at_0012(db)

    hits = db.session.execute(text(
        "SELECT rowid FROM passages_fts WHERE passages_fts MATCH 'router'")).all()

    assert len(hits) == 1
    assert "embedding" not in {c["name"] for c in inspect(db.engine).get_columns("passages")}

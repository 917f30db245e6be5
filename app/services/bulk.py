"""Many rows in one statement, for the few paths that write thousands at once (a
batch). On PostgreSQL the rows go as one array per column through `unnest`: one short
statement, whatever the number of rows (a multi-row VALUES statement of thousands of
rows costs more to build and parse than to run). Elsewhere (SQLite, in-process) an
executemany does the same.
"""

import json

from sqlalchemy import JSON, Table, insert, text

from app.extensions import db


def insert_rows(table: Table, rows: list[dict], returning: tuple[str, ...] = ()) -> list:
    """Insert `rows` (dicts with the same keys) into `table`, not committed; with
    `returning`, those columns of every inserted row (in no particular order)."""
    if not rows:
        return []
    if db.session.get_bind().dialect.name != "postgresql":
        statement = insert(table)
        if returning:
            statement = statement.returning(*(table.c[name] for name in returning))
            return db.session.execute(statement, rows).all()
        db.session.execute(statement, rows)
        return []
    names = list(rows[0])
    arrays = ", ".join(f"CAST(:{name} AS {_array_type(table, name)})" for name in names)
    statement = (f"INSERT INTO {table.name} ({', '.join(names)}) "
                 f"SELECT * FROM unnest({arrays})")
    if returning:
        statement += f" RETURNING {', '.join(returning)}"
    result = db.session.execute(text(statement), {
        name: [_bound(table, name, row[name]) for row in rows] for name in names})
    return result.all() if returning else []


def _array_type(table: Table, name: str) -> str:
    column_type = table.c[name].type
    impl = getattr(column_type, "impl", column_type)
    compiled = impl.compile(dialect=db.session.get_bind().dialect)
    return f"{compiled}[]"


def _bound(table: Table, name: str, value):
    column_type = table.c[name].type
    if isinstance(column_type, JSON):  # as text, cast to the array of documents
        return json.dumps(value)
    process = getattr(column_type, "process_bind_param", None)
    return process(value, None) if process is not None and value is not None else value


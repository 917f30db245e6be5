"""Many rows in one statement, for the few paths that touch thousands at once (a
batch). On PostgreSQL the values go as one array per column (through `unnest`, or
`= ANY`): one short statement, whatever the number of rows (a statement with thousands
of values in its text costs more to build and parse than to run). Elsewhere (SQLite,
in-process) the plain statements do the same.
"""

import json

from sqlalchemy import JSON, Integer, Table, any_, bindparam, column, func, insert, text, update
from sqlalchemy.dialects.postgresql import ARRAY

from app.extensions import db


def insert_rows(table: Table, rows: list[dict], returning: tuple[str, ...] = ()) -> list:
    """Insert `rows` (dicts with the same keys) into `table`, not committed; with
    `returning`, those columns of every inserted row (in no particular order)."""
    if not rows:
        return []
    if not _on_postgresql():
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


def ids_in(id_column, ids: list[int]):
    """SQL: the integer column is one of `ids`."""
    if not _on_postgresql():
        return id_column.in_(ids)
    return id_column == any_(bindparam(None, list(ids), type_=ARRAY(Integer)))


def set_values(table: Table, name: str, values: dict[int, int]) -> None:
    """Set the integer column `name` of each row whose id is a key of `values` to its
    value, not committed."""
    if not values:
        return
    if not _on_postgresql():
        statement = (update(table).where(table.c.id == bindparam("row_id"))
                     .values({name: bindparam("value")}))
        db.session.execute(statement, [{"row_id": key, "value": value}
                                       for key, value in values.items()])
        return
    given = (func.unnest(bindparam("ids", type_=ARRAY(Integer)),
                         bindparam("values", type_=ARRAY(Integer)))
             .table_valued(column("id", Integer), column("value", Integer))
             .render_derived(name="given", with_types=False))
    db.session.execute(update(table).where(table.c.id == given.c.id)
                       .values({name: given.c.value}),
                       {"ids": list(values), "values": list(values.values())})


def _on_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


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


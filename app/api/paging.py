"""Cursor pages, as the dialog sessions face and the batches list them: `?limit=` and
`?after=<next_cursor>`, answered {data, has_more, next_cursor}."""

from marshmallow import Schema, fields, validate

from app.validation import Text


class PageQuerySchema(Schema):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    after = Text(load_default=None, validate=validate.Length(min=1, max=32),
                 metadata={"description": "the next_cursor of the previous page"})


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    return Schema.from_dict({
        "data": fields.List(fields.Nested(item), required=True),
        "has_more": fields.Boolean(required=True),
        "next_cursor": fields.String(required=True, allow_none=True),
    }, name=name)

"""Input rules every face shares: ids the database can hold, text the database can
store, and JSON parsing that turns every unparseable body into a 400 (and a body
that is not JSON into a 415)."""

import json

from marshmallow import fields, validate
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from app.errors import UnsupportedMediaType

MAX_ID = 2**31 - 1  # the largest integer id PostgreSQL's INTEGER columns hold
# For URL rules: an id outside this range matches no route, so it is a 404.
ID_CONVERTER = f"int(min=1, max={MAX_ID})"


def Id(strict: bool = True, **kwargs) -> fields.Integer:  # noqa: N802 - reads as a field
    """An id the database can hold. strict (for JSON) refuses "12"; query strings need
    strict=False."""
    return fields.Integer(strict=strict, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


class Text(fields.String):
    """A string the database can store: encodable as UTF-8 (no lone surrogates) and
    without NUL characters, which PostgreSQL refuses in text; and, unless blank=True,
    not only whitespace."""

    default_error_messages = {
        "unstorable": "Text must be valid Unicode without NUL characters.",
        "blank": "Must not be blank.",
    }

    def __init__(self, *, blank: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.blank = blank

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not is_storable(text):
            raise self.make_error("unstorable")
        if not self.blank and text and not text.strip():
            raise self.make_error("blank")
        return text


def is_storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def parse_json(raw: bytes):
    """json.loads, with every way a body can fail to parse (bad syntax or encoding,
    nesting too deep for the parser, integers too long to convert) as JSONDecodeError."""
    try:
        return json.loads(raw.decode("utf-8"))
    except json.JSONDecodeError:
        raise
    except (UnicodeDecodeError, RecursionError, ValueError) as exc:
        raise json.JSONDecodeError(f"unparseable JSON: {type(exc).__name__}",
                                   doc="<body>", pos=0) from None


class JSONParser(FlaskParser):
    """webargs' parser with parse_json() as its JSON reader, so a body it cannot parse
    is webargs' usual 400 'Invalid JSON body.' rather than an unhandled error."""

    def _raw_load_json(self, req):
        if not is_json_request(req):
            if req.get_data(cache=True):
                raise UnsupportedMediaType("Send the body as JSON (Content-Type: "
                                           "application/json).")
            return core.missing
        return parse_json(req.get_data(cache=True))

"""Errors the core raises and the JSON every error response carries.

Services raise ParleyError subclasses without knowing HTTP; one set of handlers turns
them, HTTP errors, validation errors and database outages into a JSON body:
{"code": 404, "status": "Not Found", "message": "...", "errors": {...}}.
A face whose spec has another error body registers its own shape for its paths
(register_error_shape, which app/api/face.py calls for each face); a ParleyError may
carry that spec's error code.
"""

import logging
from collections.abc import Callable
from http import HTTPStatus

from flask import Flask, current_app, jsonify, request
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from app.extensions import db

log = logging.getLogger(__name__)


class ParleyError(Exception):
    status_code = 400

    def __init__(self, message: str, errors: dict | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors
        self.code = code  # an API's own error code, e.g. DIALOGUE_NOT_FOUND


class BadRequest(ParleyError):
    status_code = 400


class Forbidden(ParleyError):
    status_code = 403


class NotFound(ParleyError):
    status_code = 404


class Unauthorized(ParleyError):
    status_code = 401


class UnsupportedMediaType(ParleyError):
    status_code = 415


class InvalidInput(ParleyError):
    status_code = 422


class Conflict(ParleyError):
    status_code = 409


class TooManyRequests(ParleyError):
    """A limit is reached; `retry_after` (seconds), when waiting helps, becomes the
    Retry-After header."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: int | None = None,
                 code: str | None = None):
        super().__init__(message, code=code)
        self.retry_after = retry_after


def error_body(status: int, message: str, errors: dict | None = None) -> dict:
    body = {"code": status, "status": HTTPStatus(status).phrase, "message": message}
    if errors:
        body["errors"] = errors
    return body


# A face's own error body: (status, message, errors, code) -> (status, body).
ErrorShape = Callable[[int, str, dict | None, str | None], tuple[int, dict]]
SHAPES = "parley_error_shapes"


def register_error_shape(app: Flask, path_prefix: str, shape: ErrorShape) -> None:
    """Errors answered under `path_prefix` (routing errors included) take this shape.
    Kept per app, so apps made for tests do not share their faces."""
    app.extensions.setdefault(SHAPES, {})[path_prefix] = shape


def _shape_for(path: str) -> ErrorShape | None:
    """The shape of the longest registered prefix holding `path`: /api/conversation's
    own wins over the /api of the face beside it."""
    shapes = current_app.extensions.get(SHAPES, {})
    holding = [prefix for prefix in shapes
               if path == prefix or path.startswith(prefix.rstrip("/") + "/")]
    return shapes[max(holding, key=len)] if holding else None


def _json_error(status: int, message: str, errors: dict | None = None,
                code: str | None = None):
    shape = _shape_for(request.path)
    if shape is not None:
        status, body = shape(status, message, errors, code)
        return jsonify(body), status
    return jsonify(error_body(status, message, errors)), status


def database_unavailable(exc: BaseException) -> bool:
    """The database could not be reached or could not serve, for now: a refused or
    dropped connection, too many clients, a restart, a serialization failure or
    deadlock (PostgreSQL reports these as OperationalError), or no pooled connection
    free in time. The API answers 503; a task tries again."""
    return isinstance(exc, (OperationalError, InterfaceError, PoolTimeout)) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ParleyError)
    def handle_parley_error(exc: ParleyError):
        response = _json_error(exc.status_code, exc.message, exc.errors, exc.code)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return (*response, {"Retry-After": str(int(retry_after))})
        return response

    @app.errorhandler(HTTPException)
    def handle_http_error(exc: HTTPException):
        # flask-smorest's abort() puts validation messages in exc.data["messages"].
        data = getattr(exc, "data", None) or {}
        errors = data.get("messages")
        message = data.get("message") or _describe(exc, errors)
        return _json_error(exc.code or 500, message, errors)

    def handle_database_down(exc: Exception):
        log.warning("database unavailable: %s", getattr(exc, "orig", exc))
        # Leave the session usable: the next request reconnects through a fresh pool.
        db.session.rollback()
        return _json_error(503, "The database is unavailable; try again shortly.")

    @app.errorhandler(DataError)
    def handle_unstorable_value(exc: DataError):
        # The validation should have caught it; the database is the last line.
        # Its kind, not its text: PostgreSQL's quotes the value refused.
        log.warning("database refused a value: %s (SQLSTATE %s)", type(exc.orig).__name__,
                    getattr(getattr(exc.orig, "diag", None), "sqlstate", None) or "-")
        db.session.rollback()
        return _json_error(400, "The request holds a value the database cannot store.")

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        if database_unavailable(exc):
            return handle_database_down(exc)
        log.exception("unhandled error")
        return _json_error(500, "Internal server error.")


def _describe(exc: HTTPException, errors: dict | None) -> str:
    return describe_errors(errors) if errors else (exc.description or exc.name)


def describe_errors(errors: dict) -> str:
    """A message naming the first field at fault, e.g. 'Invalid request: title: ...'."""
    return f"Invalid request: {_first_problem(errors)}"


_LOCATIONS = {"json", "query", "form", "files", "view_args"}


def _first_problem(errors: dict, path: str = "") -> str:
    """The first field error as 'field: message', so the message names the field."""
    for key, value in errors.items():
        where = path if key in _LOCATIONS else (f"{path}.{key}" if path else str(key))
        if isinstance(value, dict):
            return _first_problem(value, where)
        if isinstance(value, list) and value:
            return f"{where}: {value[0]}" if where else str(value[0])
    return "see errors"

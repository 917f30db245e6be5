"""Every request gets an id: sent back in `X-Request-Id`, put in error bodies that
carry one, and on every log line written while the request is served, so a user's
report can be found in the logs.

A client's own `X-Request-Id` (a short token) is kept, so ids can follow a request
across services; otherwise one is made."""

import logging
import re
import uuid

from flask import Flask, g, has_request_context, request

HEADER = "X-Request-Id"
LOG_FORMAT = "%(levelname)s:%(name)s:%(request_id)s%(message)s"
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def current_request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


def init_request_ids(app: Flask) -> None:
    app.before_request(_assign)
    app.after_request(_send)
    # LOG_FORMAT names the id; the filter gives every record one (empty outside a
    # request), so a handler using that format never lacks it.
    for handler in logging.getLogger().handlers:
        if _with_request_id not in handler.filters:
            handler.addFilter(_with_request_id)


def _assign() -> None:
    given = request.headers.get(HEADER, "")
    g.request_id = given if _CLIENT_ID.match(given) else f"req_{uuid.uuid4().hex}"


def _send(response):
    request_id = current_request_id()
    if request_id:
        response.headers[HEADER] = request_id
    return response


def _with_request_id(record: logging.LogRecord) -> bool:
    request_id = current_request_id()
    record.request_id = f"[{request_id}] " if request_id else ""
    return True

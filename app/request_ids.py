"""Every request gets an id: sent back in `X-Request-Id`, put in error bodies that
carry one, and on every log line written while the request is served (app/logs.py), so
a user's report can be found in the logs. It is stored with the tasks the request adds
and travels with their messages, so the worker's lines for them carry it too.

A client's own `X-Request-Id` (a short token) is kept, so ids can follow a request
across services; otherwise one is made."""

import re
import uuid

from flask import Flask, g, has_request_context, request

from app import logs

HEADER = "X-Request-Id"
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def current_request_id() -> str | None:
    """The id of the request being served; in a worker, the request id of the task it
    is running (so the tasks a task adds inherit it)."""
    if has_request_context():
        return g.get("request_id")
    return logs.context().get("request_id")


def init_request_ids(app: Flask) -> None:
    app.before_request(_assign)
    app.after_request(_send)
    app.teardown_request(_forget)


def _assign() -> None:
    given = request.headers.get(HEADER, "")
    g.request_id = given if _CLIENT_ID.match(given) else f"req_{uuid.uuid4().hex}"
    logs.clear()  # a thread serves one request after another
    logs.bind(request_id=g.request_id)


def _forget(_exc) -> None:
    logs.clear()


def _send(response):
    request_id = current_request_id()
    if request_id:
        response.headers[HEADER] = request_id
    return response

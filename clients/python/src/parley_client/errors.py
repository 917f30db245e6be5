"""Typed errors, read from whichever of Parley's faces answered.

Each face has its own error body (see the server's README):

- polling face, task events, conversation service, and errors gunicorn answers itself:
  ``{"code": 404, "status": "Not Found", "message": "…", "errors": {…}}``
- dialogue store (``/dialogue``): ``{"code": "DIALOGUE_NOT_FOUND", "message": "…",
  "requestId": "req_…", "errors": {…}}``
- dialog sessions (``/v1``): ``{"error": {"status": 409, "code": "session_not_active",
  "message": "…", "details": {…}}}``

Every one becomes a :class:`ParleyError` of the class its HTTP status names, with the
face's own ``code`` where it has one (else the status's reason in snake_case, such as
``not_found``), its message, the fields at fault and the request id.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import httpx

REQUEST_ID_HEADER = "X-Request-Id"


class ParleyError(Exception):
    """Any error of the client: an HTTP error answer, or no answer at all.

    ``status`` is the HTTP status (None when no answer came), ``code`` the face's own
    error code, ``message`` the server's words, ``details`` the fields at fault (bad
    input) or other details, ``request_id`` the id the server logged the request under
    (quote it when reporting a problem) and ``body`` the decoded answer.
    """

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 request_id: str | None = None, details: dict[str, Any] | None = None,
                 body: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.details = details or {}
        self.body = body

    def __str__(self) -> str:
        where = f"HTTP {self.status} {self.code}: " if self.status else ""
        request = f" (request {self.request_id})" if self.request_id else ""
        return f"{where}{self.message}{request}"


class InvalidRequest(ParleyError):
    """400, 413, 415 or 422: the request itself is wrong; sending it again will not help."""


class Unauthorized(ParleyError):
    """401: no API key or token, or a wrong, revoked or expired one."""


class Forbidden(ParleyError):
    """403: authenticated, but not allowed (another key's dialog session, another
    organization's org_id)."""


class NotFound(ParleyError):
    """404: unknown, deleted, or another organization's."""


class Conflict(ParleyError):
    """409: the request conflicts with the current state (an ended dialogue, a finished
    task, an Idempotency-Key still in use)."""


class Gone(ParleyError):
    """410: a finished task whose events have expired; ``body["outcome"]`` holds its
    terminal event, read from the database."""


class RateLimited(ParleyError):
    """429: a limit is reached. ``retry_after`` is the server's Retry-After in seconds,
    when it sent one (a per-key rate limit always does)."""

    def __init__(self, message: str, *, retry_after: float | None = None,
                 **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class Unavailable(ParleyError):
    """503: the server cannot serve now (its database is unreachable); try later."""


class ServerError(ParleyError):
    """Another 5xx: a fault of the server; its request id helps whoever runs it."""


class ConnectionFailed(ParleyError):
    """No answer: the connection failed, dropped or timed out (after the retries the
    request was allowed)."""


class StreamInterrupted(ConnectionFailed):
    """An event stream kept dropping before its end; ``last_event_id`` is where to
    resume it (``stream(task, last_event_id=…)``)."""

    def __init__(self, message: str, *, last_event_id: str | None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.last_event_id = last_event_id


class WaitTimeout(ParleyError, TimeoutError):
    """``wait()`` ran out of time before the task finished; ``task_status`` is the last
    status read."""

    def __init__(self, message: str, *, task_status: Any) -> None:
        super().__init__(message)
        self.task_status = task_status


CLASS_BY_STATUS: dict[int, type[ParleyError]] = {
    400: InvalidRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict,
    410: Gone, 413: InvalidRequest, 414: InvalidRequest, 415: InvalidRequest,
    422: InvalidRequest, 429: RateLimited, 431: InvalidRequest, 503: Unavailable,
}


def error_class(status: int) -> type[ParleyError]:
    if status in CLASS_BY_STATUS:
        return CLASS_BY_STATUS[status]
    return ServerError if status >= 500 else ParleyError


def reason_code(status: int) -> str:
    """``not_found`` for 404: a code for the faces whose bodies carry none but the
    status."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return f"http_{status}"
    return phrase.lower().replace(" ", "_").replace("-", "_")


def read_body(body: Any, status: int) -> tuple[str | None, str, dict[str, Any], str | None]:
    """(code, message, details, request id) from any face's error body; a body that is
    none of them (a proxy's HTML page) gives its status's reason."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):  # /v1
        inner = body["error"]
        return (_text(inner.get("code")), _text(inner.get("message")) or "",
                _mapping(inner.get("details")), None)
    if isinstance(body, dict) and "message" in body:
        code = body.get("code")  # the dialogue store's is a string, the others' the status
        return (code if isinstance(code, str) else None, _text(body["message"]) or "",
                _mapping(body.get("errors")), _text(body.get("requestId")))
    return None, "", {}, None


def error_from_response(response: httpx.Response, retry_after: float | None = None
                        ) -> ParleyError:
    """The ParleyError an error answer stands for."""
    status = response.status_code
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    code, message, details, body_request_id = read_body(body, status)
    if not message:
        message = (body.strip()[:200] if isinstance(body, str) and body.strip()
                   else reason_code(status).replace("_", " "))
    kwargs: dict[str, Any] = {
        "status": status, "code": code or reason_code(status), "details": details,
        "body": body,
        "request_id": response.headers.get(REQUEST_ID_HEADER) or body_request_id}
    cls = error_class(status)
    if cls is RateLimited:
        return RateLimited(message, retry_after=retry_after, **kwargs)
    return cls(message, **kwargs)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}

"""Per-key request limits per face: Flask-Limiter, counting in Redis (REDIS_URL).

Each face has one limit (RATE_LIMITS, from PARLEY_RATE_LIMIT_<FACE>) shared by all its
routes and counted per caller: the API key, or the key a bearer token stands for;
a request with no valid credentials is counted by its address (and answered 401 by
the face); a CORS preflight (app/cors.py) is not counted. A face's blueprint names the face whose limit it shares (FaceBlueprint's
`rate_limit`: the polling face's side blueprints, /api/tasks, /api/batches and
/api/webhooks, count with it).

Every limited answer carries RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset
(seconds until the window ends, as the IETF draft has it); a 429 carries Retry-After
too, and its body is the face's own error body (app.errors renders Flask-Limiter's
429 like any HTTP error, under the face's paths).

Redis down or hanging must not take the API with it: the first request that fails to
reach Redis switches this process to counting in memory (a log line says so) and
Flask-Limiter tries Redis again after 1, 2, 4 … 32 s; short socket timeouts bound
what the request that finds Redis gone waits.
"""

import time

from flask import Flask, current_app, request
from flask_limiter import HeaderNames, Limiter

from app.auth import identify
from app.cors import is_preflight

EXTENSION = "parley_limiter"
# Seconds a request may wait on the limiter's Redis before it counts in memory instead.
REDIS_TIMEOUT = 0.25
HEADERS = {HeaderNames.LIMIT: "RateLimit-Limit", HeaderNames.REMAINING: "RateLimit-Remaining",
           HeaderNames.RESET: "RateLimit-Reset", HeaderNames.RETRY_AFTER: "Retry-After"}


def caller_key() -> str:
    """Whom a request counts against: its API key (a token counts as its key), else
    its address."""
    try:
        caller = identify()
    except Exception:  # the database is down: the face answers 503 itself
        caller = None
    return f"key:{caller.key_id}" if caller is not None else f"addr:{request.remote_addr}"


def init_rate_limits(app: Flask, faces) -> Limiter:
    """A limiter for this app (its own storage, so apps made in one process, as tests
    make them, share no state), with each face blueprint's shared limit."""
    url = app.config["REDIS_URL"]
    on_redis = url.split("://", 1)[0] in ("redis", "rediss")
    # Runs after Flask-Limiter's own header hook (after_request runs in reverse).
    app.after_request(_draft_headers)
    limiter = Limiter(
        caller_key, app=app, storage_uri=url if on_redis else "memory://",
        storage_options={"socket_connect_timeout": REDIS_TIMEOUT,
                         "socket_timeout": REDIS_TIMEOUT} if on_redis else {},
        strategy="fixed-window", headers_enabled=True, header_name_mapping=HEADERS,
        in_memory_fallback_enabled=True, swallow_errors=True, key_prefix="parley")
    # A CORS preflight is the browser's question before the request, not a request.
    limiter.request_filter(is_preflight)
    for face in faces:
        name = face.rate_limit
        # An empty setting turns the face's limit off (exempt; the string is a stand-in).
        limiter.shared_limit(lambda name=name: _limit_of(name) or "1/second", scope=name,
                             exempt_when=lambda name=name: not _limit_of(name),
                             error_message=lambda name=name: _breached(name))(face)
    app.extensions[EXTENSION] = limiter
    return limiter


def _limit_of(face: str) -> str:
    return current_app.config["RATE_LIMITS"].get(face) or ""


def _breached(face: str) -> str:
    return ("Too many requests: each API key (or address, without one) may send "
            f"{_limit_of(face)} to this API. "
            "Retry after the number of seconds in the Retry-After header.")


def _draft_headers(response):
    """RateLimit-Reset in seconds from now (Flask-Limiter writes a timestamp), and
    Retry-After only where it means something: on a 429 (and a 503)."""
    reset = response.headers.get(HEADERS[HeaderNames.RESET])
    if reset is not None and reset.isdigit():
        # As Flask-Limiter counts Retry-After: whole seconds from now.
        response.headers[HEADERS[HeaderNames.RESET]] = str(max(int(int(reset) - time.time()),
                                                               0))
        if response.status_code not in (429, 503):
            response.headers.pop("Retry-After", None)
    return response

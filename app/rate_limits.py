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

from flask import Flask, current_app, g, has_request_context, request
from flask_limiter import HeaderNames, Limiter
from limits.storage import RedisStorage

from app.auth import identify
from app.cors import is_preflight

EXTENSION = "parley_limiter"
# Seconds a request may wait on the limiter's Redis before it counts in memory instead.
REDIS_TIMEOUT = 0.25
HEADERS = {HeaderNames.LIMIT: "RateLimit-Limit", HeaderNames.REMAINING: "RateLimit-Remaining",
           HeaderNames.RESET: "RateLimit-Reset", HeaderNames.RETRY_AFTER: "Retry-After"}


class CountAndExpiryRedisStorage(RedisStorage):
    """limits' Redis storage, whose count of a request also brings back its window's
    expiry, in the same round trip, for that request's RateLimit headers: Flask-Limiter
    reads the window (the count, then the expiry) after each hit, which took two more
    round trips, as many as the hit itself. Outside a request, or for a key this
    request has not counted, it reads Redis as limits' own does."""

    STORAGE_SCHEME = ["parley+redis", "parley+rediss"]
    # limits' own incr_expire, returning the key's time to live too.
    _INCR_EXPIRE_TTL = """
        local amount = tonumber(ARGV[2])
        local current = redis.call("incrby", KEYS[1], amount)
        if tonumber(current) == amount then
            redis.call("expire", KEYS[1], ARGV[1])
        end
        return {current, redis.call("ttl", KEYS[1])}
    """

    def __init__(self, uri: str, **options):
        super().__init__(uri.removeprefix("parley+"), **options)

    def initialize_storage(self, uri: str) -> None:
        super().initialize_storage(uri)
        self.lua_incr_expire_ttl = self.get_connection().register_script(self._INCR_EXPIRE_TTL)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        prefixed = self.prefixed_key(key)
        count, ttl = self.lua_incr_expire_ttl([prefixed], [expiry, amount])
        if has_request_context():
            g.setdefault("rate_windows", {})[prefixed] = (int(count),
                                                          max(int(ttl), 0) + time.time())
        return int(count)

    def get(self, key: str) -> int:
        counted = self._counted(key)
        return counted[0] if counted else super().get(key)

    def get_expiry(self, key: str) -> float:
        counted = self._counted(key)
        return counted[1] if counted else super().get_expiry(key)

    def _counted(self, key: str) -> tuple[int, float] | None:
        if not has_request_context():
            return None
        return g.get("rate_windows", {}).get(self.prefixed_key(key))


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
        caller_key, app=app, storage_uri=f"parley+{url}" if on_redis else "memory://",
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

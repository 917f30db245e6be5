"""Cross-origin requests from browsers: Flask-Cors on every face's paths and
/openapi.json, for the origins in CORS_ORIGINS (PARLEY_CORS_ORIGINS); none by default,
and then no CORS header at all.

A browser asks first with a preflight (OPTIONS with Access-Control-Request-Method),
which carries no credentials: the faces answer it without a key (app/api/face.py) and
the rate limiter does not count it (app/rate_limits.py). Flask answers it with the
route's methods; Flask-Cors adds what the origin may send and read.
"""

import re

from flask import Flask, request
from flask_cors import CORS

# What the faces read (credentials, a body, idempotent submits, resuming a stream,
# conditional reads, a request id of the client's).
ALLOWED_HEADERS = ("X-API-Key", "Authorization", "Content-Type", "Idempotency-Key",
                   "Last-Event-ID", "If-None-Match", "X-Request-Id")
# What a browser client needs to read from an answer (a browser shows a script only
# the CORS-safelisted headers unless told).
EXPOSED_HEADERS = ("X-Request-Id", "X-Task-Id", "Location", "ETag", "Retry-After",
                   "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset",
                   "Idempotent-Replayed")
# How long a browser may reuse a preflight's answer (browsers cap it: Chromium at 2 h).
PREFLIGHT_MAX_AGE_SECONDS = 600
ANY_ORIGIN = "*"
# scheme://host[:port], as a browser sends it in Origin: no path, not even "/".
_ORIGIN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s?#]+")


def is_preflight() -> bool:
    """Whether the request is a CORS preflight: it asks what it may send, and sends no
    credentials."""
    return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers


def init_cors(app: Flask, faces) -> None:
    """CORS for the faces' paths and the OpenAPI document, if CORS_ORIGINS names any
    origin. `faces`: the FaceBlueprints (their url_prefix are the paths)."""
    origins = app.config["CORS_ORIGINS"]
    if not origins:
        return
    paths = _paths(app, faces)
    # Before Flask-Cors's own hook, so that it runs after it (after_request runs in
    # reverse): every answer under these paths depends on the request's Origin.
    app.after_request(lambda response: _vary_on_origin(response, paths))
    CORS(app, resources=paths, origins=_allowed(origins),
         send_wildcard=ANY_ORIGIN in origins, allow_headers=list(ALLOWED_HEADERS),
         expose_headers=list(EXPOSED_HEADERS), max_age=PREFLIGHT_MAX_AGE_SECONDS,
         supports_credentials=False,  # keys travel in headers, never in cookies
         always_send=False,  # no Origin, no CORS headers
         vary_header=False,  # _vary_on_origin says it on every answer instead
         intercept_exceptions=False)  # Flask runs after_request on error answers too


def _allowed(origins: list[str]) -> list | str:
    """`*`, or each origin matched exactly (Flask-Cors would read `[`, `]` or `$` in a
    plain string as a regular expression: an IPv6 host would match more than itself)."""
    if ANY_ORIGIN in origins:
        return ANY_ORIGIN
    for origin in origins:
        if not _ORIGIN.fullmatch(origin):
            raise ValueError(f"PARLEY_CORS_ORIGINS: {origin!r} is not an origin: write "
                             "scheme://host[:port] (no path, no trailing /), or *")
    return [re.compile(re.escape(origin) + r"\Z", re.IGNORECASE) for origin in origins]


def _paths(app: Flask, faces) -> re.Pattern:
    prefixes = sorted({re.escape(face.url_prefix) for face in faces})
    document = "/" + "/".join(part.strip("/") for part in (
        app.config["OPENAPI_URL_PREFIX"], app.config["OPENAPI_JSON_PATH"]) if part.strip("/"))
    return re.compile(rf"(?:{'|'.join(prefixes)})(?:/|\Z)|{re.escape(document)}\Z")


def _vary_on_origin(response, paths: re.Pattern):
    if paths.match(request.path):
        response.vary.add("Origin")
    return response

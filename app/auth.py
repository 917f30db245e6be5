"""Authentication: an API key (`X-API-Key: <key>` or `Authorization: Bearer <key>`) or a
bearer token (`Authorization: Bearer <JWT>`, from POST /v1/auth/token), which stands for
the key it was issued for, so both authenticate as the same caller (app/services/tokens.py).

Every face's blueprint calls require_caller() before its views (app/api/face.py); views
read the caller's organization with current_org()."""

from flask import g, request

from app.errors import Forbidden, Unauthorized
from app.services import tokens
from app.services.organizations import Caller, authenticate


IDENTIFIED = "parley.identified"


def presented_key() -> str | None:
    """The API key the request presents: X-API-Key's value, else Bearer's."""
    key = request.headers.get("X-API-Key")
    if key:
        return key.strip()
    return _bearer()


def presented_token() -> str | None:
    """The bearer token the request presents: a Bearer value shaped like a JWT (and no
    X-API-Key, which comes first)."""
    if request.headers.get("X-API-Key"):
        return None
    bearer = _bearer()
    return bearer if bearer is not None and tokens.looks_like_jwt(bearer) else None


def _bearer() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def require_caller() -> None:
    caller, by_token, refusal = _identified()
    if caller is None:
        raise Unauthorized(refusal)
    g.caller, g.by_token = caller, by_token


def identify() -> Caller | None:
    """The request's caller, or None when it has no valid credentials; without
    raising, for the rate limiter, which counts a request before the face checks it.
    A request is authenticated once, whoever asks first."""
    return _identified()[0]


def _identified() -> tuple[Caller | None, bool, str]:
    """(the caller or None, whether by a token, why it was refused). Kept in the
    request's WSGI environ, which is the request's own (`g` may outlive it); so is a
    failure (the database down), raised again to whoever asks next, as it was."""
    identified = request.environ.get(IDENTIFIED)
    if identified is None:
        try:
            identified = _authenticate()
        except Exception as exc:
            identified = exc
        request.environ[IDENTIFIED] = identified
    if isinstance(identified, Exception):
        raise identified
    return identified


def _authenticate() -> tuple[Caller | None, bool, str]:
    token = presented_token()
    if token is not None:
        return tokens.caller_from_token(token), True, "Invalid or expired token."
    key = presented_key()
    if key is None:
        return None, False, "Missing API key: send X-API-Key or Authorization: Bearer."
    return authenticate(key), False, "Invalid or revoked API key."


def current_caller() -> Caller:
    return g.caller


def require_api_key() -> Caller:
    """The caller, if it presented an API key itself: a token cannot be exchanged for
    another, so a leaked one ends when it expires."""
    if g.by_token:
        raise Forbidden("Send your API key to get a token: a token cannot be exchanged "
                        "for another.", code="api_key_required")
    return g.caller


def current_org() -> str:
    """The organization every query of this request is scoped to."""
    return g.caller.org_id


SECURITY_SCHEMES = {
    "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "BearerKey": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT or API key",
                  "description": "An API key, or a token from POST /v1/auth/token."},
}
# Every operation accepts either scheme (OpenAPI: a list of alternatives).
SECURITY = [{name: []} for name in SECURITY_SCHEMES]

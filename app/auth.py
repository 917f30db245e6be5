"""API-key authentication: `X-API-Key: <key>` or `Authorization: Bearer <key>`.

Every face's blueprint calls require_caller() before its views (app/api/face.py); views
read the caller's organization with current_org()."""

from flask import g, request

from app.errors import Unauthorized
from app.services.organizations import Caller, authenticate


def presented_key() -> str | None:
    key = request.headers.get("X-API-Key")
    if key:
        return key.strip()
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def require_caller() -> None:
    key = presented_key()
    if key is None:
        raise Unauthorized("Missing API key: send X-API-Key or Authorization: Bearer.")
    caller = authenticate(key)
    if caller is None:
        raise Unauthorized("Invalid or revoked API key.")
    g.caller = caller


def current_caller() -> Caller:
    return g.caller


def current_org() -> str:
    """The organization every query of this request is scoped to."""
    return g.caller.org_id


SECURITY_SCHEMES = {
    "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "BearerKey": {"type": "http", "scheme": "bearer"},
}
# Every operation accepts either scheme (OpenAPI: a list of alternatives).
SECURITY = [{name: []} for name in SECURITY_SCHEMES]

"""API-key authentication: `X-API-Key: <key>` or `Authorization: Bearer <key>`.

Faces call require_caller() in a blueprint's before_request; views read the caller
with current_caller()."""

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


SECURITY_SCHEMES = {
    "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "BearerKey": {"type": "http", "scheme": "bearer"},
}

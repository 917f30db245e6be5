"""Bearer tokens: short-lived JWTs (HS256) that stand for the API key they were issued for.

A token's subject (`sub`) is its key's id and `org` the key's organization, so a token
authenticates as the same Caller as the key itself, and revoking the key ends its tokens
(at once in the process that revokes, elsewhere within AUTH_CACHE_SECONDS). Settings:
JWT_SECRET, JWT_AUDIENCE, JWT_TTL_SECONDS (app/config.py)."""

import re
import uuid
from datetime import datetime, timedelta, timezone

import jwt
from flask import current_app

from app.services.organizations import Caller, caller_for_key_id

ISSUER = "parley"
ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["sub", "org", "aud", "iss", "iat", "exp", "jti"]

# Three base64url segments: header.payload.signature (an unsigned token's last one is
# empty). API keys (pk_...) hold no dot, so neither is taken for the other.
_JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def looks_like_jwt(value: str) -> bool:
    """Whether a bearer value is shaped like a JWT rather than an API key."""
    return _JWT_SHAPE.fullmatch(value) is not None


def issue(caller: Caller) -> dict:
    """A token for the caller's key: {"access_token", "token_type", "expires_in",
    "expires_at"} (expires_at in ISO 8601, UTC)."""
    config = current_app.config
    lifetime = int(config["JWT_TTL_SECONDS"])
    issued_at = datetime.now(timezone.utc).replace(microsecond=0)
    expires_at = issued_at + timedelta(seconds=lifetime)
    claims = {
        "sub": caller.key_id,
        "org": caller.org_id,
        "aud": config["JWT_AUDIENCE"],
        "iss": ISSUER,
        "iat": issued_at,
        "exp": expires_at,
        "jti": uuid.uuid4().hex,
    }
    return {
        "access_token": jwt.encode(claims, config["JWT_SECRET"], algorithm=ALGORITHM),
        "token_type": "Bearer",
        "expires_in": lifetime,
        "expires_at": expires_at.isoformat().replace("+00:00", "Z"),
    }


def caller_from_token(token: str) -> Caller | None:
    """The caller a valid token stands for; None when its signature, algorithm, expiry,
    audience, issuer or claims are wrong, or its key is revoked or gone."""
    config = current_app.config
    try:
        claims = jwt.decode(token, config["JWT_SECRET"], algorithms=[ALGORITHM],
                            audience=config["JWT_AUDIENCE"], issuer=ISSUER,
                            options={"require": REQUIRED_CLAIMS})
    except jwt.PyJWTError:
        return None
    key_id, org_id = claims["sub"], claims["org"]
    if not isinstance(key_id, str) or not isinstance(org_id, str):
        return None
    caller = caller_for_key_id(key_id)
    if caller is None or caller.org_id != org_id:
        return None
    return caller

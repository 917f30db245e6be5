"""Bearer tokens made by hand, as app/services/tokens.py would make them or with one
thing changed: an expiry in the past, another audience, issuer, algorithm or secret."""

import time
import uuid

import jwt


def forged_token(config, key_id: str, org_id: str, *, secret: str | None = None,
                 algorithm: str = "HS256", **changes) -> str:
    """A token for that key, signed like Parley's unless told otherwise; a claim changed
    to None is left out."""
    now = int(time.time())
    claims = {"sub": key_id, "org": org_id, "aud": config["JWT_AUDIENCE"], "iss": "parley",
              "iat": now, "exp": now + config["JWT_TTL_SECONDS"], "jti": uuid.uuid4().hex}
    claims.update(changes)
    claims = {name: value for name, value in claims.items() if value is not None}
    key = None if algorithm == "none" else (secret or config["JWT_SECRET"])
    return jwt.encode(claims, key, algorithm=algorithm)


def with_payload_of(token: str, other: str) -> str:
    """`token`'s header and signature around `other`'s payload: a tampered token."""
    header, _, signature = token.split(".")
    return ".".join((header, other.split(".")[1], signature))

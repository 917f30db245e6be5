"""Organizations and API keys. Keys are random, so a SHA-256 digest is enough to store
them safely and still find one with a single indexed lookup."""

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import ColumnElement, select

from app.errors import NotFound
from app.extensions import db
from app.models import ApiKey, Organization
from app.models.base import utcnow

KEY_PREFIX = "pk_"


@dataclass(frozen=True)
class Caller:
    """Who is calling: what the API knows after authentication."""

    org_id: str
    key_id: str


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def create_key(org_name: str) -> dict:
    """Create the organization if it is new, then a key in it. The plain key is only
    in the returned dict."""
    org = db.session.scalar(select(Organization).where(Organization.name == org_name))
    if org is None:
        org = Organization(name=org_name)
        db.session.add(org)
        db.session.flush()
    raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(org_id=org.id, key_hash=hash_key(raw_key), prefix=raw_key[:10])
    db.session.add(key)
    db.session.commit()
    return {"org_id": org.id, "key_id": key.id, "api_key": raw_key}


def revoke_key(key_id: str) -> ApiKey:
    key = db.session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"API key {key_id} does not exist.")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        db.session.commit()
    _known_keys.pop(("hash", key.key_hash), None)
    _known_keys.pop(("id", key.id), None)
    return key


# Keys recently found valid, by ("hash", its hash) for an API key and ("id", its id) for
# a bearer token's key: (caller, monotonic expiry). Every request authenticates, and a
# status check should cost one read, not two. A key revoked in this process is forgotten
# at once; elsewhere (the API's processes, when `parley keys revoke` runs) within
# AUTH_CACHE_SECONDS.
_known_keys: dict[tuple[str, str], tuple[Caller, float]] = {}
_KNOWN_KEYS_MAX = 10_000


def set_dialogues_immutable(org_id: str, immutable: bool) -> None:
    """The dialogue store's project setting: when on, dialogues cannot be deleted."""
    organization = db.session.get(Organization, org_id)
    if organization is None:
        raise NotFound(f"Organization {org_id} not found.")
    organization.dialogues_immutable = immutable
    db.session.commit()


def authenticate(raw_key: str) -> Caller | None:
    key_hash = hash_key(raw_key)
    return _valid_key(("hash", key_hash), lambda: ApiKey.key_hash == key_hash)


def caller_for_key_id(key_id: str) -> Caller | None:
    """The caller behind a key that is still valid (not revoked), by the key's id: what
    a bearer token names (app/services/tokens.py)."""
    return _valid_key(("id", key_id), lambda: ApiKey.id == key_id)


def _valid_key(known_as: tuple[str, str], match: Callable[[], ColumnElement[bool]]
               ) -> Caller | None:
    """The caller of the unrevoked key that `match()` finds, from _known_keys while it is
    trusted there, else with one indexed read. `match` builds its condition only on a
    miss: building it costs more than the cached lookup (every request authenticates)."""
    known = _known_keys.get(known_as)
    if known is not None and known[1] > time.monotonic():
        return known[0]
    row = db.session.execute(
        select(ApiKey.id, ApiKey.org_id).where(match(), ApiKey.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    caller = Caller(org_id=row.org_id, key_id=row.id)
    if len(_known_keys) >= _KNOWN_KEYS_MAX:
        _known_keys.clear()
    _known_keys[known_as] = (caller, time.monotonic() + current_app.config["AUTH_CACHE_SECONDS"])
    return caller


def list_keys(org: str | None = None) -> list[dict]:
    """Every API key, oldest first, with its organization; only `org`'s (a name or an
    id) when given. Never the key nor its hash: the prefix tells keys apart."""
    query = (select(ApiKey, Organization.name).join(Organization)
             .order_by(ApiKey.created_at, ApiKey.id))
    if org is not None:
        query = query.where(Organization.id == _organization(org).id)
    return [{"key_id": key.id, "prefix": key.prefix, "org_id": key.org_id,
             "org_name": org_name, "created_at": key.created_at,
             "revoked": key.revoked_at is not None, "revoked_at": key.revoked_at}
            for key, org_name in db.session.execute(query)]


def list_organizations() -> list[dict]:
    """Every organization, oldest first, with its number of unrevoked keys."""
    active_keys = db.func.count(ApiKey.id)
    query = (select(Organization, active_keys)
             .outerjoin(ApiKey, (ApiKey.org_id == Organization.id)
                        & ApiKey.revoked_at.is_(None))
             .group_by(Organization.id)
             .order_by(Organization.created_at, Organization.id))
    return [{"org_id": organization.id, "name": organization.name,
             "active_keys": count, "created_at": organization.created_at,
             "dialogues_immutable": organization.dialogues_immutable}
            for organization, count in db.session.execute(query)]


def _organization(name_or_id: str) -> Organization:
    organization = db.session.scalar(select(Organization).where(
        (Organization.name == name_or_id) | (Organization.id == name_or_id)))
    if organization is None:
        raise NotFound(f"Organization {name_or_id} not found: `parley orgs list` "
                       "lists them.")
    return organization


def organization_count() -> int:
    return db.session.scalar(select(db.func.count()).select_from(Organization))

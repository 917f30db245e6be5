"""Idempotent submits: a creating POST sent with an `Idempotency-Key` header runs once
per organization and key, and a retry gets the first answer again. The faces' decorator
(@blp.idempotent, app/api/face.py) asks this module, which keeps the keys in the
database (app/models/idempotency_keys.py), so a retry after Redis restarted, or on
another web process, is still recognised.

- A key is 1 to 255 visible ASCII characters (a UUID is a good one); scoped to the
  organization: the same key in another organization is another key.
- The first request with a key takes it (an `in_progress` row, inserted and committed
  in a transaction of its own before the view runs: the unique constraint on
  (org_id, key) lets exactly one of two simultaneous requests in), runs, and its answer
  is recorded (`completed`).
- A later request with the key and the same request (its fingerprint: method, path,
  query, content type and body) gets that answer again; with another request, 422
  (`idempotency_key_reused`); while the first is still being handled, 409
  (`idempotency_key_in_use`).
- What is kept: every answer below 500 but 409 and 429 (a conflict with the current
  state, a limit: they say "not now", so a retry runs again), bad input included. A 409,
  a 429, a 5xx or an exception releases the key (Stripe's rule): nothing was created,
  and a retry runs as if the key were new.
- A key held `in_progress` for IDEMPOTENCY_TAKEOVER_SECONDS (its process died, or could
  not reach the database to release it) is taken over by the next request with it. One
  whose process merely took that long loses its claim: its answer is not recorded.
- A key lives IDEMPOTENCY_TTL_SECONDS (24 h) from its first use. An expired key is
  treated as absent (the next request with it takes it over, whatever its request);
  the beat task of expiries deletes expired rows (delete_expired).

The key rows are written on connections of their own (db.engine), never in the
request's session: the view's transaction is its own, committed or rolled back by the
view, and a key's row is committed before the view runs, or after it answered.
"""

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.errors import BadRequest, Conflict, InvalidInput
from app.extensions import db
from app.models import IdempotencyKey
from app.models.base import utcnow
from app.models.idempotency_keys import COMPLETED, IN_PROGRESS

log = logging.getLogger(__name__)

MAX_KEY_CHARS = 255
KEY_PATTERN = "^[!-~]+$"  # visible ASCII: no spaces, no control characters
_KEY = re.compile(KEY_PATTERN)
# Answers below 500 that are not kept: they say "not now", and a retry should run.
NOT_KEPT = frozenset({409, 429})
DELETE_BATCH = 1000
# Tries at taking a key whose row changes under us (released, taken over) meanwhile.
_TRIES = 3

_keys = IdempotencyKey.__table__


@dataclass(frozen=True)
class Hold:
    """The right to answer under a key: only this attempt records its answer."""

    row_id: int
    attempt: int


@dataclass(frozen=True)
class Answer:
    """A recorded answer: its status, the headers worth replaying and its body; or, for
    an answer streaming a task's events, the task (`body` None)."""

    status: int
    headers: dict[str, str]
    body: bytes | None
    task_id: str | None = None


def check_key(key: str) -> str:
    """The key, if it is one; else a 400 saying what a key is."""
    if len(key) > MAX_KEY_CHARS or not _KEY.match(key):
        message = (f"The Idempotency-Key header must be 1 to {MAX_KEY_CHARS} visible ASCII "
                   "characters (no spaces), such as a UUID.")
        raise BadRequest(message, {"headers": {"Idempotency-Key": [message]}},
                         code="idempotency_key_invalid")
    return key


def canonical_content(mimetype: str, params: dict[str, str], body: bytes
                      ) -> tuple[str, bytes]:
    """The content type and body as compared: a multipart body's boundary is chosen
    afresh by the client for every request, so it is taken out of both."""
    params = {name.lower(): value for name, value in params.items()}
    boundary = params.pop("boundary", None)
    if boundary:
        body = body.replace(b"--" + boundary.encode("latin-1"), b"--")
    content_type = ";".join([mimetype.lower(),
                             *(f"{name}={value}" for name, value in sorted(params.items()))])
    return content_type, body


def fingerprint(method: str, path: str, query: list[tuple[str, str]], content_type: str,
                body: bytes) -> str:
    """SHA-256 of the request's canonical form: what makes two requests the same one."""
    canonical = json.dumps([method.upper(), path, sorted(query), content_type,
                            hashlib.sha256(body).hexdigest()], separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def keeps(status: int) -> bool:
    """Whether an answer with this status is recorded and replayed."""
    return status < 500 and status not in NOT_KEPT


def begin(org_id: str, key: str, request_fingerprint: str) -> Hold | Answer:
    """Take the key for this request (a Hold: run it, then complete() or release()), or
    the answer recorded under it for the same request (replay it). Raises 422 when the
    key was used for another request, 409 while its first request is being handled."""
    end_request_transaction()
    config = current_app.config
    ttl = timedelta(seconds=config["IDEMPOTENCY_TTL_SECONDS"])
    takeover = timedelta(seconds=config["IDEMPOTENCY_TAKEOVER_SECONDS"])
    with db.engine.connect() as connection:
        for _ in range(_TRIES):
            now = utcnow()
            try:
                with connection.begin():
                    row_id = connection.execute(insert(_keys).values(
                        org_id=org_id, key=key, fingerprint=request_fingerprint,
                        state=IN_PROGRESS, attempt=1, created_at=now, started_at=now,
                        expires_at=now + ttl).returning(_keys.c.id)).scalar_one()
                return Hold(row_id, 1)
            except IntegrityError:
                pass  # the key is taken: by whom, for what?
            with connection.begin():
                row = connection.execute(select(_keys).where(
                    _keys.c.org_id == org_id, _keys.c.key == key)).first()
                if row is None:
                    continue  # released or deleted meanwhile: insert again
                if row.expires_at <= now:
                    hold = _take_over(connection, row, now, request_fingerprint,
                                      expires_at=now + ttl)
                elif row.fingerprint != request_fingerprint:
                    raise InvalidInput(
                        "This Idempotency-Key was used for another request (another "
                        "method, path, query or body); use a new key for a new request.",
                        code="idempotency_key_reused")
                elif row.state == COMPLETED:
                    return Answer(row.status, dict(row.headers or {}), row.body, row.task_id)
                elif row.started_at <= now - takeover:
                    hold = _take_over(connection, row, now, request_fingerprint)
                else:
                    raise Conflict("A request with this Idempotency-Key is still being "
                                   "handled; retry once it has been answered.",
                                   code="idempotency_key_in_use")
            if hold is not None:
                return hold
    raise Conflict("The Idempotency-Key changed hands while this request tried to take it; "
                   "retry.", code="idempotency_key_in_use")


def _take_over(connection, row, now, request_fingerprint: str, **fresh) -> Hold | None:
    """The key for this request, from a holder that died or a use that expired; None if
    another request took it over first."""
    taken = connection.execute(update(_keys).where(
        _keys.c.id == row.id, _keys.c.attempt == row.attempt).values(
        fingerprint=request_fingerprint, state=IN_PROGRESS, attempt=row.attempt + 1,
        status=None, headers=None, body=None, task_id=None, started_at=now,
        **({"created_at": now, **fresh} if fresh else {}))).rowcount
    if taken:
        log.info("idempotency key %s of %s taken over (attempt %d)", row.id, row.org_id,
                 row.attempt + 1)
        return Hold(row.id, row.attempt + 1)
    return None


def complete(hold: Hold, answer: Answer) -> bool:
    """Record the answer under the key, if this attempt still holds it. The answer has
    been given already: failing to record it is logged, not raised (the key is then
    taken over after IDEMPOTENCY_TAKEOVER_SECONDS)."""
    try:
        with db.engine.begin() as connection:
            recorded = connection.execute(update(_keys).where(
                _keys.c.id == hold.row_id, _keys.c.attempt == hold.attempt,
                _keys.c.state == IN_PROGRESS).values(
                state=COMPLETED, status=answer.status, headers=answer.headers,
                body=answer.body, task_id=answer.task_id)).rowcount
    except SQLAlchemyError as exc:
        log.warning("could not record the answer of idempotency key %s: %s", hold.row_id, exc)
        return False
    if not recorded:
        log.warning("idempotency key %s was taken over before its answer was recorded",
                    hold.row_id)
    return bool(recorded)


def release(hold: Hold) -> None:
    """Give the key up (the request failed, or was told to retry later): a retry with it
    runs as if it were new. Best effort, like complete()."""
    try:
        end_request_transaction()
        with db.engine.begin() as connection:
            connection.execute(delete(_keys).where(
                _keys.c.id == hold.row_id, _keys.c.attempt == hold.attempt,
                _keys.c.state == IN_PROGRESS))
    except SQLAlchemyError as exc:
        log.warning("could not release idempotency key %s: %s", hold.row_id, exc)


def end_request_transaction() -> None:
    """Roll back the transaction the request's session holds, so that no lock of its
    (SQLite's is the whole database) holds up the key's row on its own connection:
    before the key is taken (the request has only read so far; requests that share one
    session, as a test's do, may have left more), and after the view failed (the
    request's end would roll it back anyway)."""
    db.session.rollback()


def delete_expired(batch: int = DELETE_BATCH) -> int:
    """Delete the keys past their expiry, in batches (the beat task of expiries); how
    many."""
    deleted = 0
    while True:
        expired = (select(_keys.c.id).where(_keys.c.expires_at <= utcnow())
                   .limit(batch).scalar_subquery())
        count = db.session.execute(delete(_keys).where(_keys.c.id.in_(expired))).rowcount
        db.session.commit()
        deleted += count
        if count < batch:
            return deleted

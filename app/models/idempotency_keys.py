"""Idempotency keys (app/services/idempotency.py): a creating POST sent with an
`Idempotency-Key` header is answered once, and a retry with the same key gets that
answer again. One row per key an organization used in the last 24 hours: the request
it was first used for (a fingerprint), and the answer once there is one."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import JSONValue, UTCDateTime, created_at_column

IN_PROGRESS, COMPLETED = "in_progress", "completed"


class IdempotencyKey(db.Model):
    __tablename__ = "idempotency_keys"
    __table_args__ = (
        # What makes two requests with one key run once: the second insert fails.
        UniqueConstraint("org_id", "key", name="uq_idempotency_keys_org_id_key"),
        # The beat task deleting expired keys.
        Index("ix_idempotency_keys_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    key: Mapped[str] = mapped_column(String(255))
    # SHA-256 of the request's canonical form: method, path, query, content type, body.
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default=IN_PROGRESS)
    # Bumped when a request takes the key over (from a process that died holding it, or
    # once it expired): only the holder of the current attempt records its answer.
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    # The answer, once completed: its status, the headers worth replaying, its body; or,
    # for an answer that streamed a task's events, the task (its events are relayed
    # again, from the start).
    status: Mapped[int | None] = mapped_column(Integer)
    headers: Mapped[dict | None] = mapped_column(JSONValue)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    task_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = created_at_column()
    # When the current attempt began: one in progress for too long is taken over.
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

"""A batch: many questions submitted at once (app/services/batches.py). Its requests
keep their input order and custom ids; each is a question with its own task, whose
row (tasks.batch_id) says how the batch stands."""

from datetime import datetime
from functools import partial

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import JSONValue, UTCDateTime, created_at_column, public_id


class Batch(db.Model):
    __tablename__ = "batches"
    __table_args__ = (Index("ix_batches_org_id_id", "org_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True,
                                           default=partial(public_id, "batch"))
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    total: Mapped[int] = mapped_column(Integer)
    meta: Mapped[dict] = mapped_column("metadata", JSONValue, default=dict)
    created_at: Mapped[datetime] = created_at_column()
    # Set when cancel was asked: its queued requests ended then; it is `canceled` once
    # none runs.
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set once its last request finished (the finish that saw it, or the sweep).
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BatchRequest(db.Model):
    """One request of a batch, at its place in the input."""

    __tablename__ = "batch_requests"

    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    custom_id: Mapped[str] = mapped_column(String(64))
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id"), unique=True)

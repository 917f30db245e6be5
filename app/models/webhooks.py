"""Webhooks: an organization's endpoints, the event types each is subscribed to, the
callback URLs registered for one task or batch, and the deliveries of events to them.

A delivery is a task of kind `webhook` (app/services/webhooks.py): its state is its
task's (pending while the task is unfinished, then succeeded or failed); the delivery
keeps what the task row does not: the message (its webhook-id and the exact body that
is signed), where it goes, and what its attempts were answered.

An organization has at most one *callbacks* endpoint (`callbacks_of` is its id): it
holds the secret that signs deliveries to per-request callback URLs, and those
deliveries are recorded as its own, each with its URL.
"""

from datetime import datetime
from functools import partial

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import UTCDateTime, created_at_column, public_id, utcnow


class Webhook(db.Model):
    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True,
                                           default=partial(public_id, "wh"))
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    # Where deliveries go; NULL on the callbacks endpoint (each delivery has its URL).
    url: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str] = mapped_column(String(500), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # The signing secret, "whsec_" + base64 (Standard Webhooks). It signs every
    # attempt, so it is stored as it is, not hashed; it is shown once.
    secret: Mapped[str] = mapped_column(String(100))
    # The organization's id on its callbacks endpoint, NULL on every other: so an
    # organization has at most one.
    callbacks_of: Mapped[str | None] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow,
                                                 onupdate=utcnow)

    subscriptions: Mapped[list["WebhookEvent"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="WebhookEvent.event_type")

    @property
    def events(self) -> list[str]:
        return [subscription.event_type for subscription in self.subscriptions]


class WebhookEvent(db.Model):
    """A webhook's subscription to one event type: matched in SQL by a join, the same
    on every database."""

    __tablename__ = "webhook_events"

    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"),
                                            primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64), primary_key=True)


class WebhookCallback(db.Model):
    """A callback URL registered for the events of one subject: a task (its id) or a
    batch (its id)."""

    __tablename__ = "webhook_callbacks"
    __table_args__ = (Index("ix_webhook_callbacks_subject", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    subject: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()


class WebhookDelivery(db.Model):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # A webhook's deliveries, newest first, keyset-paged.
        Index("ix_webhook_deliveries_webhook_id_id", "webhook_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The message's id: the webhook-id header, the same on every attempt.
    public_id: Mapped[str] = mapped_column(String(32), unique=True,
                                           default=partial(public_id, "dlv"))
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    # The task that sends it now (a redelivery is a new task).
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id"), unique=True)
    event_type: Mapped[str] = mapped_column(String(64))
    # The body exactly as it is signed and sent: {"type", "timestamp", "data"}.
    payload: Mapped[str] = mapped_column(Text)
    # A callback's URL; NULL: the webhook's (as it is when the attempt is made).
    url: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = created_at_column()

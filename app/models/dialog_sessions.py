"""The dialog sessions face's rows: a session (its messages are the core's, in a
conversation of its own), the job a confirmed session becomes, and the organization's
resources a briefing may point at (glossaries, style references, presets, templates)."""

from datetime import datetime
from functools import partial

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import JSONValue, UTCDateTime, created_at_column, public_id, utcnow

ACTIVE, CONFIRMED, CANCELLED, EXPIRED = "active", "confirmed", "cancelled", "expired"
SESSION_STATUSES = (ACTIVE, CONFIRMED, CANCELLED, EXPIRED)
GLOSSARY, STYLE_REF, PRESET, TEMPLATE = "glossary", "style_ref", "preset", "template"
RESOURCE_KINDS = (GLOSSARY, STYLE_REF, PRESET, TEMPLATE)


def job_public_id() -> str:
    return public_id("job")


class DialogSession(db.Model):
    __tablename__ = "dialog_sessions"
    __table_args__ = (
        # The expiry sweep: active sessions idle past their expiry.
        Index("ix_dialog_sessions_status_expires_at", "status", "expires_at"),
        # The caps on creation: an organization's sessions this month, and active now.
        Index("ix_dialog_sessions_org_id_created_at", "org_id", "created_at"),
        Index("ix_dialog_sessions_org_id_status", "org_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True,
                                           default=partial(public_id, "dialog"))
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    # The owner: the API key that created it (a bearer token stands for its key).
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    # The session's messages, in the core's conversation of its own.
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"),
                                                 unique=True)
    mode: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    phase: Mapped[int] = mapped_column(Integer, default=1)
    # The UI language hint the client gave.
    language: Mapped[str | None] = mapped_column(String(16))
    briefing: Mapped[dict] = mapped_column(JSONValue, default=dict)
    file_name: Mapped[str | None] = mapped_column(String(255))
    file_type: Mapped[str | None] = mapped_column(String(255))
    file_preview: Mapped[str | None] = mapped_column(Text)
    # User messages taken, for the per-session cap.
    user_messages: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow,
                                                 onupdate=utcnow)
    # Moves with every message: the last activity plus the idle time allowed.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Job(db.Model):
    """What a confirmed briefing becomes. Its state is its task's (the task row is the
    truth); the job keeps the briefing it was confirmed with, and its result."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_org_id_key_id_id", "org_id", "key_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=job_public_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    # One job per session: what makes concurrent confirms create one.
    session_id: Mapped[int] = mapped_column(ForeignKey("dialog_sessions.id"), unique=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id"), unique=True)
    mode: Mapped[str] = mapped_column(String(16))
    briefing: Mapped[dict] = mapped_column(JSONValue)
    # The template confirm saved the briefing as, if it was asked to.
    template_id: Mapped[str | None] = mapped_column(String(32))
    result: Mapped[dict | None] = mapped_column(JSONValue)
    model: Mapped[str | None] = mapped_column(String(100))
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow,
                                                 onupdate=utcnow)


class BriefingResource(db.Model):
    """One of an organization's glossaries, style references, presets or templates:
    a name and the kind's own data (a glossary's languages and terms, a style
    reference's text, a preset's or template's briefing)."""

    __tablename__ = "briefing_resources"
    __table_args__ = (Index("ix_briefing_resources_org_id_kind_id", "org_id", "kind", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict] = mapped_column(JSONValue, default=dict)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow,
                                                 onupdate=utcnow)

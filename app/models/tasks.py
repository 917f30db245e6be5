"""Task state lives here, not in Celery's result backend: the API answers status
checks with one indexed read, and an unknown id is a 404."""

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import UTCDateTime, created_at_column, new_uuid, utcnow


class TaskState(str, enum.Enum):
    PENDING = "PENDING"
    STARTED = "STARTED"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"


class Task(db.Model):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_state_updated_at", "state", "updated_at"),
        # A conversation's line of questions: who must wait, who is next.
        Index("ix_tasks_conversation_id_message_id", "conversation_id", "message_id"),
    )

    # Also the Celery task id, so Flower and our table name the same thing.
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))  # the Celery task name, e.g. parley.reply
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    # The user message a reply task answers (unique: one task per message).
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), unique=True)
    data_set_id: Mapped[int | None] = mapped_column(ForeignKey("data_sets.id"))
    state: Mapped[str] = mapped_column(String(16), default=TaskState.PENDING.value)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    reply_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    # A conversation service reply: its session chooses the model.
    chat_session_id: Mapped[str | None] = mapped_column(ForeignKey("chat_sessions.id"))
    # Set when the task is enqueued and cleared if the broker refused it; the sweep
    # publishes rows left NULL.
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow,
                                                 onupdate=utcnow)

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import UTCDateTime, created_at_column, new_uuid, utcnow
from app.models.conversations import Conversation

SESSION_ACTIVE = "active"


class LanguageModel(db.Model):
    """A model a chat session can be bound to. Its id is a UUID derived from the
    provider and the name (app/services/language_models.py), so the same model has the
    same id on every installation and after every re-sync."""

    __tablename__ = "language_models"
    __table_args__ = (
        UniqueConstraint("provider", "name", name="uq_language_models_provider_name"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))  # "anthropic" or "offline"
    name: Mapped[str] = mapped_column(String(100))  # what the provider calls it
    # A disabled model stays listed in old replies, but takes no new sessions or messages.
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    created_at: Mapped[datetime] = created_at_column()


class ChatSession(db.Model):
    """The conversation service's chat session: a conversation answered by one model.
    Sessions of one conversation share its history."""

    __tablename__ = "chat_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("language_models.id"))
    status: Mapped[str] = mapped_column(String(16), default=SESSION_ACTIVE)
    # The data set this session's questions are answered from, instead of the
    # conversation's (NULL: the conversation's, if it has one).
    data_set_id: Mapped[int | None] = mapped_column(ForeignKey("data_sets.id"))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow,
                                                 onupdate=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="chat_sessions")

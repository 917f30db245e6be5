from datetime import datetime
from functools import partial

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import created_at_column, public_id

ROLES = ("user", "agent")


class Conversation(db.Model):
    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The string id faces with string ids show (dialogue store, conversation service).
    public_id: Mapped[str] = mapped_column(String(64), unique=True,
                                           default=partial(public_id, "conv"))
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    data_set_id: Mapped[int | None] = mapped_column(ForeignKey("data_sets.id"))
    summary: Mapped[str | None] = mapped_column(Text)
    # The last sequence number handed out; incremented atomically per message.
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = created_at_column()


class Message(db.Model):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_id_seq"),
        CheckConstraint("role IN ('user', 'agent')", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    # Position in the conversation: history is ordered and paged by (conversation_id, seq).
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    # An agent message answers exactly one user message: the unique constraint is what
    # makes a redelivered task unable to write a second reply.
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), unique=True)
    model: Mapped[str | None] = mapped_column(String(100))
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = created_at_column()

from datetime import datetime
from functools import partial

from sqlalchemy import (CheckConstraint, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import JSONValue, UTCDateTime, created_at_column, public_id, utcnow

# "agent" is the core's name for what chat APIs call "assistant"; "system" messages
# come from the dialogue store (instructions stored with the history).
ROLES = ("user", "agent", "system")
ACTIVE, ENDED, ARCHIVED = "active", "ended", "archived"  # ended: takes no more messages
STATUSES = (ACTIVE, ENDED, ARCHIVED)


class Conversation(db.Model):
    """A conversation; the dialogue store calls it a dialogue. The fields from
    `namespace` down are the dialogue store's, and every conversation has them."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("org_id", "public_id", name="uq_conversations_org_id_public_id"),
        # Listing an organization's dialogues by creation, keyset-paged.
        Index("ix_conversations_org_id_started_at_id", "org_id", "started_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The string id faces with string ids show (dialogue store, conversation service);
    # unique within the organization, custom or generated.
    public_id: Mapped[str] = mapped_column(String(64), default=partial(public_id, "conv"))
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    data_set_id: Mapped[int | None] = mapped_column(ForeignKey("data_sets.id"))
    summary: Mapped[str | None] = mapped_column(Text)
    # The last sequence number handed out; incremented atomically per message.
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = created_at_column()

    namespace: Mapped[str | None] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"), index=True)
    # Live threads of this dialogue, kept with each thread's creation and deletion.
    thread_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(16), default="active",
                                        server_default="active")
    label: Mapped[str | None] = mapped_column(String(128))
    tags: Mapped[list] = mapped_column(JSONValue, default=list)
    state: Mapped[dict] = mapped_column(JSONValue, default=dict)
    # Set at creation and never changed ("metadata" is taken on declarative classes).
    meta: Mapped[dict] = mapped_column("metadata", JSONValue, default=dict)
    summarized_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow,
                                                 onupdate=utcnow)
    # A deleted dialogue is gone from every face; its rows stay, so a reply in
    # flight still finishes safely.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # NULL: a conversation the conversation faces share. Otherwise the one face that
    # owns it and guards it (a dialog session's: "dialog_sessions"); no other face
    # finds it.
    face: Mapped[str | None] = mapped_column(String(32))

    # The conversation service's sessions, oldest first; loaded only when asked for.
    chat_sessions: Mapped[list["ChatSession"]] = relationship(  # noqa: F821
        back_populates="conversation", order_by="ChatSession.created_at")


class Message(db.Model):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_id_seq"),
        UniqueConstraint("conversation_id", "public_id",
                         name="uq_messages_conversation_id_public_id"),
        CheckConstraint("role IN ('user', 'agent', 'system')", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The string id the dialogue store shows: custom, or generated.
    public_id: Mapped[str] = mapped_column(String(64), default=partial(public_id, "msg"))
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
    # The dialogue store's message fields.
    name: Mapped[str | None] = mapped_column(String(200))
    tags: Mapped[list | None] = mapped_column(JSONValue)
    meta: Mapped[dict | None] = mapped_column("metadata", JSONValue)
    # Which chat session, and which of its models, wrote a reply (conversation service).
    chat_session_id: Mapped[str | None] = mapped_column(ForeignKey("chat_sessions.id"))
    model_id: Mapped[str | None] = mapped_column(ForeignKey("language_models.id"))
    # The data set a question is answered from (the conversation's, or the one the
    # question named).
    data_set_id: Mapped[int | None] = mapped_column(ForeignKey("data_sets.id"))

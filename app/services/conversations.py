"""Conversations and their messages: the one core every face presents."""

from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select, update

from app.errors import Conflict, NotFound
from app.extensions import db
from app.models import Conversation, Message
from app.models.base import public_id, utcnow
from app.models.conversations import ENDED
from app.services import data_sets
from app.services.agent_io import Turn

# A position after every message of any conversation.
END_OF_HISTORY = 2**31 - 1

# The statements every message runs, built once (see app/services/tasks.py).
_conversations, _messages = Conversation.__table__, Message.__table__
_TAKE_POSITIONS = (
    update(_conversations)
    .where(_conversations.c.id == bindparam("conversation_id"),
           _conversations.c.org_id == bindparam("caller_org_id"),
           _conversations.c.face.is_not_distinct_from(bindparam("owning_face")),
           _conversations.c.deleted_at.is_(None), _conversations.c.status != ENDED)
    .values(last_seq=_conversations.c.last_seq + 2)
    .returning(_conversations.c.last_seq, _conversations.c.data_set_id))
_INSERT_MESSAGE = insert(_messages).returning(_messages.c.id)
_TURNS_BEFORE = (
    select(_messages.c.role, _messages.c.text)
    .where(_messages.c.conversation_id == bindparam("conversation_id"),
           _messages.c.seq < bindparam("before_seq"))
    .order_by(_messages.c.seq.desc()).limit(bindparam("limit")))


def create_conversation(org_id: str, data_set_id: int | None) -> Conversation:
    data_sets.check_data_set(org_id, data_set_id)
    conversation = Conversation(org_id=org_id, data_set_id=data_set_id)
    db.session.add(conversation)
    db.session.commit()
    return conversation


def shared_by(org_id: str):
    """The conditions of the organization's conversations the conversation faces share
    (not deleted, owned by no face of its own)."""
    return (Conversation.org_id == org_id, Conversation.deleted_at.is_(None),
            Conversation.face.is_(None))


def live_by_public_id(org_id: str, conversation_public_id: str):
    """The statement selecting one of the organization's conversations by the id the
    string-id faces show, unless it is deleted (or a face's own)."""
    return select(Conversation).where(Conversation.public_id == conversation_public_id,
                                      *shared_by(org_id))


def get_by_public_id(org_id: str, conversation_public_id: str) -> Conversation:
    conversation = db.session.scalar(live_by_public_id(org_id, conversation_public_id))
    if conversation is None:
        raise NotFound(f"Conversation {conversation_public_id} not found.")
    return conversation


def get_conversation(org_id: str, conversation_id: int) -> Conversation:
    conversation = db.session.get(Conversation, conversation_id)
    if (conversation is None or conversation.org_id != org_id or conversation.deleted_at
            or conversation.face is not None):
        raise NotFound(f"Conversation {conversation_id} not found.")
    return conversation


@dataclass(frozen=True)
class HistoryPage:
    conversation: Conversation
    history: list[Message]  # oldest first
    older: int | None  # when there are earlier messages: the id to page back from


def get_history_page(org_id: str, conversation_id: int, limit: int | None = None,
                     before: int | None = None) -> HistoryPage:
    """The conversation with its whole history, or with the `limit` latest messages
    before the message `before`: a keyset read, as cheap deep in a long conversation
    as at its end."""
    conversation = get_conversation(org_id, conversation_id)
    before_seq = _seq_of(conversation.id, before) if before is not None else None
    if limit is None:
        return HistoryPage(conversation, history(conversation.id, before_seq), None)
    page = history(conversation.id, before_seq, limit=limit + 1)
    has_older = len(page) > limit
    page = page[1:] if has_older else page
    return HistoryPage(conversation, page, page[0].id if has_older else None)


def _seq_of(conversation_id: int, message_id: int) -> int:
    seq = db.session.scalar(select(Message.seq).where(
        Message.id == message_id, Message.conversation_id == conversation_id))
    if seq is None:
        raise NotFound(f"Message {message_id} is not in conversation {conversation_id}.")
    return seq


def history(conversation_id: int, before_seq: int | None = None,
            limit: int | None = None) -> list[Message]:
    """Messages in order. With before_seq/limit, the last `limit` messages before that
    position: a keyset read on (conversation_id, seq), as cheap deep as shallow."""
    query = select(Message).where(Message.conversation_id == conversation_id)
    if before_seq is not None:
        query = query.where(Message.seq < before_seq)
    if limit is None:
        return list(db.session.scalars(query.order_by(Message.seq)))
    # The latest `limit`: read newest first through the index, then turned around.
    return list(db.session.scalars(query.order_by(Message.seq.desc()).limit(limit)))[::-1]


def history_turns(conversation_id: int, before_seq: int, limit: int) -> list[Turn]:
    """The last `limit` messages before position `before_seq` (END_OF_HISTORY: the
    latest), oldest first, as the turns an agent reads."""
    if before_seq <= 1:
        return []  # the conversation's first message: nothing came before it
    rows = db.session.execute(_TURNS_BEFORE, {
        "conversation_id": conversation_id, "before_seq": before_seq, "limit": limit})
    return [Turn(role, text) for role, text in rows][::-1]


@dataclass(frozen=True)
class Question:
    id: int
    public_id: str


def append_question(org_id: str, conversation_id: int, text: str,
                    chat_session_id: str | None = None,
                    data_set_id: int | None = None, face: str | None = None) -> Question:
    """Add a user message at the next position of one of the organization's
    conversations (not committed), from the chat session that asked if any, answered
    from `data_set_id` when given, else from the conversation's data set.

    The position after it is kept for its reply, so the history reads question, answer,
    question, answer even when questions come faster than answers. The counter update
    takes the conversation's row lock, so concurrent questions get distinct, ordered
    positions; it is also the lookup, so an unknown or foreign conversation is a 404.
    `face`: the face owning the conversation, for its own (None: a shared one)."""
    taken = db.session.execute(_TAKE_POSITIONS, {"conversation_id": conversation_id,
                                                 "caller_org_id": org_id, "owning_face": face}
                               ).first()
    if taken is None:
        db.session.rollback()
        get_conversation(org_id, conversation_id)  # a 404 when it is not the caller's
        raise Conflict(f"Conversation {conversation_id} has ended: it takes no more "
                       "messages.", code="DIALOGUE_ENDED")
    question_public_id = public_id("msg")
    question_id = db.session.execute(_INSERT_MESSAGE, {
        "conversation_id": conversation_id, "seq": taken.last_seq - 1, "role": "user",
        "text": text, "public_id": question_public_id, "chat_session_id": chat_session_id,
        "data_set_id": data_set_id or taken.data_set_id, "created_at": utcnow()}
    ).scalar_one()
    return Question(question_id, question_public_id)


def add_reply(conversation_id: int, question_id: int, question_seq: int, text: str,
              **fields) -> int:
    """Store the agent's reply in the slot kept after its question (not committed) and
    return its id. The slot and reply_to_id are both unique: a question has at most
    one reply."""
    return db.session.execute(_INSERT_MESSAGE, {
        "conversation_id": conversation_id, "seq": question_seq + 1, "role": "agent",
        "text": text, "reply_to_id": question_id, "created_at": utcnow(), **fields}
    ).scalar_one()

"""Conversations and their messages: the one core every face presents."""

from sqlalchemy import select, update

from app.errors import NotFound
from app.extensions import db
from app.models import Conversation, Message, Task
from app.models.base import utcnow
from app.services import data_sets, tasks


def create_conversation(org_id: str, data_set_id: int | None) -> Conversation:
    if data_set_id is not None:
        data_sets.get_data_set(org_id, data_set_id)
    conversation = Conversation(org_id=org_id, data_set_id=data_set_id)
    db.session.add(conversation)
    db.session.commit()
    return conversation


def get_conversation(org_id: str, conversation_id: int) -> Conversation:
    conversation = db.session.get(Conversation, conversation_id)
    if conversation is None or conversation.org_id != org_id:
        raise NotFound(f"Conversation {conversation_id} not found.")
    return conversation


def history(conversation_id: int, before_seq: int | None = None,
            limit: int | None = None) -> list[Message]:
    """Messages in order. With before_seq/limit, the last `limit` messages before that
    position: a keyset read on (conversation_id, seq), as cheap deep as shallow."""
    query = select(Message).where(Message.conversation_id == conversation_id)
    if before_seq is not None:
        query = query.where(Message.seq < before_seq)
    if limit is None:
        return list(db.session.scalars(query.order_by(Message.seq)))
    newest_first = db.session.scalars(query.order_by(Message.seq.desc()).limit(limit))
    return list(reversed(list(newest_first)))


def post_question(org_id: str, conversation_id: int, text: str,
                  data_set_id: int | None = None) -> Task:
    """Store the user message and its reply task in ONE transaction, then publish.

    The answer comes from `data_set_id` when given, else the conversation's data set.
    """
    conversation = get_conversation(org_id, conversation_id)
    if data_set_id is not None:
        data_sets.get_data_set(org_id, data_set_id)
    message = append_message(conversation.id, "user", text)
    task = Task(org_id=org_id, name=tasks.REPLY_TASK, conversation_id=conversation.id,
                message_id=message.id, data_set_id=data_set_id or conversation.data_set_id,
                published_at=utcnow())
    db.session.add(task)
    db.session.commit()
    tasks.publish(task.id, task.name)
    return task


def append_message(conversation_id: int, role: str, text: str, **fields) -> Message:
    """Add a message at the next position (not committed). The counter update takes
    the conversation's row lock, so concurrent appends get distinct, ordered seqs."""
    seq = db.session.execute(
        update(Conversation).where(Conversation.id == conversation_id)
        .values(last_seq=Conversation.last_seq + 1).returning(Conversation.last_seq)
    ).scalar_one()
    message = Message(conversation_id=conversation_id, seq=seq, role=role, text=text,
                      **fields)
    db.session.add(message)
    db.session.flush()
    return message

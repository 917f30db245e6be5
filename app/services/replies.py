"""The worker's side of a reply: claim the task and gather what the agent needs,
then store the reply and finish the task in one transaction.

prepare() hands the agent plain values and closes the session, so no database
connection is held while the model takes its time.
"""

from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import DataSet, Message, Task
from app.services import conversations, search, tasks
from app.services.search import Hit


@dataclass(frozen=True)
class Turn:
    role: str  # "user" or "agent"
    text: str


@dataclass(frozen=True)
class ReplyJob:
    task_id: str
    question: str
    history: list[Turn]  # the conversation before the question, oldest first
    data_set_name: str | None
    passages: list[Hit] = field(default_factory=list)


@dataclass(frozen=True)
class Reply:
    text: str
    model: str
    input_tokens: int | None = None
    output_tokens: int | None = None


def prepare(task_id: str) -> ReplyJob | None:
    """Claim the task and load its question, history and passages; None if there is
    nothing to do (finished, unknown, or held by another worker)."""
    task = tasks.claim(task_id)
    if task is None:
        return None
    question = db.session.get(Message, task.message_id)
    earlier = conversations.history(task.conversation_id, before_seq=question.seq,
                                    limit=current_app.config["HISTORY_MESSAGES"])
    data_set = db.session.get(DataSet, task.data_set_id) if task.data_set_id else None
    passages = (search.search_passages(data_set.id, question.text,
                                       current_app.config["RETRIEVAL_PASSAGES"])
                if data_set else [])
    job = ReplyJob(task_id=task.id, question=question.text,
                   history=[Turn(m.role, m.text) for m in earlier],
                   data_set_name=data_set.name if data_set else None, passages=passages)
    db.session.close()
    return job


def complete(task_id: str, reply: Reply) -> int:
    """Store the reply and mark the task SUCCESS together. The database allows one
    reply per user message, so a task run twice still leaves one reply."""
    task = db.session.get(Task, task_id)
    tasks.lock_conversation(task.conversation_id)  # the hand-over needs it
    try:
        message = conversations.add_reply(
            db.session.get(Message, task.message_id), reply.text, model=reply.model,
            input_tokens=reply.input_tokens, output_tokens=reply.output_tokens)
        reply_id, handover = message.id, tasks.succeed(task, message.id)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        task = db.session.get(Task, task_id)
        tasks.lock_conversation(task.conversation_id)
        reply_id = db.session.scalar(
            select(Message.id).where(Message.reply_to_id == task.message_id))
        handover = tasks.succeed(task, reply_id)
        db.session.commit()
    tasks.publish_handover(handover)
    return reply_id

"""The worker's side of a reply: claim the task and gather what the agent needs,
then store the reply and finish the task in one transaction.

prepare() hands the agent plain values and closes the session, so no database
connection is held while the model takes its time.
"""

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import DataSet, Message, Task
from app.services import conversations, search, tasks
from app.services.jobs import Reply, ReplyJob, Turn


def prepare(task_id: str) -> ReplyJob | None:
    """Claim the task and load its question, history and passages; None if there is
    nothing to do (finished, unknown, not its turn, or held by another worker)."""
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
    job = ReplyJob(task_id=task.id, attempt=task.attempts, question=question.text,
                   history=[Turn(m.role, m.text) for m in earlier],
                   data_set_name=data_set.name if data_set else None, passages=passages)
    db.session.close()
    return job


def complete(job: ReplyJob, reply: Reply) -> int | None:
    """Store the reply and mark the task SUCCESS together, if this claim still holds
    the task; returns the reply's id, or None when the claim was lost. The database
    allows one reply per question, so nothing can store a second one."""
    task = db.session.get(Task, job.task_id)
    tasks.lock_conversation(task.conversation_id)  # the hand-over needs it
    db.session.refresh(task)
    if not tasks.holds(task, job.attempt):
        db.session.rollback()
        return None
    existing = db.session.scalar(select(Message.id).where(Message.reply_to_id == task.message_id))
    if existing is None:
        existing = conversations.add_reply(
            db.session.get(Message, task.message_id), reply.text, model=reply.model,
            input_tokens=reply.input_tokens, output_tokens=reply.output_tokens).id
    handover = tasks.succeed(task, existing)
    db.session.commit()
    tasks.publish_handover(handover)
    return existing

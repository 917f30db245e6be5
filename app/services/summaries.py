"""The worker's side of a summary (the dialogue store's compact): claim the task and
read the messages, then store the summary on the conversation and finish the task in
one transaction. Like replies, no database connection is held while the model works."""

from flask import current_app
from sqlalchemy import select, update

from app.extensions import db
from app.models import Conversation, Message
from app.models.base import utcnow
from app.services import events, tasks
from app.services.jobs import Reply, SummaryJob, Turn


def prepare(task_id: str) -> SummaryJob | None:
    """Claim the task and read the latest messages; None if there is nothing to do."""
    task = tasks.claim(task_id)
    if task is None:
        return None
    limit = current_app.config["SUMMARY_MESSAGES"]
    rows = db.session.execute(
        select(Message.role, Message.text).where(Message.conversation_id == task.conversation_id)
        .order_by(Message.seq.desc()).limit(limit)).all()
    db.session.close()
    events.task_events().append(task_id, events.START, {"task_id": task_id,
                                                        "attempt": task.attempts})
    return SummaryJob(task_id=task_id, attempt=task.attempts,
                      conversation_id=task.conversation_id,
                      turns=[Turn(role, text) for role, text in reversed(rows)])


def complete(job: SummaryJob, summary: Reply) -> bool:
    """Store the summary and mark the task SUCCESS together, if this claim still holds
    the task; False when the claim was lost."""
    tasks.lock_conversation(job.conversation_id)
    if tasks.succeed(job.task_id, job.attempt, None) is None:
        db.session.rollback()
        return False
    now = utcnow()
    db.session.execute(update(Conversation).where(Conversation.id == job.conversation_id)
                       .values(summary=summary.text, summarized_at=now, updated_at=now))
    db.session.commit()
    # A summary is stored on its dialogue, not as a message.
    events.task_events().append(job.task_id, events.END, events.end_data(
        job.task_id, None, summary.model, summary.input_tokens, summary.output_tokens))
    return True

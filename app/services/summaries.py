"""The summary: a dialogue's compact (task kind `compact`), made from its latest
messages and stored on the dialogue; the messages stay."""

from flask import current_app
from sqlalchemy import update

from app.extensions import db
from app.models import Conversation
from app.models.base import utcnow
from app.services import conversations, events, tasks
from app.services.agent_io import Result, SummaryInput
from app.services.lifecycle import Gathered, TaskKind
from app.services.tasks import Claim


def queue_summary(org_id: str, conversation_id: int) -> str:
    """Queue a summary of the conversation; returns the task id. It waits for no
    question, and none waits for it."""
    task_id, _ = tasks.add_task(org_id, KIND.name, conversation_id)
    db.session.commit()
    tasks.publish(task_id, KIND.name)
    return task_id


def gather(claim: Claim) -> Gathered:
    turns = conversations.history_turns(claim.conversation_id, conversations.END_OF_HISTORY,
                                        current_app.config["SUMMARY_MESSAGES"])
    return Gathered(SummaryInput(turns))


def store(claim: Claim, _kept, summary: Result) -> dict:
    """The summary goes on the conversation, not into its messages."""
    now = utcnow()
    db.session.execute(update(Conversation).where(Conversation.id == claim.conversation_id)
                       .values(summary=summary.text, summarized_at=now, updated_at=now))
    return events.end_data(claim.task_id, None, summary.model, summary.input_tokens,
                           summary.output_tokens)


KIND = TaskKind("compact", "replies", gather, store)

"""The worker's side of a reply: claim the task and gather what the agent needs,
then store the reply and finish the task in one transaction.

prepare() hands the agent plain values and closes the session, so no database
connection is held while the model takes its time.
"""

import logging

from flask import current_app
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError, OperationalError

from app.extensions import db
from app.models import ChatSession, DataSet, LanguageModel, Message
from app.services import conversations, events, search, tasks
from app.services.jobs import ModelChoice, Reply, ReplyJob, Turn

log = logging.getLogger(__name__)


def prepare(task_id: str) -> ReplyJob | None:
    """Claim the task and load its question, history and passages; None if there is
    nothing to do (finished, unknown, not its turn, or held by another worker)."""
    task = tasks.claim(task_id)
    if task is None:
        return None
    try:
        job = _gather(task_id, task)
    except OperationalError as exc:
        # The database went away after the claim: give the task back, so the retry of
        # this message can claim it again.
        db.session.rollback()
        _give_back(task_id, task.attempts, exc)
        raise
    except Exception as exc:
        log.exception("could not prepare task %s", task_id)
        tasks.fail(task_id, f"internal error: {type(exc).__name__}", task.attempts)
        return None
    events.task_events().append(task_id, events.START, {
        "task_id": task_id, "user_message_id": job.question_public_id,
        "message_id": tasks.reply_public_id(task_id), "attempt": job.attempt})
    return job


def _give_back(task_id: str, attempt: int, exc: Exception) -> None:
    try:
        tasks.release_for_retry(task_id, attempt, f"database unavailable: {exc}")
    except OperationalError:
        db.session.rollback()  # still down: the sweep re-queues the task later


# The question, and the name of the data set it is answered from, in one read (a
# Core statement built once, see app/services/tasks.py).
_messages, _data_sets = Message.__table__, DataSet.__table__
_QUESTION = select(
    _messages.c.seq, _messages.c.text, _messages.c.public_id,
    select(_data_sets.c.name).where(_data_sets.c.id == bindparam("data_set_id"))
    .scalar_subquery(),
).where(_messages.c.id == bindparam("message_id"))
_SESSION_MODEL = (
    select(LanguageModel.id, LanguageModel.provider, LanguageModel.name)
    .join(ChatSession, ChatSession.model_id == LanguageModel.id)
    .where(ChatSession.id == bindparam("chat_session_id")))


def _gather(task_id: str, task) -> ReplyJob:
    seq, text, public_id, data_set_name = db.session.execute(_QUESTION, {
        "message_id": task.message_id, "data_set_id": task.data_set_id}).one()
    model = None
    if task.chat_session_id is not None:
        model = ModelChoice(*db.session.execute(
            _SESSION_MODEL, {"chat_session_id": task.chat_session_id}).one())
    earlier = conversations.history_turns(task.conversation_id, seq,
                                          current_app.config["HISTORY_MESSAGES"])
    passages = (search.search_passages(task.data_set_id, text,
                                       current_app.config["RETRIEVAL_PASSAGES"])
                if task.data_set_id else [])
    db.session.close()
    return ReplyJob(task_id=task_id, attempt=task.attempts,
                    conversation_id=task.conversation_id, question_id=task.message_id,
                    question_seq=seq, question=text, question_public_id=public_id,
                    history=[Turn(role, turn_text) for role, turn_text in earlier],
                    data_set_name=data_set_name, passages=passages,
                    chat_session_id=task.chat_session_id, model=model)


def complete(job: ReplyJob, reply: Reply) -> int | None:
    """Store the reply and mark the task SUCCESS together, if this claim still holds
    the task; returns the reply's id, or None when the claim was lost. The database
    allows one reply per question, so nothing can store a second one."""
    tasks.lock_conversation(job.conversation_id)  # the hand-over needs it
    try:
        reply_id = conversations.add_reply(
            job.conversation_id, job.question_id, job.question_seq, reply.text,
            public_id=tasks.reply_public_id(job.task_id), model=reply.model,
            input_tokens=reply.input_tokens, output_tokens=reply.output_tokens,
            chat_session_id=job.chat_session_id, model_id=job.model and job.model.id)
    except IntegrityError:
        # A reply is already stored (a claim taken over after storing it): keep it.
        db.session.rollback()
        tasks.lock_conversation(job.conversation_id)
        reply_id = db.session.scalar(
            select(Message.id).where(Message.reply_to_id == job.question_id))
        if reply_id is None:
            raise  # not the one-reply rule: a real error, for the task to report
    if tasks.succeed(job.task_id, job.attempt, reply_id) is None:
        db.session.rollback()
        return None
    handover = tasks.hand_over(job.conversation_id, job.question_id)
    db.session.commit()
    events.task_events().append(job.task_id, events.END, events.end_data(
        job.task_id, tasks.reply_public_id(job.task_id), reply.model, reply.input_tokens,
        reply.output_tokens))
    tasks.publish_handover(handover)
    return reply_id

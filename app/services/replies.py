"""The reply: a question's answer, the first kind of work (task kind `reply`).

post_question stores the user message and its task in one transaction and publishes
the task; the lifecycle (app/services/lifecycle.py) then runs gather (the question,
the conversation before it, the passages retrieved from the data set, the chat
session's model) and store (the reply, in the position kept after its question).
"""

from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import bindparam, select

from app.extensions import db
from app.models import ChatSession, DataSet, LanguageModel, Message
from app.services import conversations, data_sets, events, search, tasks, webhooks
from app.services.agent_io import ModelChoice, ReplyInput, Result, Source
from app.services.conversations import Question
from app.services.lifecycle import Gathered, TaskKind
from app.services.tasks import Claim


@dataclass(frozen=True)
class PostedQuestion:
    task_id: str
    question_id: str  # the public id of the stored user message
    reply_id: str  # the public id its reply will be stored under


def reply_public_id(task_id: str) -> str:
    """The message id the reply of this task will be stored under. It is known from the
    moment the task exists, so a stream can announce it before the reply is written."""
    return "msg_" + task_id.replace("-", "")[:16]


def post_question(org_id: str, conversation_id: int, text: str,
                  data_set_id: int | None = None,
                  chat_session_id: str | None = None,
                  callback_url: str | None = None) -> PostedQuestion:
    """Store the user message and its reply task in ONE transaction, then publish.
    Behind an unfinished question of the same conversation, the task waits its turn
    (see app/services/tasks.py).

    The answer comes from `data_set_id` when given (the question's own, or its chat
    session's), else the conversation's data set; a chat session's question is answered
    by the session's model. `callback_url` gets the task's end event
    (app/services/webhooks.py), registered in that transaction.
    """
    data_sets.check_data_set(org_id, data_set_id)
    with_task = None
    if callback_url is not None:
        webhooks.check_callback_url(org_id, callback_url)

        def with_task(task_id: str) -> None:
            webhooks.register_callback(org_id, task_id, callback_url)
    question, task_id = enqueue_question(org_id, conversation_id, text, KIND.name,
                                         chat_session_id=chat_session_id,
                                         data_set_id=data_set_id, with_task=with_task)
    return PostedQuestion(task_id, question.public_id, reply_public_id(task_id))


def enqueue_question(org_id: str, conversation_id: int, text: str, kind: str, *,
                     chat_session_id: str | None = None, data_set_id: int | None = None,
                     face: str | None = None,
                     while_locked: Callable[[], None] | None = None,
                     with_task: Callable[[str], None] | None = None
                     ) -> tuple[Question, str]:
    """A user message and the task of `kind` answering it, stored in ONE transaction
    and published after the commit: the question, and the task's id. `while_locked`
    runs with the conversation locked, before the task is added: a face's own check
    and bookkeeping (if it raises, nothing is stored); `with_task(task_id)` once it is
    added, in the same transaction (a callback's registration)."""
    question = conversations.append_question(org_id, conversation_id, text,
                                             chat_session_id, data_set_id, face)
    # The conversation is locked from here to the commit (append_question took it).
    if while_locked is not None:
        while_locked()
    task_id, queued = tasks.add_task(org_id, kind, conversation_id, question.id)
    if with_task is not None:
        with_task(task_id)
    db.session.commit()
    if queued:
        tasks.publish(task_id, kind)
    return question, task_id


@dataclass(frozen=True)
class _Question:
    """What store needs of the question, besides the reply."""

    id: int
    seq: int
    chat_session_id: str | None
    model_id: str | None


# The question, the data set it is answered from, and the chat session's model, in one
# read (a Core statement built once, see app/services/tasks.py). The data set was chosen
# when the question was stored: the question's own, else its chat session's, else the
# conversation's (none: no passages, and no data set's name for the agent).
_messages, _data_sets = Message.__table__, DataSet.__table__
_QUESTION = (
    select(_messages.c.seq, _messages.c.text, _messages.c.public_id,
           _messages.c.data_set_id, _messages.c.chat_session_id, _data_sets.c.name,
           LanguageModel.id, LanguageModel.provider, LanguageModel.name)
    .select_from(_messages)
    .outerjoin(_data_sets, _data_sets.c.id == _messages.c.data_set_id)
    .outerjoin(ChatSession, ChatSession.id == _messages.c.chat_session_id)
    .outerjoin(LanguageModel, LanguageModel.id == ChatSession.model_id)
    .where(_messages.c.id == bindparam("message_id")))


def gather(claim: Claim) -> Gathered:
    (seq, text, public_id, data_set_id, chat_session_id, data_set_name,
     model_id, provider, model_name) = db.session.execute(
        _QUESTION, {"message_id": claim.message_id}).one()
    config = current_app.config
    passages = [Source(hit.document_title, hit.text) for hit in search.search_passages(
        data_set_id, text, config["RETRIEVAL_PASSAGES"])] if data_set_id else []
    model = ModelChoice(model_id, provider, model_name) if model_id else None
    return Gathered(
        input=ReplyInput(
            question=text, data_set_name=data_set_name, passages=passages, model=model,
            history=conversations.history_turns(claim.conversation_id, seq,
                                                config["HISTORY_MESSAGES"])),
        kept=_Question(claim.message_id, seq, chat_session_id, model_id),
        announce={"user_message_id": public_id,
                  "message_id": reply_public_id(claim.task_id)})


def store(claim: Claim, question: _Question, reply: Result) -> dict:
    """Store the reply in the position kept after its question. The database allows
    one reply per question (and the reply is stored in the transaction that ends the
    claim), so nothing can store a second one."""
    public_id = reply_public_id(claim.task_id)
    conversations.add_reply(
        claim.conversation_id, question.id, question.seq, reply.text, public_id=public_id,
        model=reply.model, input_tokens=reply.input_tokens, output_tokens=reply.output_tokens,
        chat_session_id=question.chat_session_id, model_id=question.model_id)
    return events.end_data(claim.task_id, public_id, reply.model, reply.input_tokens,
                           reply.output_tokens)


KIND = TaskKind("reply", "replies", gather, store)

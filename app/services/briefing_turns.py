"""A dialog session's turn (task kind `briefing`): the briefing agent answers the user's
message, setting briefing fields as it goes.

gather hands the agent the message, the conversation before it, the briefing as it
stands and the organization's resources; the agent streams its text and reports each
field it sets, the phase and the quick actions as task events (briefing_update, phase,
actions, warning); store writes its reply (with the actions) in the place kept after
the message, and the fields into the session's briefing, in the transaction that ends
the task. A session confirmed or ended meanwhile keeps its briefing as it was.
"""

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import bindparam, select, update

from app.extensions import db
from app.models import DialogSession, Message
from app.models.base import utcnow
from app.models.dialog_sessions import ACTIVE
from app.services import briefing_resources, conversations, dialog_sessions, events
from app.services.agent_io import BriefingInput, BriefingTurn
from app.services.lifecycle import Gathered, TaskKind
from app.services.replies import reply_public_id
from app.services.tasks import Claim


@dataclass(frozen=True)
class _Turn:
    session_id: int
    session_public_id: str
    question_id: int
    question_seq: int
    briefing: dict  # as the turn found it: turns of a session run one at a time


# The user's message and its session, in one read (a Core statement built once: a
# turn's latency is the time to its first token).
_sessions, _messages = DialogSession.__table__, Message.__table__
_TURN = (
    select(_sessions.c.id, _sessions.c.public_id, _sessions.c.mode, _sessions.c.briefing,
           _sessions.c.phase, _sessions.c.language, _messages.c.seq, _messages.c.text)
    .select_from(_messages.join(
        _sessions, _sessions.c.conversation_id == _messages.c.conversation_id))
    .where(_messages.c.id == bindparam("message_id")))


def gather(claim: Claim) -> Gathered:
    turn = db.session.execute(_TURN, {"message_id": claim.message_id}).one()
    return Gathered(
        input=BriefingInput(
            message=turn.text, mode=turn.mode, briefing=dict(turn.briefing),
            phase=turn.phase, language=turn.language,
            resources=briefing_resources.resources_of(claim.org_id),
            history=conversations.history_turns(claim.conversation_id, turn.seq,
                                                current_app.config["HISTORY_MESSAGES"])),
        kept=_Turn(turn.id, turn.public_id, claim.message_id, turn.seq, turn.briefing),
        announce={"session_id": turn.public_id,
                  "message_id": reply_public_id(claim.task_id)})


def store(claim: Claim, turn: _Turn, result: BriefingTurn) -> dict:
    now = utcnow()
    public_id = reply_public_id(claim.task_id)
    conversations.add_reply(
        claim.conversation_id, turn.question_id, turn.question_seq, result.text,
        public_id=public_id, model=result.model, input_tokens=result.input_tokens,
        output_tokens=result.output_tokens, metadata={"actions": list(result.actions)},
        created_at=now)  # the time the `done` event shows
    # One conditional statement: a session confirmed, cancelled or expired meanwhile
    # keeps its briefing as it was.
    db.session.execute(update(_sessions)
                       .where(_sessions.c.id == turn.session_id,
                              _sessions.c.status == ACTIVE)
                       .values(briefing={**turn.briefing, **result.updates},
                               phase=result.phase, updated_at=now))
    return _end(claim.task_id, public_id, result.model, result.input_tokens,
                result.output_tokens, turn.session_public_id, result.text, now,
                list(result.actions))


def _end(task_id: str, message_id: str, model, input_tokens, output_tokens,
         session_id: str, text: str, timestamp, actions: list) -> dict:
    """A turn's `end` event: the stored reply as the `done` event shows it."""
    return {**events.end_data(task_id, message_id, model, input_tokens, output_tokens),
            "session_id": session_id,
            "message": {"role": "assistant", "content": text,
                        "timestamp": timestamp.isoformat(), "actions": actions}}


_REPLY = (
    select(_messages.c.public_id, _messages.c.model, _messages.c.input_tokens,
           _messages.c.output_tokens, _sessions.c.public_id.label("session_id"),
           _messages.c.text, _messages.c.created_at, _messages.c.metadata)
    .select_from(_messages.join(
        _sessions, _sessions.c.conversation_id == _messages.c.conversation_id))
    .where(_messages.c.id == bindparam("reply_id")))


def final(task) -> dict:
    """A finished turn's `end` event, from its stored reply (the stream lost it)."""
    reply = db.session.execute(_REPLY, {"reply_id": task.reply_message_id}).one()
    return _end(task.id, *reply[:-1], (reply[-1] or {}).get("actions", []))


KIND = TaskKind(dialog_sessions.TURN_KIND, "replies", gather, store, final)

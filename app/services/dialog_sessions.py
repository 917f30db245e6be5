"""Dialog sessions: a briefing built over a few turns with the briefing agent, then
confirmed into a job (app/services/jobs.py) or cancelled.

A session belongs to its organization and to the API key that created it: another
organization never learns it exists (404), another key of the same organization is
refused (403). Its messages are the core's, in a conversation of its own: each user
message is a question whose reply is a briefing turn (task kind `briefing`,
app/services/briefing_turns.py), so turns are answered in order like any question.

A session is active until it is confirmed, cancelled, or idle for
DIALOG_SESSION_TTL_SECONDS (its expires_at moves with every message): the beat task
marks idle sessions expired, and a session past its expiry is treated as expired
even before the beat gets to it.
"""

from calendar import monthrange
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, exists, func, select, update

from app.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyRequests
from app.extensions import db
from app.models import Conversation, DialogSession, Job, Message, Organization, Task
from app.models.base import utcnow
from app.models.dialog_sessions import (ACTIVE, CANCELLED, CONFIRMED, EXPIRED, PRESET,
                                        TEMPLATE)
from app.services import (briefing_resources, briefings, conversations, pricing, replies,
                          tasks)
from app.services.agent_io import API_ROLES
from app.services.organizations import Caller

TURN_KIND = "briefing"  # the task kind of a turn (app/services/briefing_turns.py)
FACE = "dialog_sessions"  # the owner of a session's conversation: no other face finds it
# Fields of `context` a session may be created with, checked like the agent's updates.
CONTEXT_FIELDS = ("source_lang", "target_lang", "glossary_id", "glossary_ids",
                  "style_ref_id")


@dataclass(frozen=True)
class Opened:
    session: DialogSession
    message: dict


# The statements a turn runs, Core statements built once (as app/services/tasks.py's):
# a turn's latency is the time to its first token.
_sessions = DialogSession.__table__
_OWNED = select(*_sessions.c).where(_sessions.c.public_id == bindparam("session_id"),
                                    _sessions.c.org_id == bindparam("org_id"))
_TAKE_TURN = (
    update(_sessions)
    .where(_sessions.c.id == bindparam("session_key"), _sessions.c.status == ACTIVE,
           _sessions.c.expires_at > bindparam("now"),
           _sessions.c.user_messages < bindparam("cap"))
    .values(user_messages=_sessions.c.user_messages + 1, expires_at=bindparam("expires"),
            updated_at=bindparam("now")))


# -- reading ------------------------------------------------------------------------------

def owned(caller: Caller, session_id: str):
    """The caller's session, as a row (its columns, read-only): another organization's
    is not found, another key's is forbidden."""
    session = db.session.execute(_OWNED, {"session_id": session_id,
                                          "org_id": caller.org_id}).first()
    if session is None:
        raise NotFound(f"Dialog session {session_id} not found.", code="session_not_found")
    if session.key_id != caller.key_id:
        raise Forbidden(f"Dialog session {session_id} belongs to another API key.",
                        code="not_session_owner")
    return session


def status_of(session, now: datetime | None = None) -> str:
    """The session's status; an active one past its expiry is expired already."""
    if session.status == ACTIVE and session.expires_at <= (now or utcnow()):
        return EXPIRED
    return session.status


def view(session) -> dict:
    """The session as GET /v1/dialog-sessions/{id} shows it."""
    messages = [message_view(m) for m in conversations.history(session.conversation_id)]
    return {"session_id": session.public_id, "status": status_of(session),
            "mode": session.mode, "phase": session.phase, "language": session.language,
            "messages": messages, "message_count": len(messages),
            "cost_eur": session_cost(session), "file_name": session.file_name,
            "file_type": session.file_type, "file_preview": session.file_preview,
            "created_at": session.created_at, "expires_at": session.expires_at}


def message_view(message: Message, with_actions: bool = False) -> dict:
    shown = {"role": API_ROLES[message.role],
             "content": message.text, "timestamp": message.created_at}
    if with_actions:
        shown["actions"] = (message.meta or {}).get("actions", [])
    return shown


def session_cost(session) -> float:
    """Every model call the session made: its briefing turns, and its job's."""
    turns = db.session.execute(
        select(Message.model, func.sum(Message.input_tokens), func.sum(Message.output_tokens))
        .where(Message.conversation_id == session.conversation_id,
               Message.model.is_not(None))
        .group_by(Message.model)).all()
    job = db.session.execute(select(Job.model, Job.input_tokens, Job.output_tokens)
                             .where(Job.session_id == session.id,
                                    Job.model.is_not(None))).all()
    return pricing.cost_eur([*turns, *job])


def preview(caller: Caller, session_id: str) -> dict:
    session = owned(caller, session_id)
    briefing = session.briefing
    return {"briefing_json": {name: briefing[name] for name in briefings.FIELDS
                              if briefings.is_set(briefing, name)},
            "completeness": briefings.completeness(briefing),
            "missing_fields": briefings.missing_fields(briefing),
            "warnings": briefings.warnings(
                briefing, briefing_resources.resources_of(caller.org_id)),
            "phase": session.phase, "status": status_of(session)}


# -- creating -----------------------------------------------------------------------------

def create(caller: Caller, mode: str, *, language: str | None = None,
           text: str | None = None, input_material: dict | None = None,
           context: dict | None = None, file_name: str | None = None,
           file_type: str | None = None, file_preview: str | None = None) -> Opened:
    """Start a session: check the organization's caps, build the briefing from what
    the request already tells, and open with the question for its most important
    missing field (no model is asked). One transaction."""
    now = utcnow()
    briefing_resources.refuse_injection([text, input_material], "The session")
    _lock_organization(caller.org_id)
    _check_caps(caller.org_id, now)
    resources = briefing_resources.resources_of(caller.org_id)
    briefing = _initial_briefing(caller.org_id, mode, text, input_material, context or {},
                                 resources)
    conversation = Conversation(org_id=caller.org_id, last_seq=1, face=FACE)
    db.session.add(conversation)
    db.session.flush()
    question = briefings.opening(briefing, resources)
    actions = [action.as_dict() for action in question.actions]
    opening = Message(conversation_id=conversation.id, seq=1, role="agent",
                      text=question.text, meta={"actions": actions})
    session = DialogSession(
        org_id=caller.org_id, key_id=caller.key_id, conversation_id=conversation.id,
        mode=mode, status=ACTIVE, phase=1, language=language, briefing=briefing,
        file_name=file_name, file_type=file_type, file_preview=file_preview,
        user_messages=0, expires_at=now + _idle_allowed())
    db.session.add_all([opening, session])
    db.session.commit()
    return Opened(session, message_view(opening, with_actions=True))


def _idle_allowed() -> timedelta:
    return timedelta(seconds=current_app.config["DIALOG_SESSION_TTL_SECONDS"])


def _lock_organization(org_id: str) -> None:
    """Sessions of one organization are created one at a time, so two at once cannot
    both take the last place under a cap."""
    db.session.execute(update(Organization).where(Organization.id == org_id)
                       .values(name=Organization.name))


def _check_caps(org_id: str, now: datetime) -> None:
    config = current_app.config
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    this_month = db.session.scalar(select(func.count()).select_from(DialogSession).where(
        DialogSession.org_id == org_id, DialogSession.created_at >= month_start))
    if this_month >= config["DIALOG_MONTHLY_SESSIONS"]:
        next_month = month_start + timedelta(days=monthrange(now.year, now.month)[1])
        raise TooManyRequests(
            f"Your organization has started its {config['DIALOG_MONTHLY_SESSIONS']} dialog "
            "sessions of this month; more can start next month.",
            retry_after=int((next_month - now).total_seconds()) + 1,
            code="monthly_session_limit")
    active = db.session.scalar(select(func.count()).select_from(DialogSession).where(
        DialogSession.org_id == org_id, DialogSession.status == ACTIVE,
        DialogSession.expires_at > now))
    if active >= config["DIALOG_PARALLEL_SESSIONS"]:
        raise TooManyRequests(
            f"Your organization has {active} active dialog sessions, its maximum: confirm "
            "or cancel one to start another.", code="parallel_session_limit")


def _initial_briefing(org_id: str, mode: str, text, input_material, context: dict,
                      resources: briefings.Resources) -> dict:
    """The briefing a session starts with: a preset's or template's (context.preset_id),
    then what the request gives. A value the briefing does not take is a 422 naming
    its field."""
    briefing = {"mode": mode}
    preset_id = context.get("preset_id")
    if preset_id is not None:
        kind = TEMPLATE if preset_id.startswith(briefing_resources.PREFIXES[TEMPLATE]) \
            else PRESET
        preset = briefing_resources.find(org_id, kind, preset_id)
        if preset is None:
            raise _invalid("context", "preset_id",
                           f"No preset or template {preset_id!r} in your organization.")
        briefing.update(_still_valid(preset.data.get("briefing", {}), resources))
        briefing["mode"] = mode
    given = {"text": text, "input_material": input_material,
             **{name: context.get(name) for name in CONTEXT_FIELDS}}
    for name, value in given.items():
        if value is None:
            continue
        location = "context" if name in CONTEXT_FIELDS else None
        try:
            briefing[name] = briefings.check_value(name, value, resources)
        except briefings.Rejected as exc:
            raise _invalid(location, name, str(exc)) from exc
    return briefing


def _still_valid(values: dict, resources: briefings.Resources) -> dict:
    """A saved briefing's fields that still hold (a glossary deleted since is left out)."""
    kept = {}
    for name, value in values.items():
        if name == "mode":
            continue
        try:
            kept[name] = briefings.check_value(name, value, resources)
        except briefings.Rejected:
            pass
    return kept


def _invalid(location: str | None, name: str, message: str) -> InvalidInput:
    field_errors = {location: {name: [message]}} if location else {name: [message]}
    where = f"{location}.{name}" if location else name
    return InvalidInput(f"Invalid request: {where}: {message}", {"json": field_errors},
                        code="invalid_field")


# -- changing -----------------------------------------------------------------------------

def require_active(session, now: datetime | None = None) -> None:
    status = status_of(session, now)
    if status != ACTIVE:
        raise Conflict(f"Dialog session {session.public_id} is {status}: it is no longer "
                       "active.", code="session_not_active")


def post_message(caller: Caller, session_id: str, text: str) -> str:
    """Take the user's message and queue its turn; returns the turn's task id. A likely
    prompt injection is refused before anything is stored."""
    now = utcnow()
    session = owned(caller, session_id)
    _check_turn(session, now)
    briefing_resources.refuse_injection(text, "The message")

    def take_turn() -> None:
        """Count the message and move the expiry, unless the session stopped being
        active or reached its cap since it was read (then that is the answer)."""
        if not db.session.execute(_TAKE_TURN, {
                "session_key": session.id, "now": now, "expires": now + _idle_allowed(),
                "cap": current_app.config["DIALOG_MAX_MESSAGES"]}).rowcount:
            db.session.rollback()
            _check_turn(owned(caller, session_id), utcnow())
            raise Conflict(f"Dialog session {session_id} changed meanwhile; send the "
                           "message again.", code="session_changed")

    # The session is locked after the conversation, as a turn's store locks them.
    _, task_id = replies.enqueue_question(caller.org_id, session.conversation_id, text,
                                          TURN_KIND, face=FACE, while_locked=take_turn)
    return task_id


def _check_turn(session, now: datetime) -> None:
    """A session takes a message while it is active and under its cap."""
    require_active(session, now)
    cap = current_app.config["DIALOG_MAX_MESSAGES"]
    if session.user_messages >= cap:
        raise TooManyRequests(f"This session has reached its limit of {cap} messages: "
                              "please confirm or cancel it.", code="message_limit")


def _change_active(caller: Caller, session_id: str, **values):
    """Change an active session, unless it stopped being active meanwhile; the session
    as it is then."""
    now = utcnow()
    session = owned(caller, session_id)
    require_active(session, now)
    changed = db.session.execute(
        update(DialogSession)
        .where(DialogSession.id == session.id, DialogSession.status == ACTIVE,
               DialogSession.expires_at > now)
        .values(updated_at=now, **values)).rowcount
    db.session.commit()
    session = owned(caller, session_id)
    if not changed:
        require_active(session)
    return session


def cancel(caller: Caller, session_id: str):
    return _change_active(caller, session_id, status=CANCELLED)


def update_metadata(caller: Caller, session_id: str, **fields):
    """Set the file fields given; the session's idle time starts again."""
    return _change_active(caller, session_id, expires_at=utcnow() + _idle_allowed(),
                          **{name: value for name, value in fields.items()
                             if value is not None})


def claim_for_confirm(session, now: datetime) -> dict | None:
    """Mark an active session confirmed (not committed; its row stays locked until the
    commit): its briefing as it is now, or None when it was not active any more."""
    return db.session.execute(
        update(_sessions)
        .where(_sessions.c.id == session.id, _sessions.c.status == ACTIVE,
               _sessions.c.expires_at > now)
        .values(status=CONFIRMED, updated_at=now)
        .returning(_sessions.c.briefing)).scalar()


def turn_unanswered(session) -> bool:
    """A message of the session is still waiting for, or getting, its answer."""
    return db.session.scalar(select(exists().where(
        Task.conversation_id == session.conversation_id,
        Task.state.in_(tasks.UNFINISHED))))


def expire_idle() -> int:
    """Mark every active session past its expiry expired (the beat task); how many."""
    expired = db.session.execute(
        update(DialogSession)
        .where(DialogSession.status == ACTIVE, DialogSession.expires_at <= utcnow())
        .values(status=EXPIRED, updated_at=utcnow())).rowcount
    db.session.commit()
    return expired

"""Dialogues: the dialogue store's view of the core. A dialogue IS a conversation (found
by its public id within the organization) and its messages are the conversation's
messages, so whatever one face writes the others read, and the agent's history is the
dialogue's history.

Errors carry the dialogue store's codes; the face decides how they look.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from app.errors import BadRequest, Conflict, NotFound
from app.extensions import db
from app.models import Conversation, Message, Organization, Task
from app.models.base import utcnow
from app.models.conversations import ENDED
from app.services import conversations, data_sets, summaries, tasks

MAX_MESSAGES_PER_WRITE = 25
RECENT_MESSAGES = 10  # shown with a dialogue
KEEP = object()  # an update that leaves the data set as it is


@dataclass(frozen=True)
class Counts:
    total_messages: int = 0
    last_message_created: datetime | None = None


@dataclass(frozen=True)
class DialogueView:
    """A dialogue with what its responses show beside its own columns."""

    dialogue: Conversation
    thread_of: str | None  # the parent's public id
    counts: Counts
    messages: list[Message] | None = None  # the created, or the latest, messages


@dataclass(frozen=True)
class Page:
    items: list
    next: str | None


# -- reading ------------------------------------------------------------------------------

def get_dialogue(org_id: str, dialogue_id: str) -> Conversation:
    dialogue = _find(org_id, dialogue_id)
    if dialogue is None:
        raise _not_found(dialogue_id)
    return dialogue


def _not_found(dialogue_id: str) -> NotFound:
    return NotFound(f"Dialogue {dialogue_id} not found.", code="DIALOGUE_NOT_FOUND")


def _find(org_id: str, dialogue_id: str) -> Conversation | None:
    return db.session.scalar(_live(org_id, dialogue_id))


def _live(org_id: str, dialogue_id: str):
    """The statement selecting one of the organization's dialogues, unless deleted."""
    return conversations.live_by_public_id(org_id, dialogue_id)


def view(dialogue: Conversation, messages: list[Message] | None = None) -> DialogueView:
    return views([dialogue], messages)[0]


def views(dialogues: list[Conversation],
          messages: list[Message] | None = None) -> list[DialogueView]:
    """Dialogues with their parents' public ids and true message counts, in two reads
    for the whole page."""
    ids = [d.id for d in dialogues]
    counts = {row.conversation_id: Counts(row.total, row.last) for row in db.session.execute(
        select(Message.conversation_id, func.count().label("total"),
               func.max(Message.created_at).label("last"))
        .where(Message.conversation_id.in_(ids)).group_by(Message.conversation_id))}
    parent_ids = {d.parent_id for d in dialogues if d.parent_id}
    parents = dict(db.session.execute(
        select(Conversation.id, Conversation.public_id).where(Conversation.id.in_(parent_ids))
    ).all()) if parent_ids else {}
    return [DialogueView(d, parents.get(d.parent_id), counts.get(d.id, Counts()), messages)
            for d in dialogues]


def with_recent_messages(org_id: str, dialogue_id: str) -> DialogueView:
    """The dialogue with its latest messages, oldest of them first."""
    dialogue = get_dialogue(org_id, dialogue_id)
    return view(dialogue, conversations.history(dialogue.id, limit=RECENT_MESSAGES))


def list_dialogues(org_id: str, *, limit: int, order: str, cursor: str | None = None,
                   thread_of: str | None = None, namespace: str | None = None,
                   created_from: datetime | None = None, created_before: datetime | None = None,
                   created_until: datetime | None = None) -> Page:
    """The organization's dialogues by creation time, keyset-paged on (created, id): a
    page starts strictly after the last item of the one before, so dialogues created
    meanwhile never shift what the next page holds (nothing skipped, nothing twice)."""
    query = select(Conversation).where(*conversations.shared_by(org_id))
    if thread_of is not None:
        parent = _find(org_id, thread_of)
        if parent is None:
            return Page([], None)
        query = query.where(Conversation.parent_id == parent.id)
    if namespace is not None:
        query = query.where(Conversation.namespace == namespace)
    if created_from is not None:
        query = query.where(Conversation.started_at >= created_from)
    if created_before is not None:
        query = query.where(Conversation.started_at < created_before)
    if created_until is not None:
        query = query.where(Conversation.started_at <= created_until)
    keys = (Conversation.started_at, Conversation.id)
    if cursor is not None:
        after_created, after_id = _decode_cursor(cursor, "dialogues", order)
        after_created = datetime.fromisoformat(after_created)
        query = query.where(_after(keys, (after_created, after_id), order))
    rows = db.session.scalars(query.order_by(*_ordered(keys, order)).limit(limit + 1)).all()
    page, more = rows[:limit], len(rows) > limit
    next_cursor = (_encode_cursor("dialogues", order, page[-1].started_at.isoformat(),
                                  page[-1].id) if more else None)
    return Page(views(list(page)), next_cursor)


def list_messages(org_id: str, dialogue_id: str, *, limit: int, order: str,
                  cursor: str | None = None) -> Page:
    """The dialogue's whole history, keyset-paged on its positions."""
    dialogue = get_dialogue(org_id, dialogue_id)
    query = select(Message).where(Message.conversation_id == dialogue.id)
    if cursor is not None:
        (after_seq,) = _decode_cursor(cursor, f"messages:{dialogue.id}", order)
        query = query.where(Message.seq > after_seq if order == "asc"
                            else Message.seq < after_seq)
    rows = db.session.scalars(query.order_by(*_ordered((Message.seq,), order))
                              .limit(limit + 1)).all()
    page, more = rows[:limit], len(rows) > limit
    next_cursor = (_encode_cursor(f"messages:{dialogue.id}", order, page[-1].seq)
                   if more else None)
    return Page(list(page), next_cursor)


def _ordered(keys, order: str):
    return [k.asc() if order == "asc" else k.desc() for k in keys]


def _after(keys, values, order: str):
    return (tuple_(*keys) > tuple_(*values) if order == "asc"
            else tuple_(*keys) < tuple_(*values))


def _encode_cursor(kind: str, order: str, *position) -> str:
    raw = json.dumps({"k": kind, "o": order, "p": list(position)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, kind: str, order: str) -> list:
    """The position a cursor stands for; a 400 for anything this listing and order did
    not hand out."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        position = data["p"]
        valid = data["k"] == kind and data.get("o") in ("asc", "desc") \
            and isinstance(position, list) and position
        if kind == "dialogues":
            valid = valid and len(position) == 2 and isinstance(position[0], str) \
                and isinstance(position[1], int)
            datetime.fromisoformat(position[0])
        else:
            valid = valid and len(position) == 1 and isinstance(position[0], int)
    except (binascii.Error, ValueError, TypeError, KeyError, AttributeError):
        valid = False
    if not valid:
        raise BadRequest("Invalid next cursor: pass back the `next` value of an earlier "
                         "page.", code="INVALID_INPUT")
    if data["o"] != order:
        raise BadRequest(f"This cursor was made for order={data['o']}; ask with the "
                         "same order.", code="INVALID_INPUT")
    return position


# -- writing ------------------------------------------------------------------------------

def create_dialogue(org_id: str, *, messages: list[dict], dialogue_id: str | None = None,
                    namespace: str | None = None, thread_of: str | None = None,
                    state: dict | None = None, metadata: dict | None = None,
                    tags: list[str] | None = None,
                    data_set_id: int | None = None) -> DialogueView:
    """A dialogue, with its first messages; with `data_set_id` (one of the
    organization's), questions asked in it are answered from that data set."""
    _check_message_count(messages)
    parent = None
    if thread_of is not None:
        parent = _find(org_id, thread_of)
        if parent is None:
            raise NotFound(f"Parent dialogue {thread_of} not found.",
                           code="PARENT_DIALOGUE_NOT_FOUND")
    data_sets.check_data_set(org_id, data_set_id)
    if dialogue_id is not None and _id_taken(org_id, dialogue_id):
        raise _taken(dialogue_id)
    _check_message_ids(messages)
    dialogue = Conversation(org_id=org_id, namespace=namespace, state=state or {},
                            meta=metadata or {}, tags=tags or [], data_set_id=data_set_id,
                            parent_id=parent.id if parent else None)
    if dialogue_id is not None:
        dialogue.public_id = dialogue_id
    db.session.add(dialogue)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise _taken(dialogue_id) from None  # created by a concurrent request meanwhile
    if parent is not None:
        db.session.execute(update(Conversation).where(Conversation.id == parent.id)
                           .values(thread_count=Conversation.thread_count + 1))
    created = _append(dialogue, messages)
    db.session.commit()
    return view(dialogue, created)


def update_dialogue(org_id: str, dialogue_id: str, *, messages: list[dict],
                    tags: list[str] | None = None, label: str | None = None,
                    state: dict | None = None, data_set_id=KEEP) -> DialogueView:
    """Replace the tags, set the label, merge the state, append messages; an ended
    dialogue takes none of it. `data_set_id`: the data set later questions are
    answered from (None: none), unless KEEP."""
    _check_message_count(messages)
    if data_set_id is not KEEP:
        data_sets.check_data_set(org_id, data_set_id)
    dialogue = _lock(org_id, dialogue_id)
    if dialogue.status == ENDED:
        db.session.rollback()
        raise Conflict(f"Dialogue {dialogue_id} has ended: it cannot be updated or take "
                       "messages (its state still can, through PUT /dialogue/{id}/state).",
                       code="DIALOGUE_ENDED")
    _check_message_ids(messages, dialogue)
    if tags is not None:
        dialogue.tags = tags
    if label is not None:
        dialogue.label = label
    if state is not None:
        dialogue.state = {**dialogue.state, **state}
    if data_set_id is not KEEP:
        dialogue.data_set_id = data_set_id
    created = _append(dialogue, messages)
    dialogue.updated_at = utcnow()
    db.session.commit()
    return view(dialogue, created)


def update_state(org_id: str, dialogue_id: str, state: dict) -> DialogueView:
    """Merge into the state: new keys added, existing ones updated, missing ones kept.
    Works on an ended dialogue too."""
    dialogue = _lock(org_id, dialogue_id)
    dialogue.state = {**dialogue.state, **state}
    dialogue.updated_at = utcnow()
    db.session.commit()
    return view(dialogue)


def end_dialogue(org_id: str, dialogue_id: str) -> DialogueView:
    dialogue = _lock(org_id, dialogue_id)
    if dialogue.status != ENDED:
        dialogue.status = ENDED
        dialogue.updated_at = utcnow()
    db.session.commit()
    return view(dialogue)


def delete_dialogue(org_id: str, dialogue_id: str) -> None:
    """Gone from every face at once. Its threads stay, as dialogues of their own; its
    rows are kept (the messages persist, and a reply in flight finishes safely), and
    its id is not handed out again."""
    _refuse_if_immutable(org_id, f"Dialogue {dialogue_id} cannot be deleted")
    dialogue = _lock(org_id, dialogue_id)
    now = utcnow()
    dialogue.deleted_at = dialogue.updated_at = now
    db.session.execute(update(Conversation).where(Conversation.parent_id == dialogue.id)
                       .values(parent_id=None, updated_at=now))
    if dialogue.parent_id is not None:
        db.session.execute(update(Conversation).where(Conversation.id == dialogue.parent_id)
                           .values(thread_count=Conversation.thread_count - 1))
    db.session.commit()


def delete_message(org_id: str, dialogue_id: str, message_id: str) -> None:
    """Remove one message. A question still being answered stays until its task ends
    (409): its worker reads it. What pointed at the message (its reply, its task)
    forgets it."""
    _refuse_if_immutable(org_id, f"Messages of dialogue {dialogue_id} cannot be deleted")
    dialogue = _lock(org_id, dialogue_id)
    message = db.session.scalar(select(Message).where(
        Message.conversation_id == dialogue.id, Message.public_id == message_id))
    if message is None:
        db.session.rollback()
        raise NotFound(f"Message {message_id} not found in dialogue {dialogue_id}.",
                       code="MESSAGE_NOT_FOUND")
    busy = db.session.scalar(select(Task.id).where(
        Task.message_id == message.id, Task.state.in_(tasks.UNFINISHED)))
    if busy is not None:
        db.session.rollback()
        raise Conflict(f"Message {message_id} is still being answered (task {busy}); "
                       "delete it once that task has finished.", code="MESSAGE_IN_USE")
    db.session.execute(update(Message).where(Message.reply_to_id == message.id)
                       .values(reply_to_id=None))
    db.session.execute(update(Task).where(Task.message_id == message.id)
                       .values(message_id=None))
    db.session.delete(message)
    dialogue.updated_at = utcnow()
    db.session.commit()


def compact(org_id: str, dialogue_id: str) -> str:
    """Queue a summary of the dialogue (the `compact` kind of task, app/services/
    summaries.py); returns the task id. The summary is stored on the dialogue."""
    dialogue = get_dialogue(org_id, dialogue_id)
    has_messages = db.session.scalar(
        select(Message.id).where(Message.conversation_id == dialogue.id).limit(1))
    if has_messages is None:
        raise BadRequest(f"Dialogue {dialogue_id} has no messages to compact.",
                         code="INVALID_INPUT")
    return summaries.queue_summary(org_id, dialogue.id)


def _lock(org_id: str, dialogue_id: str) -> Conversation:
    """The dialogue, with its row locked to the end of the transaction, so concurrent
    writes (state merges, appended positions) do not overwrite each other."""
    dialogue = db.session.scalar(_live(org_id, dialogue_id).with_for_update())
    if dialogue is None:
        db.session.rollback()
        raise _not_found(dialogue_id)
    return dialogue


def _append(dialogue: Conversation, messages: list[dict]) -> list[Message]:
    """Add the messages at the dialogue's next positions, in the order given."""
    if not messages:
        return []
    last_seq = db.session.execute(
        update(Conversation).where(Conversation.id == dialogue.id)
        .values(last_seq=Conversation.last_seq + len(messages))
        .returning(Conversation.last_seq)).scalar_one()
    first = last_seq - len(messages) + 1
    created = []
    for seq, fields in enumerate(messages, start=first):
        message = Message(conversation_id=dialogue.id, seq=seq, role=fields["role"],
                          text=fields["content"], name=fields.get("name"),
                          tags=fields.get("tags"), meta=fields.get("metadata"),
                          created_at=fields.get("created") or utcnow())
        if fields.get("id") is not None:
            message.public_id = fields["id"]
        created.append(message)
    db.session.add_all(created)
    db.session.flush()
    return created


def _check_message_count(messages: list[dict]) -> None:
    if len(messages) > MAX_MESSAGES_PER_WRITE:
        raise BadRequest(f"At most {MAX_MESSAGES_PER_WRITE} messages at a time; "
                         f"{len(messages)} were sent.", code="TOO_MANY_MESSAGES")


def _check_message_ids(messages: list[dict], dialogue: Conversation | None = None) -> None:
    """Custom message ids are unique within their dialogue."""
    ids = [m["id"] for m in messages if m.get("id") is not None]
    if len(ids) != len(set(ids)):
        raise BadRequest("Two messages carry the same id.", code="INVALID_INPUT")
    if dialogue is not None and ids:
        taken = db.session.scalar(select(Message.public_id).where(
            Message.conversation_id == dialogue.id, Message.public_id.in_(ids)).limit(1))
        if taken is not None:
            db.session.rollback()
            raise Conflict(f"Dialogue {dialogue.public_id} already has a message {taken}.",
                           code="MESSAGE_ALREADY_EXISTS")


def _id_taken(org_id: str, dialogue_id: str) -> bool:
    return db.session.scalar(select(Conversation.id).where(
        Conversation.org_id == org_id, Conversation.public_id == dialogue_id)) is not None


def _taken(dialogue_id: str | None) -> Conflict:
    return Conflict(f"Dialogue id {dialogue_id} is taken in this project (deleted "
                    "dialogues keep their ids).", code="DIALOGUE_ALREADY_EXISTS")


def _refuse_if_immutable(org_id: str, what: str) -> None:
    if db.session.scalar(select(Organization.dialogues_immutable)
                         .where(Organization.id == org_id)):
        raise Conflict(f"{what}: this project's dialogues are immutable.",
                       code="DIALOGUE_IMMUTABLE")

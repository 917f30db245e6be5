"""What the server answers, as typed, immutable objects.

Each keeps the whole answer in ``raw``, so a field the server adds later is there to
read before this client names it. Timestamps are timezone-aware datetimes (UTC).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

Json = dict[str, Any]
T = TypeVar("T")
FINAL_STATES = ("SUCCESS", "FAILURE")


def timestamp(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


# -- the polling face ---------------------------------------------------------------------


@dataclass(frozen=True)
class DataSet:
    id: int
    name: str
    description: str
    created_at: datetime | None
    raw: Json = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, body: Json) -> DataSet:
        return cls(body["id"], body["name"], body.get("description", ""),
                   timestamp(body.get("created_at")), body)


@dataclass(frozen=True)
class Document:
    id: int
    data_set_id: int
    title: str
    passage_count: int
    created_at: datetime | None
    raw: Json = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, body: Json) -> Document:
        return cls(body["id"], body["data_set_id"], body["title"],
                   body.get("passage_count", 0), timestamp(body.get("created_at")), body)


@dataclass(frozen=True)
class Conversation:
    """``public_id``: the id the dialogue store knows it by."""

    id: int
    public_id: str | None
    data_set_id: int | None
    summary: str | None
    started_at: datetime | None
    raw: Json = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, body: Json) -> Conversation:
        return cls(body["id"], body.get("public_id"), body.get("data_set_id"),
                   body.get("summary"), timestamp(body.get("started_at")), body)


@dataclass(frozen=True)
class Message:
    """One message of a conversation's history; ``reply_to``: the question an agent
    message answers."""

    id: int
    role: Literal["user", "agent", "system"]
    text: str
    created_at: datetime | None
    reply_to: int | None

    @classmethod
    def from_json(cls, body: Json) -> Message:
        return cls(body["id"], body["role"], body["text"], timestamp(body.get("created_at")),
                   body.get("reply_to"))


@dataclass(frozen=True)
class History:
    """A conversation with its messages in order. With a ``limit``, only the latest
    ones: ``older`` is then the ``before`` of the page before (None at the start)."""

    conversation: Conversation
    messages: list[Message]
    older: int | None

    @classmethod
    def from_json(cls, body: Json) -> History:
        return cls(Conversation.from_json(body),
                   [Message.from_json(message) for message in body.get("history", [])],
                   body.get("older"))


@dataclass(frozen=True)
class Task:
    """A piece of work the server accepted; follow it with ``wait`` or ``stream``.
    ``idempotency_key``: the key the request was sent with (send it again with the same
    request to get the same task)."""

    id: str
    idempotency_key: str | None = None


@dataclass(frozen=True)
class TaskStatus:
    """``state`` is PENDING, SUCCESS or FAILURE; ``stage`` says more (queued, running,
    canceling, succeeded, failed, canceled); ``error`` is set on FAILURE (and while a
    retry waits)."""

    task_id: str
    state: Literal["PENDING", "SUCCESS", "FAILURE"]
    stage: str
    error: str | None
    attempts: int
    conversation_id: int | None
    message_id: int | None
    reply_message_id: int | None
    updated_at: datetime | None
    raw: Json = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, body: Json) -> TaskStatus:
        return cls(body["task_id"], body["state"], body.get("stage", ""), body.get("error"),
                   body.get("attempts", 0), body.get("conversation_id"),
                   body.get("message_id"), body.get("reply_message_id"),
                   timestamp(body.get("updated_at")), body)

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def succeeded(self) -> bool:
        return self.state == "SUCCESS"

    @property
    def failed(self) -> bool:
        return self.state == "FAILURE"

    @property
    def canceled(self) -> bool:
        return self.stage == "canceled"


# -- the dialogue store -------------------------------------------------------------------


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list; pass ``next`` back to read the page after it (None: last)."""

    items: list[T]
    next: str | None


@dataclass(frozen=True)
class DialogueMessage:
    id: str
    role: Literal["user", "assistant", "system"]
    content: str
    name: str | None
    created: datetime | None
    tags: list[str]
    metadata: Json

    @classmethod
    def from_json(cls, body: Json) -> DialogueMessage:
        return cls(body["id"], body["role"], body["content"], body.get("name"),
                   timestamp(body.get("created")), body.get("tags") or [],
                   body.get("metadata") or {})


@dataclass(frozen=True)
class Dialogue:
    """A dialogue; ``messages`` holds its latest ten when read alone, none in lists."""

    id: str
    status: Literal["active", "ended", "archived"]
    namespace: str | None
    thread_of: str | None
    label: str | None
    tags: list[str]
    state: Json
    metadata: Json
    summary: str | None
    total_messages: int
    thread_count: int
    created: datetime | None
    modified: datetime | None
    messages: list[DialogueMessage]
    raw: Json = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, body: Json) -> Dialogue:
        return cls(body["id"], body["status"], body.get("namespace"), body.get("threadOf"),
                   body.get("label"), body.get("tags") or [], body.get("state") or {},
                   body.get("metadata") or {}, body.get("summary"),
                   body.get("totalMessages", 0), body.get("threadCount", 0),
                   timestamp(body.get("created")), timestamp(body.get("modified")),
                   [DialogueMessage.from_json(m) for m in body.get("messages") or []], body)


# -- dialog sessions ----------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """A quick action: send ``label`` back as the next message (or confirm)."""

    action: str
    label: str
    payload: Json

    @classmethod
    def from_json(cls, body: Json) -> Action:
        return cls(body["action"], body["label"], body.get("payload") or {})


@dataclass(frozen=True)
class AssistantMessage:
    role: str
    content: str
    timestamp: datetime | None
    actions: list[Action]

    @classmethod
    def from_json(cls, body: Json) -> AssistantMessage:
        return cls(body["role"], body["content"], timestamp(body.get("timestamp")),
                   [Action.from_json(action) for action in body.get("actions") or []])


@dataclass(frozen=True)
class SessionStarted:
    """A new dialog session and the agent's first question."""

    session_id: str
    status: str
    phase: int
    message: AssistantMessage

    @classmethod
    def from_json(cls, body: Json) -> SessionStarted:
        return cls(body["session_id"], body["status"], body["phase"],
                   AssistantMessage.from_json(body["message"]))


@dataclass(frozen=True)
class DialogSession:
    session_id: str
    status: Literal["active", "confirmed", "cancelled", "expired"]
    mode: Literal["translation", "creation"]
    phase: int
    message_count: int
    cost_eur: float
    expires_at: datetime | None
    raw: Json = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, body: Json) -> DialogSession:
        return cls(body["session_id"], body["status"], body["mode"], body["phase"],
                   body["message_count"], body["cost_eur"], timestamp(body.get("expires_at")),
                   body)


@dataclass(frozen=True)
class Preview:
    """The briefing as it stands: how complete, what is missing."""

    briefing: Json
    completeness: float
    missing_fields: list[str]
    warnings: list[str]
    phase: int
    status: str

    @classmethod
    def from_json(cls, body: Json) -> Preview:
        return cls(body["briefing_json"], body["completeness"], body["missing_fields"],
                   body["warnings"], body["phase"], body["status"])


@dataclass(frozen=True)
class Confirmed:
    session_id: str
    job_id: str
    job_status: str
    template_id: str | None

    @classmethod
    def from_json(cls, body: Json) -> Confirmed:
        return cls(body["session_id"], body["job_id"], body["job_status"],
                   body.get("template_id"))


@dataclass(frozen=True)
class Job:
    """A confirmed briefing's job; ``task_id`` streams its progress."""

    job_id: str
    session_id: str
    status: Literal["queued", "running", "completed", "failed"]
    task_id: str
    result: Json | None
    error: str | None
    cost_eur: float
    raw: Json = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, body: Json) -> Job:
        return cls(body["job_id"], body["session_id"], body["status"], body["task_id"],
                   body.get("result"), body.get("error"), body.get("cost_eur", 0.0), body)

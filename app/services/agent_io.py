"""What the core hands an agent and what it takes back: plain values with no database
in them, so that agents and model providers (workers/agents, workers/llm) import this
module and nothing of the database.

A task kind's gather step reads its rows and returns one of the inputs below; the
worker hands it to the kind's agent; the agent asks a provider and returns a Result,
which the kind's store step writes.
"""

from dataclasses import dataclass, field
from typing import Any

# The core calls the model's side of a conversation "agent"; the chat APIs and the
# Messages API call it "assistant". The one mapping between the two.
API_ROLES = {"user": "user", "agent": "assistant", "system": "system"}
CORE_ROLES = {api: core for core, api in API_ROLES.items()}

OFFLINE_MODEL_NAME = "parley-offline-extractive"


@dataclass(frozen=True)
class Turn:
    role: str  # "user", "agent" or "system"
    text: str


@dataclass(frozen=True)
class Source:
    """A passage the reply must be drawn from, and the title of its document."""

    title: str
    text: str


@dataclass(frozen=True)
class ModelChoice:
    """The model a chat session chose (app/services/language_models.py)."""

    id: str
    provider: str  # "anthropic" or "offline"
    name: str


@dataclass(frozen=True)
class ToolCall:
    """A tool the model called (the Messages API's tool_use block) and its parsed input."""

    name: str
    input: dict


@dataclass(frozen=True)
class Result:
    """What a model produced: the text, the model's own name for itself, the usage, and
    the tools it called, in the order it called them."""

    text: str
    model: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True)
class ReplyInput:
    """A question to answer, with the conversation before it and the passages found."""

    question: str
    history: list[Turn]  # the conversation before the question, oldest first
    data_set_name: str | None
    passages: list[Source] = field(default_factory=list)
    # A chat session's reply is written by the session's model; other replies by the
    # installation's default (PARLEY_LLM).
    model: ModelChoice | None = None


@dataclass(frozen=True)
class SummaryInput:
    """The messages to summarise, oldest first."""

    turns: list[Turn]
    model: ModelChoice | None = None  # the installation's default


# A model error's cause (TransientError.cause, PermanentError.cause), as metrics count
# them.
RATE_LIMITED, SERVER_ERROR, TIMEOUT = "rate_limited", "server_error", "timeout"
CUT_STREAM, CONNECTION, CLIENT_ERROR = "cut_stream", "connection", "client_error"


class TransientError(Exception):
    """A failure worth another try: rate limits, overload, 5xx, timeouts, dropped or
    cut-off streams. `retry_after`: the earliest the model asked to be tried again. A
    model's error names its `cause` (above) and the `model` asked."""

    def __init__(self, message: str, retry_after: float | None = None,
                 cause: str | None = None, model: str | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        self.cause = cause
        self.model = model


class PermanentError(Exception):
    """A request that will never succeed as it is (bad request, bad key); a model's
    names its `cause` and the `model` asked, as TransientError's do."""

    def __init__(self, message: str, cause: str | None = None, model: str | None = None):
        super().__init__(message)
        self.cause = cause
        self.model = model


@dataclass(frozen=True)
class BriefingInput:
    """A dialog session's turn: the user's message, the conversation before it, and the
    briefing as it stands (app/services/briefings.py's fields and rules)."""

    message: str
    history: list[Turn]
    mode: str
    briefing: dict
    phase: int
    resources: Any  # briefings.Resources: the organization's glossaries, style references
    language: str | None = None  # the UI language hint
    model: ModelChoice | None = None


# The events a briefing turn reports besides its text, as task events (name, data).
BRIEFING_UPDATE, PHASE, ACTIONS, WARNING = "briefing_update", "phase", "actions", "warning"
BRIEFING_EVENTS = (BRIEFING_UPDATE, PHASE, ACTIONS, WARNING)


@dataclass(frozen=True)
class BriefingTurn(Result):
    """The agent's answer to a turn: its text (the question it asks next), the fields
    it set (each already checked), the phase reached and the quick actions offered."""

    updates: dict = field(default_factory=dict)
    phase: int = 1
    actions: tuple[dict, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobInput:
    """A confirmed briefing to carry out, with the resources it names resolved."""

    mode: str
    briefing: dict
    glossary_terms: list[tuple[str, str]]  # (source term, target term)
    style_reference: str | None = None
    model: ModelChoice | None = None


@dataclass(frozen=True)
class JobResult(Result):
    """A job's output: its text (Result.text) and what the job reports about it."""

    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class DeliveryInput:
    """A webhook message to send (app/services/webhooks.py): where, the secret that
    signs it, its id (the webhook-id header) and its body exactly as it is signed.
    `refused`: why it must not be sent at all (its endpoint was disabled or deleted)."""

    url: str
    secret: str
    message_id: str
    payload: str
    timeout: float
    allow_private: bool = False
    refused: str | None = None


@dataclass(frozen=True)
class DeliveryResult:
    """How the receiver answered an attempt it accepted (2xx)."""

    status_code: int


class DeliveryError(TransientError):
    """An attempt that failed but may succeed later: a timeout, a connection error, a
    name that does not resolve, an answer other than 2xx (`status_code`)."""

    def __init__(self, message: str, status_code: int | None = None,
                 retry_after: float | None = None):
        super().__init__(message, retry_after)
        self.status_code = status_code

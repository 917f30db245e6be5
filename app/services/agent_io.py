"""What the core hands an agent and what it takes back: plain values with no database
in them, so that agents and model providers (workers/agents, workers/llm) import this
module and nothing of the database.

A task kind's gather step reads its rows and returns one of the inputs below; the
worker hands it to the kind's agent; the agent asks a provider and returns a Result,
which the kind's store step writes.
"""

from dataclasses import dataclass, field

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
class Result:
    """What a model produced: the text, the model's own name for itself, the usage."""

    text: str
    model: str
    input_tokens: int | None = None
    output_tokens: int | None = None


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


class TransientError(Exception):
    """A failure worth another try: rate limits, overload, 5xx, timeouts, dropped or
    cut-off streams. `retry_after`: the earliest the model asked to be tried again."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(Exception):
    """A request that will never succeed as it is (bad request, bad key)."""

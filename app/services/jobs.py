"""The plain values the core hands to an agent and takes back: no ORM rows, no
session, so an agent holds nothing of the database while the model works."""

from dataclasses import dataclass, field

from app.services.search import Hit


@dataclass(frozen=True)
class Turn:
    role: str  # "user", "agent" or "system"
    text: str


@dataclass(frozen=True)
class ModelChoice:
    """The model a chat session chose (app/services/language_models.py)."""

    id: str
    provider: str  # "anthropic" or "offline"
    name: str


@dataclass(frozen=True)
class ReplyJob:
    task_id: str
    attempt: int  # the claim: only this attempt may finish the task
    conversation_id: int
    question_id: int
    question_seq: int
    question: str
    question_public_id: str
    history: list[Turn]  # the conversation before the question, oldest first
    data_set_name: str | None
    passages: list[Hit] = field(default_factory=list)
    # A chat session's reply is written by the session's model; other replies by the
    # installation's default (PARLEY_LLM).
    chat_session_id: str | None = None
    model: ModelChoice | None = None


@dataclass(frozen=True)
class Reply:
    text: str
    model: str
    input_tokens: int | None = None
    output_tokens: int | None = None


@dataclass(frozen=True)
class SummaryJob:
    task_id: str
    attempt: int
    conversation_id: int
    turns: list[Turn]  # the messages to summarise, oldest first
    model: ModelChoice | None = None  # the installation's default

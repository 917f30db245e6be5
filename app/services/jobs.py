"""The plain values the core hands to an agent and takes back: no ORM rows, no
session, so an agent holds nothing of the database while the model works."""

from dataclasses import dataclass, field

from app.services.search import Hit


@dataclass(frozen=True)
class Turn:
    role: str  # "user", "agent" or "system"
    text: str


@dataclass(frozen=True)
class ReplyJob:
    task_id: str
    attempt: int  # the claim: only this attempt may finish the task
    conversation_id: int
    question_id: int
    question_seq: int
    question: str
    history: list[Turn]  # the conversation before the question, oldest first
    data_set_name: str | None
    passages: list[Hit] = field(default_factory=list)


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

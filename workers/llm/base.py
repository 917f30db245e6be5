"""What every provider takes and gives back, and the two kinds of failure the task
tells apart: transient (retry with backoff) and permanent (fail the task now)."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from app.services.jobs import Reply

OnText = Callable[[str], None]


@dataclass(frozen=True)
class Source:
    """A passage the reply must be drawn from, and the document it came from."""

    title: str
    text: str


@dataclass(frozen=True)
class LLMRequest:
    system: str
    messages: list[dict]  # Messages API shape: [{"role": "user"|"assistant", "content": str}]
    # The question being answered. The last user turn can hold more: an earlier question
    # that went unanswered is joined to it, as the Messages API wants alternating roles.
    question: str = ""
    max_tokens: int = 1024
    # The passages also rendered into `system`; the offline model answers from these.
    sources: list[Source] = field(default_factory=list)
    # What is asked: "answer" a question, or "summarize" the conversation in
    # `messages` (the offline model, which reads no prompt, needs to be told).
    kind: str = "answer"


# A provider's answer is the reply the core stores: one type, not a copy of it.
LLMResult = Reply


class TransientLLMError(Exception):
    """Rate limits, overload, 5xx, timeouts, dropped or cut-off streams."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentLLMError(Exception):
    """A request the model will never accept as it is (bad request, bad key)."""


class Provider(Protocol):
    name: str

    def generate(self, request: LLMRequest, on_text: OnText | None = None) -> LLMResult:
        """Produce the whole reply, calling on_text with each chunk as it arrives."""
        ...

"""What every provider takes and gives back. The values themselves (sources, the
result) and the two kinds of failure a provider raises (TransientError: retried with
backoff; PermanentError: the task fails) are the core's plain data
(app/services/agent_io.py), so a provider knows nothing of the database."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from app.services.agent_io import Result, Source

OnText = Callable[[str], None]


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
    # What is asked: "answer" a question, "summarize" the conversation in `messages`,
    # or "recite" `question` (words an agent decided itself) — the offline model, which
    # reads no prompt, needs to be told.
    kind: str = "answer"



class Provider(Protocol):
    name: str

    def generate(self, request: LLMRequest, on_text: OnText | None = None) -> Result:
        """Produce the whole reply, calling on_text with each chunk as it arrives."""
        ...

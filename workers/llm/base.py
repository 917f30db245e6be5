"""What every provider takes and gives back. The values themselves (sources, the
result, a tool call) and the two kinds of failure a provider raises (TransientError:
retried with backoff; PermanentError: the task fails) are the core's plain data
(app/services/agent_io.py), so a provider knows nothing of the database."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from app.services.agent_io import Result, Source, ToolCall

OnText = Callable[[str], None]
OnTool = Callable[[ToolCall], None]


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
    # What is asked: "answer" a question from `sources`, "chat" (answer with no data set,
    # from the conversation alone), "summarize" the conversation in `messages`, or
    # "recite" `question` (words an agent decided itself) — the offline model, which
    # reads no prompt, needs to be told.
    kind: str = "answer"
    # Tools the model may call (Messages API tool definitions: name, description,
    # input_schema), and how it must choose among them ({"type": "tool", "name": ...}).
    tools: list[dict] = field(default_factory=list)
    tool_choice: dict | None = None


class Provider(Protocol):
    name: str

    def generate(self, request: LLMRequest, on_text: OnText | None = None,
                 on_tool: OnTool | None = None) -> Result:
        """Produce the whole reply, calling on_text with each chunk of text as it
        arrives and on_tool with each tool call as soon as the call is complete."""
        ...

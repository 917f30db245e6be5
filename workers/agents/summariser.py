"""The summariser: a compact summary of a conversation (the dialogue store's compact),
short enough to stand in for the messages as context."""

from app.services.agent_io import API_ROLES, Result, Source, SummaryInput, Turn
from workers.llm import LLMRequest, OnText, Provider

SYSTEM_PROMPT = """You summarise conversations so that the summary can replace them as \
context for whoever continues them. Keep every fact, decision, open question and \
commitment; drop greetings and repetition. Write plain prose, at most 200 words, in the \
language of the conversation."""


def summarize(job: SummaryInput, provider: Provider, max_tokens: int,
              on_text: OnText | None = None, on_event=None) -> Result:
    """The summary (it reports nothing but its text: on_event is unused)."""
    return provider.generate(build_request(job.turns, max_tokens), on_text=on_text)


def build_request(turns: list[Turn], max_tokens: int) -> LLMRequest:
    transcript = "\n\n".join(f"{API_ROLES[t.role].capitalize()}: {t.text}" for t in turns)
    return LLMRequest(
        system=SYSTEM_PROMPT, kind="summarize", max_tokens=max_tokens,
        messages=[{"role": "user", "content": f"Summarise this conversation:\n\n{transcript}"}],
        sources=[Source(title=t.role, text=t.text) for t in turns])

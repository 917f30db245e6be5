"""The data-set QA agent: answers a question from the passages retrieved from the
conversation's data set, with the conversation so far as context."""

from app.services.agent_io import API_ROLES, ReplyInput, Result, Source, Turn
from workers.llm import LLMRequest, OnText, Provider

SYSTEM_PROMPT = """You are Parley, an assistant that answers questions from the \
documents of the data set "{data_set}".
Answer only from the passages below. Say which document your answer comes from, by its \
title. If the passages do not contain the answer, say plainly that the data set does not \
contain it, and do not guess.

Passages:
{passages}{instructions}"""
INSTRUCTIONS = "\n\nInstructions stored with this conversation:\n{notes}"
NO_PASSAGES = "(no passage of the data set matches this question)"
NO_DATA_SET = "(this conversation has no data set)"


def answer(job: ReplyInput, provider: Provider, max_tokens: int,
           on_text: OnText | None = None, on_event=None) -> Result:
    """The reply (it reports nothing but its text: on_event is unused)."""
    return provider.generate(build_request(job, max_tokens), on_text=on_text)


def build_request(job: ReplyInput, max_tokens: int) -> LLMRequest:
    sources = job.passages
    # System messages (the dialogue store keeps them in the history) are instructions,
    # not turns: the Messages API takes them in the system prompt.
    notes = [turn.text for turn in job.history if turn.role == "system"]
    turns = [turn for turn in job.history if turn.role != "system"]
    return LLMRequest(
        system=SYSTEM_PROMPT.format(
            data_set=job.data_set_name or "none", passages=_render(sources, job.data_set_name),
            instructions=INSTRUCTIONS.format(notes="\n".join(notes)) if notes else ""),
        messages=to_api_messages([*turns, Turn("user", job.question)]),
        question=job.question, max_tokens=max_tokens, sources=sources)


def _render(sources: list[Source], data_set_name: str | None) -> str:
    if data_set_name is None:
        return NO_DATA_SET
    if not sources:
        return NO_PASSAGES
    return "\n\n".join(f"[source: {s.title}]\n{s.text}" for s in sources)


def to_api_messages(turns: list[Turn]) -> list[dict]:
    """The Messages API wants alternating roles starting with the user: drop leading
    agent turns and join consecutive turns of one role (a question whose reply failed
    is followed by another question)."""
    messages: list[dict] = []
    for turn in turns:
        role = API_ROLES[turn.role]
        if not messages and role != "user":
            continue
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"] += "\n\n" + turn.text
        else:
            messages.append({"role": role, "content": turn.text})
    return messages

"""The data-set QA agent: answers a question from the passages retrieved from the
conversation's data set, with the conversation so far as context. A conversation with
no data set (the dialogue store's, the conversation service's, unless one is attached)
is answered as a plain assistant would, from the conversation alone: the request's kind
is "chat", which the offline model, able to answer only from a data set, answers by
saying so and how to attach one."""

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
# With no data set there is nothing to answer from but the conversation itself.
CHAT_PROMPT = """You are Parley, a helpful assistant. Answer the user's questions \
clearly and accurately, taking the conversation so far into account. If you do not \
know, say so.{instructions}"""


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
    instructions = INSTRUCTIONS.format(notes="\n".join(notes)) if notes else ""
    if job.data_set_name is None and not sources:
        system, kind = CHAT_PROMPT.format(instructions=instructions), "chat"
    else:
        system, kind = SYSTEM_PROMPT.format(
            data_set=job.data_set_name, passages=_render(sources),
            instructions=instructions), "answer"
    return LLMRequest(
        system=system, messages=to_api_messages([*turns, Turn("user", job.question)]),
        question=job.question, max_tokens=max_tokens, sources=sources, kind=kind)


def _render(sources: list[Source]) -> str:
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

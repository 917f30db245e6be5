"""The plain values agents are handed (app/services/agent_io.py), built for tests."""

from app.services.agent_io import ReplyInput, Source
from tests.support.data import SLA_DOCUMENT, SLA_QUESTION

SLA_PASSAGE = " ".join(SLA_DOCUMENT.split("\n\n"))


def hit(title: str, text: str) -> Source:
    """A passage retrieval found, as the agent is handed it."""
    return Source(title, text)


def job(question=SLA_QUESTION, history=(), data_set_name="Plans", passages=()) -> ReplyInput:
    return ReplyInput(question=question, history=list(history), data_set_name=data_set_name,
                      passages=list(passages))

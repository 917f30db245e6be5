"""The plain values agents are handed (app/services/jobs.py, app/services/search.py),
built for tests."""

from app.services.jobs import ReplyJob
from app.services.search import Hit
from tests.support.data import SLA_DOCUMENT, SLA_QUESTION

SLA_PASSAGE = " ".join(SLA_DOCUMENT.split("\n\n"))


def hit(title: str, text: str, passage_id: int = 1) -> Hit:
    return Hit(passage_id=passage_id, document_id=passage_id, document_title=title, text=text,
               score=1.0)


def job(question=SLA_QUESTION, history=(), data_set_name="Plans", passages=()) -> ReplyJob:
    return ReplyJob(task_id="t", attempt=1, conversation_id=1, question_id=1, question_seq=1,
                    question=question, question_public_id="msg_q", history=list(history),
                    data_set_name=data_set_name, passages=list(passages))

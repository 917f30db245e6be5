"""The offline model (workers/llm/offline.py): deterministic, streamed in chunks, quoting
the best sentences of the sources and naming their documents, and saying so when the
data set does not hold the answer."""

from pathlib import Path

from app.services.agent_io import Turn
from tests.support.agents import SLA_PASSAGE, hit, job
from tests.support.data import PRICE_DOCUMENT, SLA_QUESTION, SLA_SENTENCE, SLA_TITLE
from workers.agents.data_set_qa import build_request
from workers.llm.base import LLMRequest, Source
from workers.llm.offline import NO_DATA_SET, NOT_FOUND, OfflineProvider

SLA_SOURCES = [Source(SLA_TITLE, SLA_PASSAGE), Source("Home price list", PRICE_DOCUMENT)]


def offline_request(question: str, sources: list[Source]) -> LLMRequest:
    return LLMRequest(system="", messages=[{"role": "user", "content": question}],
                      question=question,
                      sources=sources)


def test_offline_is_deterministic():
    request = offline_request(SLA_QUESTION, SLA_SOURCES)

    assert OfflineProvider().generate(request) == OfflineProvider().generate(request)


def test_offline_streams_chunks_that_join_to_the_text():
    chunks = []

    result = OfflineProvider().generate(offline_request(SLA_QUESTION, SLA_SOURCES),
                                        on_text=chunks.append)

    assert len(chunks) > 1
    assert "".join(chunks) == result.text


def test_offline_quotes_the_best_sentence():
    result = OfflineProvider().generate(offline_request(SLA_QUESTION, SLA_SOURCES))

    assert SLA_SENTENCE in result.text


def test_offline_does_not_quote_passing_mentions():
    result = OfflineProvider().generate(offline_request(SLA_QUESTION, SLA_SOURCES))

    assert "Installation takes five working days." not in result.text
    assert "30 euros" not in result.text


def test_offline_names_the_document():
    result = OfflineProvider().generate(offline_request(
        "How long does installation take?", [Source("Setup guide", "Installation takes five days.")]))

    assert "Setup guide" in result.text
    assert "Installation takes five days." in result.text


def test_offline_without_sources_says_the_data_set_does_not_contain_it():
    result = OfflineProvider().generate(offline_request(SLA_QUESTION, []))

    assert result.text == NOT_FOUND
    assert "data set" in result.text


def test_offline_with_unrelated_sources_says_not_found():
    result = OfflineProvider().generate(offline_request(
        "What colour is the office cat?", SLA_SOURCES))

    assert result.text == NOT_FOUND


def test_offline_answers_the_latest_question_after_an_unanswered_one():
    # A question whose reply failed is followed by another: the API messages join them
    # into one user turn, but the reply is owed to the latest question.
    request = build_request(job(question="How long does installation take?",
                                history=[Turn("user", SLA_QUESTION)],
                                passages=[hit(SLA_TITLE, SLA_PASSAGE)]), 100)

    result = OfflineProvider().generate(request)

    assert "Installation takes five working days." in result.text


def test_offline_without_data_set_says_it_answers_only_from_one():
    request = LLMRequest(system="", messages=[{"role": "user", "content": "Hello?"}],
                         question="Hello?", kind="chat")

    result = OfflineProvider().generate(request)

    assert result.text == NO_DATA_SET
    assert "data_set_id" in result.text


def test_the_readme_has_the_section_the_no_data_set_answer_names():
    readme = (Path(__file__).resolve().parents[4] / "README.md").read_text()
    section = NO_DATA_SET.split("\u201c")[1].split("\u201d")[0]

    assert f"\n## {section}\n" in readme

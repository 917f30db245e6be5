"""The data-set QA agent (workers/agents/data_set_qa.py), the offline model
(workers/llm/offline.py), passage splitting (app/services/passages.py) and retrieval
(app/services/search.py)."""

import pytest

from app.services import data_sets, organizations
from app.services.jobs import ReplyJob, Turn
from app.services.search import Hit, search_passages
from app.services.text import MAX_PASSAGE_CHARS, query_terms, split_passages
from tests.conftest import PRICE_DOCUMENT, SLA_DOCUMENT
from workers.agents import data_set_qa
from workers.agents.data_set_qa import build_request, to_api_messages
from workers.llm.base import LLMRequest, Source
from workers.llm.offline import NOT_FOUND, OfflineProvider

SLA_QUESTION = "Does FiberUP Business Duplex include an SLA?"
SLA_SENTENCE = ("FiberUP Business Duplex includes an SLA guaranteeing 99.9% uptime, with an "
                "optional priority support package that answers within two hours.")
SLA_TITLE = "FiberUP Business Duplex"
SLA_PASSAGE = " ".join(SLA_DOCUMENT.split("\n\n"))


def hit(title: str, text: str, passage_id: int = 1) -> Hit:
    return Hit(passage_id=passage_id, document_id=passage_id, document_title=title, text=text,
               score=1.0)


def job(question=SLA_QUESTION, history=(), data_set_name="Plans", passages=()) -> ReplyJob:
    return ReplyJob(task_id="t", attempt=1, conversation_id=1, question_id=1, question_seq=1,
                    question=question, question_public_id="msg_q", history=list(history),
                    data_set_name=data_set_name, passages=list(passages))


def offline_request(question: str, sources: list[Source]) -> LLMRequest:
    return LLMRequest(system="", messages=[{"role": "user", "content": question}],
                      question=question,
                      sources=sources)


SLA_SOURCES = [Source(SLA_TITLE, SLA_PASSAGE), Source("Home price list", PRICE_DOCUMENT)]


# -- to_api_messages ------------------------------------------------------------------------


def test_to_api_messages_maps_roles_in_order():
    turns = [Turn("user", "Q1"), Turn("agent", "A1"), Turn("user", "Q2")]

    assert to_api_messages(turns) == [{"role": "user", "content": "Q1"},
                                      {"role": "assistant", "content": "A1"},
                                      {"role": "user", "content": "Q2"}]


def test_to_api_messages_drops_leading_agent_turns():
    turns = [Turn("agent", "Welcome."), Turn("agent", "Ask me."), Turn("user", "Q1")]

    assert to_api_messages(turns) == [{"role": "user", "content": "Q1"}]


def test_to_api_messages_joins_consecutive_turns_of_one_role():
    turns = [Turn("user", "Q1"), Turn("user", "Q2"), Turn("agent", "A1"), Turn("agent", "A2"),
             Turn("user", "Q3")]

    messages = to_api_messages(turns)

    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0]["content"] == "Q1\n\nQ2"
    assert messages[1]["content"] == "A1\n\nA2"


def test_to_api_messages_always_alternates_starting_with_user():
    roles = ["agent", "user", "user", "agent", "user", "agent", "agent", "user"]
    messages = to_api_messages([Turn(role, f"t{i}") for i, role in enumerate(roles)])

    api_roles = [m["role"] for m in messages]
    assert api_roles[0] == "user"
    assert all(a != b for a, b in zip(api_roles, api_roles[1:]))


# -- build_request ------------------------------------------------------------------------------


def test_build_request_puts_passages_with_titles_in_the_system_prompt():
    request = build_request(job(passages=[hit(SLA_TITLE, SLA_PASSAGE),
                                          hit("Home price list", PRICE_DOCUMENT, 2)]), 100)

    assert f"[source: {SLA_TITLE}]\n{SLA_PASSAGE}" in request.system
    assert f"[source: Home price list]\n{PRICE_DOCUMENT}" in request.system
    assert request.system.index(SLA_TITLE) < request.system.index("Home price list")


def test_build_request_names_the_data_set():
    request = build_request(job(data_set_name="Plans", passages=[hit("T", "x")]), 100)

    assert '"Plans"' in request.system


def test_build_request_sends_history_then_question():
    request = build_request(job(history=[Turn("user", "Q1"), Turn("agent", "A1")]), 100)

    assert request.messages == [{"role": "user", "content": "Q1"},
                                {"role": "assistant", "content": "A1"},
                                {"role": "user", "content": SLA_QUESTION}]


def test_build_request_carries_sources_and_max_tokens():
    request = build_request(job(passages=[hit(SLA_TITLE, SLA_PASSAGE)]), 321)

    assert request.sources == [Source(SLA_TITLE, SLA_PASSAGE)]
    assert request.max_tokens == 321


def test_build_request_without_passages_says_none_match():
    request = build_request(job(passages=[]), 100)

    assert data_set_qa.NO_PASSAGES in request.system
    assert "[source:" not in request.system


def test_build_request_without_data_set_says_so():
    request = build_request(job(data_set_name=None), 100)

    assert data_set_qa.NO_DATA_SET in request.system
    assert data_set_qa.NO_PASSAGES not in request.system


def test_system_prompt_asks_to_admit_when_the_data_set_lacks_the_answer():
    request = build_request(job(passages=[]), 100)

    assert "does not contain" in request.system


def test_answer_returns_the_providers_reply():
    reply = data_set_qa.answer(job(passages=[hit(SLA_TITLE, SLA_PASSAGE)]), OfflineProvider(), 100)

    assert SLA_SENTENCE in reply.text
    assert reply.model == "parley-offline-extractive"
    assert reply.output_tokens == len(reply.text.split())


# -- the offline model --------------------------------------------------------------------------


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


# -- passages -------------------------------------------------------------------------------------


def test_short_paragraphs_are_merged_into_one_passage():
    assert split_passages("First.\n\nSecond.\n\nThird.") == ["First.\nSecond.\nThird."]


def test_paragraphs_start_a_new_passage_when_full():
    paragraph = "word " * 30  # 150 characters each

    passages = split_passages("\n\n".join([paragraph.strip()] * 3), max_chars=320)

    assert len(passages) == 2
    assert passages[0].count("\n") == 1


def test_long_paragraph_is_split_at_sentence_ends():
    sentences = [f"Sentence number {i} says something about fibre plans." for i in range(40)]

    passages = split_passages(" ".join(sentences), max_chars=200)

    assert len(passages) > 1
    assert all(p.endswith(".") for p in passages)
    assert " ".join(p.replace("\n", " ") for p in passages) == " ".join(sentences)


def test_sentence_longer_than_a_passage_is_cut_hard():
    passages = split_passages("x" * 2000, max_chars=800)

    assert [len(p) for p in passages] == [800, 800, 400]


@pytest.mark.parametrize("max_chars", [50, 200, MAX_PASSAGE_CHARS])
def test_passages_never_exceed_the_maximum(max_chars):
    content = "\n\n".join([SLA_DOCUMENT, "y" * 1000, PRICE_DOCUMENT * 20, "Short."])

    assert all(len(p) <= max_chars for p in split_passages(content, max_chars=max_chars))


def test_whitespace_only_content_has_no_passages():
    assert split_passages(" \n\n \r\n\t ") == []


def test_windows_line_breaks_separate_paragraphs():
    assert split_passages("a " * 300 + "\r\n\r\n" + "b " * 300, max_chars=700) == [
        ("a " * 300).strip(), ("b " * 300).strip()]


# -- search ----------------------------------------------------------------------------------------


def test_query_terms_drop_stop_words():
    assert query_terms(SLA_QUESTION) == ["fiberup", "business", "duplex", "include", "sla"]


def test_query_terms_are_lowercase_and_unique():
    assert query_terms("SLA sla Sla? The SLA! Uptime") == ["sla", "uptime"]


def test_query_terms_of_only_stop_words_are_empty():
    assert query_terms("What is it and how do you do it?") == []


@pytest.fixture
def org_id(app):
    return organizations.create_key("acme")["org_id"]


@pytest.fixture
def plans(org_id):
    data_set = data_sets.create_data_set(org_id, "Plans")
    data_sets.add_document(org_id, data_set.id, "Home price list", PRICE_DOCUMENT)
    data_sets.add_document(org_id, data_set.id, SLA_TITLE, SLA_DOCUMENT)
    return data_set.id


def test_search_ranks_the_sla_passage_first(plans):
    hits = search_passages(plans, SLA_QUESTION, 4)

    assert hits[0].document_title == SLA_TITLE
    assert SLA_SENTENCE in hits[0].text


def test_search_respects_the_limit(plans):
    assert len(search_passages(plans, SLA_QUESTION, 1)) == 1


def test_search_without_matches_is_empty(plans):
    assert search_passages(plans, "What colour is the office cat?", 4) == []


def test_search_of_stop_words_only_is_empty(plans):
    assert search_passages(plans, "what is it?", 4) == []


def test_search_is_scoped_to_the_data_set(org_id, plans):
    other = data_sets.create_data_set(org_id, "Other")
    data_sets.add_document(org_id, other.id, "Other SLA", "The Other plan has an SLA too.")

    titles = {h.document_title for h in search_passages(plans, SLA_QUESTION, 10)}
    other_titles = {h.document_title for h in search_passages(other.id, SLA_QUESTION, 10)}

    assert "Other SLA" not in titles
    assert other_titles == {"Other SLA"}


def test_search_matches_word_forms(plans):
    # "includes" in the document, "include" in the question (porter stemming).
    hits = search_passages(plans, "included", 4)

    assert [h.document_title for h in hits] == [SLA_TITLE]

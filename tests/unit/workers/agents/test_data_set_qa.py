"""The data-set QA agent (workers/agents/data_set_qa.py): the history as API messages,
the request it builds from a job, and its answer through a provider."""

from app.services.agent_io import Turn
from tests.support.agents import SLA_PASSAGE, hit, job
from tests.support.data import PRICE_DOCUMENT, SLA_QUESTION, SLA_SENTENCE, SLA_TITLE
from workers.agents import data_set_qa
from workers.agents.data_set_qa import build_request, to_api_messages
from workers.llm.base import Source
from workers.llm.offline import OfflineProvider


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
                                          hit("Home price list", PRICE_DOCUMENT)]), 100)

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


def test_build_request_without_data_set_asks_for_a_plain_assistant():
    request = build_request(job(data_set_name=None, history=[Turn("user", "Q1"),
                                                             Turn("agent", "A1")]), 100)

    assert request.kind == "chat"
    assert request.system.startswith("You are Parley, a helpful assistant.")
    # No rule to answer only from sources that do not exist.
    assert "Answer only from" not in request.system
    assert "Passages:" not in request.system
    assert [m["role"] for m in request.messages] == ["user", "assistant", "user"]


def test_build_request_without_data_set_keeps_stored_instructions():
    request = build_request(job(data_set_name=None,
                                history=[Turn("system", "Answer in French.")]), 100)

    assert "Answer in French." in request.system


def test_build_request_with_a_data_set_but_no_passage_keeps_the_sources_rule():
    request = build_request(job(data_set_name="Plans", passages=[]), 100)

    assert request.kind == "answer"
    assert "Answer only from the passages below." in request.system


def test_offline_answer_without_data_set_says_how_to_attach_one():
    reply = data_set_qa.answer(job(question="What is the capital of France?",
                                   data_set_name=None), OfflineProvider(), 100)

    assert reply.text.startswith("The offline model answers only from a data set")
    assert "data_set_id" in reply.text
    assert "\u201cAPI: the conversations (polling) face\u201d in the README" in reply.text


def test_system_prompt_asks_to_admit_when_the_data_set_lacks_the_answer():
    request = build_request(job(passages=[]), 100)

    assert "does not contain" in request.system


def test_answer_returns_the_providers_reply():
    reply = data_set_qa.answer(job(passages=[hit(SLA_TITLE, SLA_PASSAGE)]), OfflineProvider(), 100)

    assert SLA_SENTENCE in reply.text
    assert reply.model == "parley-offline-extractive"
    assert reply.output_tokens == len(reply.text.split())

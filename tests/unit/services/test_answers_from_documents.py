"""The offline model's answers over real documents, found the real way: the benchmark's
three documents (bench/qa_data: a product sheet, a policy, a how-to) stored in a data
set, the passages search finds for a question, and the sentence the offline model
quotes first. Each case is one the answerer's rules decide (workers/llm/extractive.py)."""

from pathlib import Path

import pytest

from app.services import data_sets, embeddings, organizations, search
from workers.llm.base import Source
from workers.llm.extractive import answering_sentences

DOCUMENTS = Path(__file__).resolve().parents[3] / "bench" / "qa_data"
hybrid = pytest.mark.skipif(not embeddings.available(),
                            reason="the semantic extra is not installed")
BOTH_MODES = ["fulltext", pytest.param("hybrid", marks=hybrid)]


@pytest.fixture
def data_set_id(app, request):
    app.config["RETRIEVAL_MODE"] = request.param
    org_id = organizations.create_key("bench-documents")["org_id"]
    data_set = data_sets.create_data_set(org_id, "Documents")
    for path in sorted(DOCUMENTS.glob("*.md")):
        data_sets.add_document(org_id, data_set.id, path.stem, path.read_text())
    return data_set.id


def first_quote(data_set_id: int, question: str) -> str | None:
    passages = search.search_passages(data_set_id, question, 4)
    quotes = answering_sentences(question, [Source(p.document_title, p.text)
                                            for p in passages])
    return quotes[0][1] if quotes else None


@pytest.mark.parametrize("data_set_id", BOTH_MODES, indirect=True)
def test_a_word_no_document_uses_does_not_hide_the_sentence_saying_the_rest(data_set_id):
    # "bill" is in no document; "reimburse" (a paraphrase of "pay") and "electricity" are.
    assert first_quote(data_set_id, "Do they reimburse my electricity bill?") == (
        "Northwind does not pay for electricity, heating or furniture other than the chair.")


@pytest.mark.parametrize("data_set_id", BOTH_MODES, indirect=True)
def test_how_many_is_answered_by_the_sentence_that_counts_the_thing(data_set_id):
    # Not the guide's opening "from an unopened box to a working network in 15 minutes".
    assert first_quote(data_set_id, "How many units are in the box?") == (
        "Two Nimbus M3 units (the one with the blue ring is the main unit).")


@pytest.mark.parametrize("data_set_id", BOTH_MODES, indirect=True)
def test_a_row_led_by_a_paraphrase_of_the_question_s_word_goes_first(data_set_id):
    # Not "The portafilter is 58 mm wide", which matches "size" as well.
    assert first_quote(data_set_id, "What size is the machine?") == (
        "Dimensions (W × D × H): 28 × 42 × 38 cm.")


@pytest.mark.parametrize("data_set_id", BOTH_MODES, indirect=True)
def test_a_quoted_list_item_ends_as_a_sentence(data_set_id):
    assert first_quote(data_set_id, "What cables come with it?") == (
        "One Ethernet cable, 1.5 m.")

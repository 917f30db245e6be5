"""Retrieval (app/services/search.py) on SQLite's FTS5: the answering passage first,
within the limit, scoped to the data set, matching word forms.
(tests/integration/test_postgres_schema.py ranks on PostgreSQL's full-text search.)"""

import pytest

from app.services import data_sets, organizations
from app.services.search import search_passages
from tests.support.data import PRICE_DOCUMENT, SLA_DOCUMENT, SLA_QUESTION, SLA_SENTENCE, SLA_TITLE


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


def test_search_finds_a_paraphrase_of_the_question(org_id):
    data_set = data_sets.create_data_set(org_id, "Machines")
    data_sets.add_document(org_id, data_set.id, "Aurora X2",
                           "The Aurora X2 comes with a two-year warranty.")

    hits = search_passages(data_set.id, "How long is the guarantee?", 4)

    assert [hit.document_title for hit in hits] == ["Aurora X2"]


def test_search_ranks_the_question_s_own_word_above_a_paraphrase(org_id):
    data_set = data_sets.create_data_set(org_id, "Machines")
    data_sets.add_document(org_id, data_set.id, "Fees", "The setup fee is waived.")
    data_sets.add_document(org_id, data_set.id, "Price", "The price is 549 euros.")

    hits = search_passages(data_set.id, "What is the price?", 4)

    assert [hit.document_title for hit in hits] == ["Price", "Fees"]

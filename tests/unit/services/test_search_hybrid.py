"""Hybrid retrieval (app/services/search.py with app/services/embeddings.py): passages
stored with their vectors, found by meaning when they share no word with the question,
fused with full text. Needs the semantic extra (`make test` installs it)."""

import logging

import pytest

from app.extensions import db
from app.models import Passage
from app.services import data_sets, embeddings, organizations, search
from app.services.search import search_passages

pytest.importorskip("wordllama", reason="the semantic extra is not installed")

PETS = "Dogs and cats are welcome in the office, on a leash in the corridors."
LUNCH = "The canteen serves lunch from noon to two."
PETS_QUESTION = "Are pets allowed?"


@pytest.fixture
def org_id(app):
    return organizations.create_key("acme")["org_id"]


@pytest.fixture
def hybrid(app):
    app.config["RETRIEVAL_MODE"] = "hybrid"


def office(org_id) -> int:
    data_set = data_sets.create_data_set(org_id, "Office")
    data_sets.add_document(org_id, data_set.id, "Pets", PETS)
    data_sets.add_document(org_id, data_set.id, "Canteen", LUNCH)
    return data_set.id


def test_passages_are_stored_with_their_vectors(org_id, hybrid):
    office(org_id)

    stored = db.session.scalars(db.select(Passage.embedding)).all()

    assert [len(vector) for vector in stored] == [2 * embeddings.DIMENSIONS] * 2


def test_full_text_stores_no_vectors(app, org_id):
    app.config["RETRIEVAL_MODE"] = "fulltext"
    office(org_id)

    assert db.session.scalars(db.select(Passage.embedding)).all() == [None, None]


def test_a_question_sharing_no_word_is_found_by_meaning(app, org_id, hybrid):
    data_set_id = office(org_id)

    hits = search_passages(data_set_id, PETS_QUESTION, 4)

    assert [hit.document_title for hit in hits] == ["Pets"]
    app.config["RETRIEVAL_MODE"] = "fulltext"
    assert search_passages(data_set_id, PETS_QUESTION, 4) == []


def test_passages_stored_before_the_extra_are_found_by_meaning_too(app, org_id):
    app.config["RETRIEVAL_MODE"] = "fulltext"
    data_set_id = office(org_id)
    app.config["RETRIEVAL_MODE"] = "hybrid"

    assert [h.document_title for h in search_passages(data_set_id, PETS_QUESTION, 4)] == [
        "Pets"]


def test_words_and_meaning_are_fused(org_id, hybrid):
    data_set_id = office(org_id)

    hits = search_passages(data_set_id, "When is lunch served in the canteen?", 4)

    assert hits[0].document_title == "Canteen"
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))


def test_an_unrelated_question_finds_nothing(org_id, hybrid):
    data_set_id = office(org_id)

    assert search_passages(data_set_id, "What is the capital of France?", 4) == []


def test_hybrid_without_the_extra_searches_full_text_and_says_why(
        app, org_id, hybrid, monkeypatch, caplog):
    monkeypatch.setattr(embeddings, "available", lambda: False)
    data_set_id = office(org_id)

    with caplog.at_level(logging.WARNING, logger="app.services.search"):
        hits = search_passages(data_set_id, "lunch", 4)

    assert [h.document_title for h in hits] == ["Canteen"]
    assert search.available_modes() == ["fulltext"]
    assert "semantic extra" in caplog.text


def test_vectors_survive_storage():
    vectors = embeddings.embed([PETS, LUNCH])

    restored = embeddings.from_bytes([embeddings.to_bytes(v) for v in vectors])

    assert restored.shape == (2, embeddings.DIMENSIONS)
    assert abs(float(restored[0] @ vectors[0]) - 1.0) < 1e-3

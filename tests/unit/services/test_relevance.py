"""Scoring short texts against a question by their words (app/services/relevance.py):
stems, the words a question is about, paraphrases, and BM25 with coverage."""

from app.services.relevance import (Scorer, Unit, paraphrases_of, question_terms, rank_key,
                                    stems)


def test_word_forms_share_a_stem():
    assert stems("weighs includes heating") == stems("weigh include heats")


def test_stems_leave_stop_words_out():
    assert stems("It is the weight of the machine") == ["weight", "machin"]


def test_question_terms_leave_out_the_words_that_frame_the_question():
    assert question_terms("How long does the setup take, can't you tell me?") == [
        "setup", "take"]


def test_question_terms_keep_what_the_question_is_about():
    assert question_terms("What size is the machine?") == ["size", "machin"]
    assert question_terms("Does the router support Wi-Fi 7?") == [
        "router", "support", "wi", "fi", "7"]


def test_paraphrases_of_a_word_are_its_groups_words():
    assert "warranty" in paraphrases_of("guarantee")
    assert "price" in paraphrases_of("costs")  # by its stem
    assert "guarantee" not in paraphrases_of("guarantee")
    assert paraphrases_of("espresso") == []


def scores(question: str, texts: list[str], **unit) -> list[tuple[float, float]]:
    units = [Unit(text, **unit) for text in texts]
    scorer = Scorer(units, question_terms(question))
    return [scorer.score(u) for u in units]


def test_a_rare_word_outweighs_a_common_one():
    texts = ["The plan is fast.", "The plan is cheap.", "The plan has an SLA."]

    ranked = scores("Does the plan have an SLA?", texts)

    assert max(range(3), key=lambda n: rank_key(ranked[n])) == 2


def test_a_paraphrase_counts_less_than_the_word_itself():
    own, paraphrase = scores("What is the price?", ["The price is 5 euros.",
                                                    "The cost is 5 euros."])

    assert own[0] > paraphrase[0] > 0


def test_coverage_is_the_share_of_the_question_held():
    full, half, none = scores("warranty repairs", ["Warranty repairs are free.",
                                                   "The warranty lasts.", "Nothing here."])

    assert full[1] == 1.0
    assert 0 < half[1] < 1
    assert none == (0.0, 0.0)


def test_a_word_of_the_context_counts_for_part_of_it():
    (in_context, in_text) = [Scorer(units, ["warranti"]).score(u)
                             for units in [[Unit("Two years.", context="Warranty"),
                                            Unit("Two years of warranty.")]]
                             for u in units]

    assert 0 < in_context[1] < in_text[1] == 1.0


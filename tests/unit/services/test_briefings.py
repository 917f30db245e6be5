"""The briefing's rules (app/services/briefings.py): checks, completeness, warnings,
phases and the next question."""

import pytest

from app.services import briefings
from app.services.briefings import Rejected, Resource, Resources

LEGAL = Resource("gls_1", "Legal DE-EN", "de", "en")
RESOURCES = Resources(glossaries=(LEGAL,), style_refs=(Resource("sty_1", "Brand voice"),))
TRANSLATION = {"mode": "translation", "source_lang": "de", "target_lang": "en",
               "text": "Der Vertrag gilt."}


@pytest.mark.parametrize("given, code", [("de", "de"), ("DE", "de"), ("German", "de"),
                                         ("en-GB", "en"), ("pt_BR", "pt")])
def test_a_language_is_taken_as_its_code(given, code):
    assert briefings.check_value("target_lang", given, RESOURCES) == code


@pytest.mark.parametrize("name, value", [
    ("target_lang", "klingon"), ("domain", "astrology"), ("tone", 3),
    ("glossary_id", "gls_other_org"), ("glossary_ids", []), ("style_ref_id", "sty_2"),
    ("text", "   "), ("input_material", {}), ("unknown", "x")])
def test_a_value_the_briefing_does_not_take_is_rejected_with_a_reason(name, value):
    with pytest.raises(Rejected) as rejected:
        briefings.check_value(name, value, RESOURCES)
    assert str(rejected.value)


def test_an_organizations_glossary_is_taken():
    assert briefings.check_value("glossary_id", "gls_1", RESOURCES) == "gls_1"
    assert briefings.check_value("glossary_ids", ["gls_1", "gls_1"], RESOURCES) == ["gls_1"]


def test_completeness_counts_the_modes_required_fields():
    assert briefings.missing_fields(TRANSLATION) == ["domain", "tone"]
    assert briefings.completeness(TRANSLATION) == 0.6
    assert briefings.completeness({**TRANSLATION, "domain": "legal", "tone": "formal"}) == 1.0
    assert briefings.missing_fields({"mode": "creation"}) == [
        "target_lang", "input_material", "content_type", "domain", "tone"]


def test_a_legal_briefing_without_a_glossary_is_warned_about():
    assert briefings.warnings({**TRANSLATION, "domain": "legal"}, RESOURCES) == [
        "Legal domain: consider adding a glossary."]
    assert briefings.warnings({**TRANSLATION, "domain": "legal", "glossary_id": "gls_1"},
                              RESOURCES) == []
    assert briefings.warnings({**TRANSLATION, "domain": "marketing"}, RESOURCES) == []


def test_a_glossary_for_other_languages_is_warned_about():
    found = briefings.warnings({**TRANSLATION, "target_lang": "fr", "glossary_id": "gls_1"},
                               RESOURCES)
    assert found == ["Glossary 'Legal DE-EN' is for English as its target language, the "
                     "briefing's is French."]


def test_phases_advance_and_never_go_back():
    assert briefings.phase_of({"mode": "translation"}) == 1
    assert briefings.phase_of(TRANSLATION) == 2
    complete = {**TRANSLATION, "domain": "legal", "tone": "formal"}
    assert briefings.phase_of(complete, 2) == 3  # resources offered once
    assert briefings.phase_of(complete, 3) == 4
    assert briefings.phase_of({"mode": "translation"}, 2) == 2


def test_the_next_question_asks_for_the_first_missing_field_with_its_buttons():
    question = briefings.next_question(TRANSLATION, 2, RESOURCES)
    assert "domain" in question.text
    assert question.actions[0].as_dict() == {"action": "set_domain", "label": "Marketing",
                                             "payload": {"domain": "marketing"}}


def test_once_complete_resources_are_offered_then_confirm():
    complete = {**TRANSLATION, "domain": "legal", "tone": "formal"}
    offer = briefings.next_question(complete, 3, RESOURCES)
    assert [a.action for a in offer.actions] == ["set_glossary", "set_style_ref", "confirm"]
    assert offer.actions[0].payload == {"glossary_id": "gls_1"}
    ready = briefings.next_question(complete, 4, RESOURCES)
    assert [a.action for a in ready.actions] == ["confirm"]


def test_the_opening_says_what_is_known_then_asks():
    opening = briefings.opening(TRANSLATION, RESOURCES)
    assert opening.text == ("I see you want to translate a German text to English. What "
                            "domain is this for? (e.g., marketing, legal, technical)")
    assert briefings.opening({"mode": "creation"}, RESOURCES).text.startswith(
        "Let's set up your content.")

"""Whole dialogues through the face, as a user would hold them with the offline model:
a legal translation settled in three plain-language turns, confirmed and run with the
organization's Legal glossary; and a product description for a shop."""

import json

import pytest

from tests.support.dialog_sessions import LEGAL_TEXT, LEGAL_WARNING
from workers.agents.jobs import OFFLINE_CREATION_NOTE

pytestmark = pytest.mark.integration

SHOE = {"name": "Trail Runner X", "weight": "240 g", "colour": "blue"}


def test_a_legal_translation_in_three_turns(dialog):
    dialog.glossary("Marketing", [{"source": "Produkt", "target": "product"}])
    legal = dialog.glossary("Legal")
    created = dialog.create(text=LEGAL_TEXT, context={"source_lang": "de",
                                                      "target_lang": "en"})
    session_id = created["session_id"]
    assert "domain" in created["message"]["content"].lower()

    first = dialog.turn(session_id, "It's a legal contract")
    assert first.of("briefing_update") == [{"field": "domain", "value": "legal"}]
    assert first.of("warning") == [{"message": LEGAL_WARNING}]
    assert "tone" in first.done["content"].lower()

    second = dialog.turn(session_id, "formal please")
    assert second.of("briefing_update") == [{"field": "tone", "value": "formal"}]
    assert second.of("phase") == [{"phase": 3}]
    offered = {action["label"]: action["payload"] for action in second.done["actions"]}
    assert offered["Glossary: Legal"] == {"glossary_id": legal["id"]}

    third = dialog.turn(session_id, "use the Legal glossary")
    assert third.of("briefing_update") == [{"field": "glossary_id", "value": legal["id"]}]
    assert "confirm" in [action["action"] for action in third.done["actions"]]

    preview = dialog.preview(session_id)
    assert preview["missing_fields"] == [] and preview["completeness"] == 1.0
    assert preview["warnings"] == []
    assert preview["briefing_json"] == {
        "mode": "translation", "source_lang": "de", "target_lang": "en",
        "text": LEGAL_TEXT, "domain": "legal", "tone": "formal",
        "glossary_id": legal["id"]}
    assert dialog.session(session_id)["message_count"] == 7

    confirmed = dialog.confirm(session_id)
    job = dialog.run_job(confirmed["job_id"])
    assert job["status"] == "completed"
    assert job["briefing"]["glossary_id"] == legal["id"]
    assert job["result"]["glossary_terms_applied"] == [{"source": "Vertrag",
                                                        "target": "agreement"}]
    assert "agreement" in job["result"]["text"]


def test_a_product_description_in_three_turns(dialog):
    created = dialog.create(mode="creation", input_material=SHOE,
                            context={"target_lang": "de"})
    session_id = created["session_id"]
    assert "German" in created["message"]["content"]
    assert {"set_content_type"} == {a["action"] for a in created["message"]["actions"]}

    first = dialog.turn(session_id, "A product description, please.")
    assert {"field": "content_type", "value": "product description"} in \
        first.of("briefing_update")
    dialog.turn(session_id, "It's for our e-commerce shop")
    last = dialog.turn(session_id, "Friendly!")

    preview = dialog.preview(session_id)
    assert preview["missing_fields"] == [] and preview["completeness"] == 1.0
    briefing = preview["briefing_json"]
    assert (briefing["content_type"], briefing["domain"], briefing["tone"]) == (
        "product description", "e-commerce", "friendly")
    assert briefing["input_material"] == SHOE and briefing["target_lang"] == "de"
    assert "confirm" in [action["action"] for action in last.done["actions"]]

    job = dialog.run_job(dialog.confirm(session_id)["job_id"])
    assert job["status"] == "completed" and job["mode"] == "creation"
    assert job["result"]["note"] == OFFLINE_CREATION_NOTE
    assert json.loads(job["result"]["text"]) == SHOE

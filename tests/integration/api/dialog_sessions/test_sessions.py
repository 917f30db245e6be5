"""Dialog sessions (/v1/dialog-sessions): creating one as the spec's example does, reading
it, a preset or a template pre-filling its briefing, cancelling it, its file metadata.
Every test runs on both databases (tests/integration/api/conftest.py)."""

import re
from datetime import datetime, timedelta

import pytest

from tests.support.dialog_sessions import (LEGAL_TEXT, SPEC_EXAMPLE, error, jobs_of,
                                           session_row)

pytestmark = pytest.mark.integration


def instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None and moment.utcoffset() == timedelta(0), text
    return moment


def test_create_answers_the_spec_example_with_its_first_question(dialog, org):
    before = datetime.now().astimezone()
    body = dialog.create(**SPEC_EXAMPLE)
    assert set(body) == {"session_id", "status", "phase", "message"}
    assert re.fullmatch(r"dialog_[0-9a-z]+", body["session_id"]), body
    assert body["status"] == "active" and body["phase"] == 1
    message = body["message"]
    assert set(message) == {"role", "content", "timestamp", "actions"}
    assert message["role"] == "assistant"
    assert "German" in message["content"] and "English" in message["content"]
    assert "domain" in message["content"].lower()
    assert before - timedelta(seconds=5) <= instant(message["timestamp"]) \
        <= datetime.now().astimezone()
    assert message["actions"], message
    for action in message["actions"]:
        assert action["action"] == "set_domain"
        assert set(action["payload"]) == {"domain"} and action["label"]
    domains = [action["payload"]["domain"] for action in message["actions"]]
    assert {"marketing", "legal"} <= set(domains)
    row = session_row(body["session_id"])
    assert row.org_id == org["org_id"] and row.key_id == org["key_id"]
    assert row.status == "active" and row.mode == "translation"


def test_get_shows_the_session_with_its_history(dialog):
    created = dialog.create(**SPEC_EXAMPLE, language="de", file_name="claim.txt",
                            file_type="text/plain", file_preview="Unsere Produkte")
    body = dialog.session(created["session_id"])
    assert body["session_id"] == created["session_id"]
    assert body["status"] == "active" and body["mode"] == "translation"
    assert body["phase"] == 1 and body["language"] == "de"
    assert body["messages"] == [{key: created["message"][key]
                                 for key in ("role", "content", "timestamp")}]
    assert body["message_count"] == 1
    assert body["cost_eur"] == 0
    assert (body["file_name"], body["file_type"], body["file_preview"]) == (
        "claim.txt", "text/plain", "Unsere Produkte")
    created_at, expires_at = instant(body["created_at"]), instant(body["expires_at"])
    # Sessions expire after 24 hours of inactivity.
    assert timedelta(hours=23, minutes=59) <= expires_at - created_at <= timedelta(hours=24,
                                                                                    minutes=1)


def test_get_shows_each_turn_in_order(dialog):
    session_id = dialog.create(**SPEC_EXAMPLE)["session_id"]
    turn = dialog.turn(session_id, "legal")
    body = dialog.session(session_id)
    assert [m["role"] for m in body["messages"]] == ["assistant", "user", "assistant"]
    assert body["messages"][1]["content"] == "legal"
    assert body["messages"][2]["content"] == turn.done["content"]
    assert body["message_count"] == 3 and body["phase"] == 2
    assert body["cost_eur"] == 0


@pytest.mark.parametrize("kind", ["presets", "templates"])
def test_a_preset_or_template_in_context_pre_fills_the_briefing(dialog, kind):
    saved = dialog.add(kind, {"name": "Contracts", "briefing": {
        "source_lang": "de", "target_lang": "en", "domain": "legal", "tone": "formal"}})
    created = dialog.create(context={"preset_id": saved["id"]})
    # Only the text is missing: the opening asks for it, with both languages known.
    assert "German" in created["message"]["content"]
    assert "paste the text" in created["message"]["content"]
    preview = dialog.preview(created["session_id"])
    assert preview["briefing_json"] == {"mode": "translation", "source_lang": "de",
                                        "target_lang": "en", "domain": "legal",
                                        "tone": "formal"}
    assert preview["missing_fields"] == ["text"]


def test_the_request_wins_over_the_preset(dialog):
    preset = dialog.preset({"source_lang": "fr", "target_lang": "en", "tone": "formal"})
    created = dialog.create(text=LEGAL_TEXT, context={"preset_id": preset["id"],
                                                      "source_lang": "de"})
    briefing = dialog.preview(created["session_id"])["briefing_json"]
    assert (briefing["source_lang"], briefing["target_lang"], briefing["tone"]) == (
        "de", "en", "formal")


def test_cancel_answers_the_cancelled_session_and_makes_no_job(dialog):
    session_id = dialog.create(**SPEC_EXAMPLE)["session_id"]
    body = dialog.cancel(session_id)
    assert body["session_id"] == session_id and body["status"] == "cancelled"
    assert dialog.session(session_id)["status"] == "cancelled"
    assert session_row(session_id).status == "cancelled"
    assert jobs_of(session_id) == []


def test_cancel_of_a_complete_session_makes_no_job(dialog):
    session_id = dialog.ready()["session_id"]
    assert dialog.cancel(session_id)["status"] == "cancelled"
    assert jobs_of(session_id) == []
    response = dialog.get("/v1/jobs")
    assert response.status_code == 200 and response.get_json()["data"] == []


def test_patch_metadata_sets_the_file_fields(dialog):
    session_id = dialog.create(**SPEC_EXAMPLE)["session_id"]
    response = dialog.request("PATCH", f"/v1/dialog-sessions/{session_id}/metadata", {
        "file_name": "contract.docx", "file_preview": "Der Vertrag " * 10,
        "file_type": "application/vnd.openxmlformats-officedocument."
                     "wordprocessingml.document"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["session_id"] == session_id and body["status"] == "active"
    assert body["file_name"] == "contract.docx"
    assert body["file_type"].startswith("application/vnd.openxmlformats")
    assert body["file_preview"] == "Der Vertrag " * 10
    assert dialog.session(session_id)["file_name"] == "contract.docx"
    # A field not given is kept.
    response = dialog.request("PATCH", f"/v1/dialog-sessions/{session_id}/metadata",
                              {"file_preview": "Hallo"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["file_name"], body["file_preview"]) == ("contract.docx", "Hallo")


def test_an_unknown_path_under_v1_answers_the_faces_error_body(dialog):
    error(dialog.get("/v1/no-such-thing"), 404)

"""The briefing preview and confirm (GET .../briefing-preview, POST .../confirm):
completeness, missing fields and warnings; a complete briefing becoming one job,
idempotently, even under concurrent confirms; saving it as a template."""

import re
import threading

import pytest

from tests.support.dialog_sessions import (LEGAL_TEXT, LEGAL_WARNING, SPEC_EXAMPLE, error,
                                           jobs_of, session_row)

pytestmark = pytest.mark.integration


def test_preview_of_the_spec_example(dialog):
    session_id = dialog.create(**SPEC_EXAMPLE)["session_id"]
    body = dialog.preview(session_id)
    assert body["briefing_json"] == {"mode": "translation", "source_lang": "de",
                                     "target_lang": "en", "text": SPEC_EXAMPLE["text"]}
    assert body["completeness"] == pytest.approx(0.6)
    assert body["missing_fields"] == ["domain", "tone"]
    assert body["warnings"] == []


def test_preview_of_a_legal_briefing_without_a_glossary_warns(dialog):
    body = dialog.preview(dialog.ready()["session_id"])
    assert body["briefing_json"] == {"mode": "translation", "source_lang": "de",
                                     "target_lang": "en", "text": LEGAL_TEXT,
                                     "domain": "legal", "tone": "formal"}
    assert body["completeness"] == 1.0 and body["missing_fields"] == []
    assert body["warnings"] == [LEGAL_WARNING]


def test_preview_with_a_glossary_has_no_warning(dialog):
    glossary = dialog.glossary()
    body = dialog.preview(dialog.ready(glossary["id"])["session_id"])
    assert body["briefing_json"]["glossary_id"] == glossary["id"]
    assert body["warnings"] == []


def test_confirm_creates_a_queued_job(dialog):
    session_id = dialog.ready()["session_id"]
    body = dialog.confirm(session_id)
    assert set(body) == {"session_id", "status", "job_id", "job_status", "template_id"}
    assert body["session_id"] == session_id and body["status"] == "confirmed"
    assert re.fullmatch(r"job_[0-9a-z]+", body["job_id"]), body
    assert body["job_status"] == "queued" and body["template_id"] is None
    assert dialog.session(session_id)["status"] == "confirmed"
    assert [job.public_id for job in jobs_of(session_id)] == [body["job_id"]]


def test_the_job_keeps_the_briefing_it_was_confirmed_with(dialog):
    session_id = dialog.ready()["session_id"]
    preview = dialog.preview(session_id)
    job = dialog.job(dialog.confirm(session_id)["job_id"])
    assert job["session_id"] == session_id and job["status"] == "queued"
    assert job["result"] is None and job["error"] is None
    assert job["mode"] == "translation"
    assert job["briefing"] == preview["briefing_json"]


def test_confirm_with_save_as_template_saves_a_template(dialog):
    session_id = dialog.ready()["session_id"]
    body = dialog.confirm(session_id, save_as_template=True,
                          template_name="Contracts DE-EN")
    assert re.fullmatch(r"tpl_[0-9a-z]+", body["template_id"] or ""), body
    template = dialog.get(f"/v1/templates/{body['template_id']}")
    assert template.status_code == 200, template.get_json()
    template = template.get_json()
    assert template["id"] == body["template_id"] and template["name"] == "Contracts DE-EN"
    assert template["briefing"]["domain"] == "legal"
    assert template["briefing"]["tone"] == "formal"
    assert template["briefing"]["target_lang"] == "en"
    assert dialog.job(body["job_id"])["template_id"] == body["template_id"]


def test_a_saved_template_starts_the_next_session(dialog):
    first = dialog.ready()["session_id"]
    template_id = dialog.confirm(first, save_as_template=True)["template_id"]
    created = dialog.create(context={"preset_id": template_id})
    preview = dialog.preview(created["session_id"])
    assert preview["briefing_json"]["domain"] == "legal"
    assert preview["briefing_json"]["tone"] == "formal"


def test_confirm_of_an_incomplete_briefing_is_422_naming_the_missing_fields(dialog):
    session_id = dialog.create(**SPEC_EXAMPLE)["session_id"]
    response = dialog.post(f"/v1/dialog-sessions/{session_id}/confirm", {})
    body = error(response, 422)
    assert body["details"]["missing_fields"] == ["domain", "tone"]
    assert session_row(session_id).status == "active"
    assert jobs_of(session_id) == []


def test_a_second_confirm_answers_the_same_job(dialog):
    session_id = dialog.ready()["session_id"]
    first = dialog.confirm(session_id)
    second = dialog.confirm(session_id)
    assert second["job_id"] == first["job_id"]
    assert second["status"] == "confirmed" and second["session_id"] == session_id
    assert len(jobs_of(session_id)) == 1


def test_a_second_confirm_with_save_as_template_saves_no_second_template(dialog):
    session_id = dialog.ready()["session_id"]
    first = dialog.confirm(session_id, save_as_template=True)
    second = dialog.confirm(session_id, save_as_template=True)
    assert second["template_id"] == first["template_id"]
    listed = dialog.get("/v1/templates").get_json()["data"]
    assert [template["id"] for template in listed] == [first["template_id"]]


def test_concurrent_confirms_make_one_job(app, dialog, auth):
    session_id = dialog.ready()["session_id"]
    clients = 8
    barrier = threading.Barrier(clients)
    answers: list = [None] * clients

    def confirm(number: int) -> None:
        try:
            with app.app_context():
                client = app.test_client()
                barrier.wait(timeout=10)
                response = client.post(f"/v1/dialog-sessions/{session_id}/confirm",
                                       json={}, headers=auth)
                answers[number] = (response.status_code, response.get_json())
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            answers[number] = (None, repr(exc))

    threads = [threading.Thread(target=confirm, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert [status for status, _ in answers] == [200] * clients, answers
    job_ids = {body["job_id"] for _, body in answers}
    assert len(job_ids) == 1, answers
    assert [job.public_id for job in jobs_of(session_id)] == list(job_ids)

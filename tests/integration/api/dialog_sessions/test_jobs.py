"""Jobs (GET /v1/jobs, GET /v1/jobs/{id}): what a confirmed briefing becomes, run
in-process with the offline model as a worker would, and the caller's jobs paged by
cursor."""

import pytest

from tests.support.dialog_sessions import LEGAL_TEXT, error
from workers.agents.jobs import OFFLINE_TRANSLATION_NOTE

pytestmark = pytest.mark.integration


@pytest.fixture
def confirmed(dialog) -> dict:
    """A complete legal briefing with the Legal glossary, confirmed."""
    glossary = dialog.glossary()
    session_id = dialog.ready(glossary["id"])["session_id"]
    return dialog.confirm(session_id)


def test_a_job_run_by_the_offline_model_is_completed_with_its_note(dialog, confirmed):
    job = dialog.run_job(confirmed["job_id"])
    assert job["status"] == "completed" and job["error"] is None
    assert job["session_id"] == confirmed["session_id"]
    result = job["result"]
    assert result["note"] == OFFLINE_TRANSLATION_NOTE
    assert result["model_available"] is False and result["translated"] is False
    assert (result["source_lang"], result["target_lang"]) == ("de", "en")
    assert job["cost_eur"] == 0


def test_a_jobs_result_lists_the_glossary_terms_it_applied(dialog, confirmed):
    result = dialog.run_job(confirmed["job_id"])["result"]
    # "Vertrag" is in the text, "Haftung" is not.
    assert result["glossary_terms_applied"] == [{"source": "Vertrag",
                                                 "target": "agreement"}]
    assert result["text"] == LEGAL_TEXT.replace("Vertrag", "agreement")


def test_the_session_costs_nothing_with_the_offline_model(dialog, confirmed):
    dialog.run_job(confirmed["job_id"])
    assert dialog.session(confirmed["session_id"])["cost_eur"] == 0


def test_jobs_are_listed_newest_first_by_cursor(dialog):
    older = dialog.confirm(dialog.ready()["session_id"])["job_id"]
    newer = dialog.confirm(dialog.ready()["session_id"])["job_id"]
    first = dialog.get("/v1/jobs", limit=1)
    assert first.status_code == 200, first.get_json()
    first = first.get_json()
    assert [job["job_id"] for job in first["data"]] == [newer]
    assert first["has_more"] is True and first["next_cursor"]
    second = dialog.get("/v1/jobs", limit=1, after=first["next_cursor"]).get_json()
    assert [job["job_id"] for job in second["data"]] == [older]
    assert second["has_more"] is False and second["next_cursor"] is None


def test_jobs_of_another_organization_are_not_listed(dialog, stranger):
    dialog.confirm(dialog.ready()["session_id"])
    assert stranger.get("/v1/jobs").get_json()["data"] == []


def test_a_job_of_another_organization_is_404(dialog, stranger, confirmed):
    error(stranger.get(f"/v1/jobs/{confirmed['job_id']}"), 404)


def test_an_unknown_job_is_404(dialog):
    error(dialog.get("/v1/jobs/job_0000000000000000"), 404)

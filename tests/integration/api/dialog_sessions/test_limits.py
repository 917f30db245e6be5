"""Limits answered 429: a session's message cap (confirm or cancel it), the
organization's monthly sessions (with Retry-After) and its parallel active sessions."""

from datetime import datetime, timedelta

import pytest

from tests.support.dialog_sessions import (SPEC_EXAMPLE, count_messages, count_tasks, error,
                                           expire_now, session_row)

pytestmark = pytest.mark.integration


def test_the_message_cap_of_a_session_is_429(app, dialog, org):
    app.config["DIALOG_MAX_MESSAGES"] = 2
    session_id = dialog.create(**SPEC_EXAMPLE)["session_id"]
    dialog.send(session_id, "legal")
    dialog.send(session_id, "formal")
    tasks = count_tasks(org["org_id"])
    response = dialog.post(f"/v1/dialog-sessions/{session_id}/messages",
                           {"message": "and a glossary"})
    detail = error(response, 429, "message_limit")
    assert "confirm or cancel" in detail["message"]
    assert count_messages(session_id) == 3
    assert count_tasks(org["org_id"]) == tasks
    assert session_row(session_id).user_messages == 2


def test_a_capped_session_can_still_be_confirmed(app, dialog):
    app.config["DIALOG_MAX_MESSAGES"] = 1
    session_id = dialog.ready()["session_id"]
    dialog.turn(session_id, "formal")
    error(dialog.post(f"/v1/dialog-sessions/{session_id}/messages", {"message": "x"}), 429)
    assert dialog.confirm(session_id)["status"] == "confirmed"


def test_the_monthly_session_cap_is_429_with_retry_after(app, dialog, org):
    app.config["DIALOG_MONTHLY_SESSIONS"] = 2
    for _ in range(2):  # cancelled: they still count for the month
        dialog.cancel(dialog.create(**SPEC_EXAMPLE)["session_id"])
    response = dialog.post("/v1/dialog-sessions", SPEC_EXAMPLE)
    error(response, 429, "monthly_session_limit")
    retry_after = int(response.headers["Retry-After"])
    now = datetime.now().astimezone()
    next_month = (now.replace(day=28) + timedelta(days=4)).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0)
    assert 0 < retry_after <= 31 * 86_400
    # Until the start of next month (UTC), within a minute.
    assert abs(now + timedelta(seconds=retry_after) - next_month) < timedelta(minutes=1)


def test_the_parallel_session_cap_is_429(app, dialog):
    app.config["DIALOG_PARALLEL_SESSIONS"] = 2
    first = dialog.create(**SPEC_EXAMPLE)["session_id"]
    dialog.create(**SPEC_EXAMPLE)
    response = dialog.post("/v1/dialog-sessions", SPEC_EXAMPLE)
    error(response, 429, "parallel_session_limit")
    dialog.cancel(first)  # a place is free again
    assert dialog.create(**SPEC_EXAMPLE)["status"] == "active"


def test_an_expired_session_frees_its_parallel_place(app, dialog):
    app.config["DIALOG_PARALLEL_SESSIONS"] = 1
    expire_now(dialog.create(**SPEC_EXAMPLE)["session_id"])
    assert dialog.create(**SPEC_EXAMPLE)["status"] == "active"

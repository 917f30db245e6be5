"""Sessions that are no longer active: confirmed, cancelled, or expired (idle past
expires_at, and marked so by the beat task) answer 409 to messages, confirm, cancel and
metadata, and change nothing. Confirming a confirmed session is not a conflict: it
answers its job (tests in test_confirm.py)."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from app.extensions import db
from app.models import DialogSession
from app.services import dialog_sessions
from tests.support.dialog_sessions import (SPEC_EXAMPLE, count_messages, count_tasks, error,
                                           expire_now, jobs_of, session_row)
from workers.tasks import expire_dialog_sessions

pytestmark = pytest.mark.integration

ROUTES = {
    "messages": ("POST", "/v1/dialog-sessions/{id}/messages", {"message": "formal"}),
    "confirm": ("POST", "/v1/dialog-sessions/{id}/confirm", {}),
    "metadata": ("PATCH", "/v1/dialog-sessions/{id}/metadata", {"file_name": "b.txt"}),
    "cancel": ("POST", "/v1/dialog-sessions/{id}/cancel", None),  # last: see below
}
STATES = ["confirmed", "cancelled", "expired", "expired-by-beat"]


def in_the_future(session_id: str) -> None:
    db.session.execute(update(DialogSession).where(DialogSession.public_id == session_id)
                       .values(expires_at=datetime.now().astimezone() + timedelta(hours=1)))
    db.session.commit()


def ended(dialog, state: str) -> str:
    """A complete session, brought into `state`; its id."""
    session_id = dialog.ready()["session_id"]
    if state == "confirmed":
        dialog.confirm(session_id)
    elif state == "cancelled":
        dialog.cancel(session_id)
    elif state == "expired":
        expire_now(session_id)
    else:  # marked expired by the beat, then given time again: the row's status counts
        expire_now(session_id)
        assert expire_dialog_sessions.apply().get()["expired"] >= 1
        in_the_future(session_id)
    return session_id


@pytest.mark.parametrize("state", STATES)
def test_a_session_no_longer_active_is_409_and_unchanged(dialog, org, state):
    """messages, confirm, metadata, then cancel (last, so that a cancel wrongly taken
    cannot hide another answer); a confirmed session's confirm is its job, not a 409."""
    session_id = ended(dialog, state)
    before = session_row(session_id)
    status, jobs = before.status, len(jobs_of(session_id))
    messages, tasks = count_messages(session_id), count_tasks(org["org_id"])
    for route in ROUTES:
        if (state, route) == ("confirmed", "confirm"):
            continue
        method, path, body = ROUTES[route]
        response = dialog.request(method, path.format(id=session_id), body)
        assert response.status_code == 409, (route, response.get_json())
        error(response, 409, "session_not_active")
        after = session_row(session_id)
        assert (after.status, after.file_name) == (status, None), route
        assert len(jobs_of(session_id)) == jobs, route
        assert count_messages(session_id) == messages, route
        assert count_tasks(org["org_id"]) == tasks, route


def test_a_session_past_its_expiry_reads_expired(dialog):
    session_id = dialog.create(**SPEC_EXAMPLE)["session_id"]
    expire_now(session_id)
    assert dialog.session(session_id)["status"] == "expired"
    assert dialog.preview(session_id)["status"] == "expired"


def test_the_beat_task_marks_idle_sessions_expired(dialog):
    idle = dialog.create(**SPEC_EXAMPLE)["session_id"]
    busy = dialog.create(**SPEC_EXAMPLE)["session_id"]
    expire_now(idle)
    assert expire_dialog_sessions.apply().get()["expired"] >= 1
    assert session_row(idle).status == "expired"
    assert session_row(busy).status == "active"
    assert dialog.session(idle)["status"] == "expired"


def test_expire_idle_leaves_confirmed_and_cancelled_sessions_alone(dialog):
    confirmed, cancelled = dialog.ready()["session_id"], dialog.ready()["session_id"]
    dialog.confirm(confirmed)
    dialog.cancel(cancelled)
    expire_now(confirmed)
    expire_now(cancelled)
    dialog_sessions.expire_idle()
    assert session_row(confirmed).status == "confirmed"
    assert session_row(cancelled).status == "cancelled"


def test_a_message_moves_the_expiry_on(dialog):
    session_id = dialog.create(**SPEC_EXAMPLE)["session_id"]
    db.session.execute(update(DialogSession).where(DialogSession.public_id == session_id)
                       .values(expires_at=datetime.now().astimezone() + timedelta(minutes=5)))
    db.session.commit()
    dialog.send(session_id, "legal")
    left = session_row(session_id).expires_at - datetime.now().astimezone()
    assert timedelta(hours=23) < left <= timedelta(hours=24)

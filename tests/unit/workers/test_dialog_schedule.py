"""The dialog sessions' work as the worker and beat are configured to run it: the
expiry of idle sessions (and of idempotency keys) is on beat's schedule, on the
maintenance queue; turns and jobs have their entry points, jobs on a queue of their
own."""

from datetime import timedelta

from sqlalchemy import select, update

from app.models import DialogSession, IdempotencyKey
from app.models.base import utcnow
from app.services import dialog_sessions, idempotency, task_kinds
from app.services.organizations import Caller


def test_beat_runs_the_expiry_of_idle_sessions_on_the_maintenance_queue(app):
    celery = app.extensions["celery"]
    entry = celery.conf.beat_schedule[task_kinds.EXPIRE_SESSIONS_TASK]
    assert entry["schedule"] == app.config["DIALOG_EXPIRY_INTERVAL_SECONDS"]
    assert celery.conf.task_routes[task_kinds.EXPIRE_SESSIONS_TASK] == {
        "queue": task_kinds.MAINTENANCE_QUEUE}


def test_turns_run_with_replies_and_jobs_on_their_own_queue(app):
    routes = app.extensions["celery"].conf.task_routes
    assert routes["parley.briefing"] == {"queue": "replies"}
    assert routes["parley.job"] == {"queue": "jobs"}
    assert "jobs" in task_kinds.QUEUES


def test_the_beat_task_marks_idle_sessions_expired(app, db, org_key):
    from workers.tasks import expire_dialog_sessions

    caller = Caller(org_key["org_id"], org_key["key_id"])
    idle = dialog_sessions.create(caller, "translation").session.public_id
    fresh = dialog_sessions.create(caller, "translation").session.public_id
    db.session.execute(update(DialogSession).where(DialogSession.public_id == idle)
                       .values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()

    assert expire_dialog_sessions.apply().get()["expired"] == 1
    assert dialog_sessions.owned(caller, idle).status == "expired"
    assert dialog_sessions.owned(caller, fresh).status == "active"


def test_the_beat_task_deletes_expired_idempotency_keys(app, db, org_key):
    from workers.tasks import expire_dialog_sessions

    fingerprint = idempotency.fingerprint("POST", "/api/data_sets", [], "", b"")
    for key in ("old", "fresh"):
        idempotency.begin(org_key["org_id"], key, fingerprint)
    db.session.execute(update(IdempotencyKey).where(IdempotencyKey.key == "old")
                       .values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()

    assert expire_dialog_sessions.apply().get()["idempotency_keys_deleted"] == 1
    assert db.session.scalars(select(IdempotencyKey.key)).all() == ["fresh"]

"""The per-organization cap on model work in flight (ORG_MAX_IN_FLIGHT,
app/services/tasks.py) on SQLite: a claim beyond the cap holds the task, unpublished;
the organization's next task to end, or be given back, publishes it; the sweep wakes a
held task whose wake-up was lost, and never publishes one while the cap is full."""

import pytest
from sqlalchemy import update

from app.models import Task
from app.services import presence, tasks, webhook_events
from tests.support.data import ask, setup_conversation

CAP = 2


@pytest.fixture(autouse=True)
def capped(app):
    app.config["ORG_MAX_IN_FLIGHT"] = CAP


@pytest.fixture
def sent(app, monkeypatch):
    """The task ids of every publish, one at a time or over one connection."""
    calls = []
    monkeypatch.setattr(app.extensions["celery"], "send_task",
                        lambda name, args=None, task_id=None, **_: calls.append(task_id))
    return calls


def questions(client, auth, count: int) -> list[str]:
    """`count` questions, each in a conversation of its own (so none waits its turn)."""
    return [ask(client, auth, setup_conversation(client, auth)) for _ in range(count)]


def row(db, task_id) -> Task:
    db.session.expire_all()
    return db.session.get(Task, task_id)


def test_a_claim_beyond_the_cap_holds_the_task(db, client, auth):
    first, second, third = questions(client, auth, CAP + 1)

    assert tasks.claim(first, "w1") is not None
    assert tasks.claim(second, "w1") is not None
    assert tasks.claim(third, "w1") is None

    held = row(db, third)
    assert held.state == "PENDING"
    assert held.held_since is not None and held.published_at is None
    assert held.worker is None


def test_a_held_task_reads_as_queued(client, auth):
    for task_id in questions(client, auth, CAP):
        tasks.claim(task_id, "w1")
    (waiting,) = questions(client, auth, 1)
    tasks.claim(waiting, "w1")

    status = client.get(f"/api/task_status/{waiting}", headers=auth).get_json()

    assert (status["state"], status["stage"]) == ("PENDING", "queued")


def test_another_organization_has_its_own_share(db, client, auth, other_auth):
    for task_id in questions(client, auth, CAP):
        assert tasks.claim(task_id, "w1") is not None

    theirs = questions(client, other_auth, CAP)
    assert all(tasks.claim(task_id, "w1") is not None for task_id in theirs)


def test_a_finished_task_publishes_the_longest_held_one(db, client, auth, sent):
    running = questions(client, auth, CAP)
    claims = [tasks.claim(task_id, "w1") for task_id in running]
    waiting = questions(client, auth, 2)
    assert [tasks.claim(task_id, "w1") for task_id in waiting] == [None, None]
    sent.clear()

    finished = tasks.finish(claims[0], tasks.SUCCESS)
    tasks.publish_after(finished)

    assert sent == [waiting[0]]  # the slot goes to the first held, and only to it
    assert row(db, waiting[0]).published_at is not None
    assert row(db, waiting[1]).published_at is None
    taken = tasks.claim(waiting[0], "w2")
    assert taken is not None and row(db, waiting[0]).held_since is None


def test_a_woken_task_carries_the_request_id_that_caused_it(app, client, auth,
                                                             monkeypatch):
    claims = [tasks.claim(task_id, "w1") for task_id in questions(client, auth, CAP)]
    waiting = ask(client, {**auth, "X-Request-Id": "req-held-1"},
                  setup_conversation(client, auth))
    assert tasks.claim(waiting, "w1") is None
    headers = {}
    monkeypatch.setattr(app.extensions["celery"], "send_task",
                        lambda name, args=None, task_id=None, **options:
                        headers.update({task_id: options["headers"]}))

    with app.test_request_context(headers={"X-Request-Id": "req-of-another"}):
        tasks.publish_after(tasks.finish(claims[0], tasks.SUCCESS))

    assert headers[waiting][tasks.REQUEST_ID_HEADER] == "req-held-1"


def test_a_task_given_back_to_retry_frees_its_slot(db, client, auth, sent):
    claims = [tasks.claim(task_id, "w1") for task_id in questions(client, auth, CAP)]
    (waiting,) = questions(client, auth, 1)
    assert tasks.claim(waiting, "w1") is None
    sent.clear()

    assert tasks.release(claims[0], "retrying after: 529")

    assert sent == [waiting]


def test_a_woken_task_that_finds_the_slot_taken_is_held_again_keeping_its_place(
        db, client, auth):
    claims = [tasks.claim(task_id, "w1") for task_id in questions(client, auth, CAP)]
    first_held, second_held = questions(client, auth, 2)
    tasks.claim(first_held, "w1"), tasks.claim(second_held, "w1")
    since = row(db, first_held).held_since
    tasks.finish(claims[0], tasks.SUCCESS)  # wakes first_held
    (newcomer,) = questions(client, auth, 1)
    assert tasks.claim(newcomer, "w1") is not None  # takes the freed slot first

    assert tasks.claim(first_held, "w1") is None
    assert row(db, first_held).held_since == since


def test_the_sweep_wakes_held_tasks_of_an_organization_with_free_slots(db, client, auth,
                                                                        sent):
    claims = [tasks.claim(task_id, "w1") for task_id in questions(client, auth, CAP)]
    waiting = questions(client, auth, 3)
    for task_id in waiting:
        tasks.claim(task_id, "w1")
    # The running tasks end, but their wake-ups are lost (say, the worker died).
    db.session.execute(update(Task).where(Task.id.in_([c.task_id for c in claims]))
                       .values(state="SUCCESS", worker=None))
    db.session.commit()
    sent.clear()

    result = tasks.sweep()

    assert result["woken"] == CAP
    assert sent == waiting[:CAP]


def test_the_sweep_leaves_held_tasks_alone_while_the_cap_is_full(db, client, auth, sent,
                                                                  app):
    app.config["UNPUBLISHED_GRACE_SECONDS"] = 0
    beat = presence.Heartbeat(app.extensions["task_events"].client, interval=60).start()
    for task_id in questions(client, auth, CAP):  # running on a live worker
        tasks.claim(task_id, presence.this_worker())
    (waiting,) = questions(client, auth, 1)
    tasks.claim(waiting, presence.this_worker())
    sent.clear()

    result = tasks.sweep()
    beat.stop()

    assert (result["woken"], result["unpublished"]) == (0, 0)
    assert sent == []


def test_a_held_task_can_be_canceled(db, client, auth, org_key):
    for task_id in questions(client, auth, CAP):
        tasks.claim(task_id, "w1")
    (waiting,) = questions(client, auth, 1)
    tasks.claim(waiting, "w1")

    assert tasks.cancel(org_key["org_id"], waiting) == tasks.ENDED_NOW
    ended = row(db, waiting)
    assert (ended.state, ended.held_since) == ("FAILURE", None)


def test_without_a_cap_nothing_is_held(app, db, client, auth):
    app.config["ORG_MAX_IN_FLIGHT"] = 0
    assert all(tasks.claim(task_id, "w1") is not None
               for task_id in questions(client, auth, CAP + 2))


def test_the_kinds_that_call_the_model_count_and_webhook_deliveries_do_not(app):
    capped = set(app.config["ORG_CAPPED_KINDS"])
    assert {"reply", "batch_reply", "compact", "briefing", "job"} <= capped
    assert webhook_events.DELIVERY_KIND not in capped

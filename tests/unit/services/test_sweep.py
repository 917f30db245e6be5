"""The sweep (app/services/tasks.py) on SQLite, a fake Redis and a recorded broker:
what a dead worker held or was to publish is taken back at once; Redis restarted empty
gets every queued task again; messages a dead worker never started are put back."""

import time

import pytest
from sqlalchemy import update

from app.models import Task
from app.services import presence, tasks
from tests.support.data import ask

WORKER = "gone-host:1:dead"


@pytest.fixture
def redis(app):
    """The fake Redis of the app's task events (holding its data for an hour)."""
    return app.extensions["task_events"].client


@pytest.fixture
def task_id(client, auth, conversation_id):
    return ask(client, auth, conversation_id)


def row(db, task_id) -> Task:
    db.session.expire_all()
    return db.session.get(Task, task_id)


def claimed_by(db, task_id, worker):
    held = tasks.claim(task_id, worker)
    assert held is not None
    return held


def test_a_dead_workers_task_is_queued_again_at_once(app, db, redis, sent, task_id):
    claimed_by(db, task_id, WORKER)
    sent.clear()

    result = tasks.sweep()

    assert result["abandoned"] == 1
    task = row(db, task_id)
    assert (task.state, task.error) == ("PENDING", "re-queued: its worker stopped")
    assert task.worker == presence.this_worker()  # the sweep publishes it
    assert sent == [("parley.reply", task_id)]


def test_a_live_workers_task_is_left_alone(app, db, redis, sent, task_id):
    beat = presence.Heartbeat(redis, interval=60).start()
    claimed_by(db, task_id, presence.this_worker())

    assert tasks.sweep()["abandoned"] == 0
    assert row(db, task_id).state == "STARTED"
    beat.stop()


def test_the_old_claim_of_a_requeued_task_can_no_longer_store(app, db, redis, sent, task_id):
    old = claimed_by(db, task_id, WORKER)
    tasks.sweep()

    assert tasks.finish(old, tasks.SUCCESS, write=lambda: pytest.fail("stored")) is None
    assert row(db, task_id).state == "PENDING"


def test_a_hand_over_its_dead_publisher_never_sent_is_sent(app, db, redis, sent, client,
                                                          auth, conversation_id):
    ask(client, auth, conversation_id)
    waiting = ask(client, auth, conversation_id, "And the price?")
    # As a worker that finished the first question and died before publishing the next.
    db.session.execute(update(Task).where(Task.id == waiting).values(worker=WORKER))
    db.session.commit()
    sent.clear()

    tasks.sweep()

    assert sent == [("parley.reply", waiting)]


def test_heartbeats_are_not_judged_in_a_redis_just_restarted_empty(app, db, sent, task_id):
    claimed_by(db, task_id, WORKER)
    app.extensions["task_events"].client.flushall()

    result = tasks.sweep()

    assert result["abandoned"] == 0
    assert row(db, task_id).state == "STARTED"


def test_every_queued_task_is_published_again_when_redis_restarted_empty(
        app, db, sent, client, auth, conversation_id, data_set_id):
    first = ask(client, auth, conversation_id)
    other = client.post("/api/conversations", json={"data_set_id": data_set_id},
                        headers=auth).get_json()["id"]
    second = ask(client, auth, other)
    waiting = ask(client, auth, other, "And the price?")  # not its turn: stays unpublished
    app.extensions["task_events"].client.flushall()
    sent.clear()

    result = tasks.sweep()

    assert sorted(task_id for _, task_id in sent) == sorted([first, second])
    assert result["unpublished"] == 2 and waiting not in [t for _, t in sent]


class Broker:
    """Stands in for app/broker.py: messages held unacknowledged, by task id."""

    def __init__(self, held: dict[str, str]):
        self.held, self.restored = held, []

    def stranded_messages(self, older_than):
        return self.held

    def restore(self, tags):
        self.restored += list(tags)


def test_messages_held_for_queued_tasks_are_put_back(app, db, redis, sent, client, auth,
                                                      conversation_id, data_set_id):
    queued = ask(client, auth, conversation_id)
    other = client.post("/api/conversations", json={"data_set_id": data_set_id},
                        headers=auth).get_json()["id"]
    running = ask(client, auth, other)
    presence.Heartbeat(redis, interval=60).start()
    claimed_by(db, running, presence.this_worker())
    redis.zadd("parley:workers", {WORKER: time.time() - 60})  # a worker that died
    broker = Broker({queued: "tag-queued", running: "tag-running"})

    result = tasks.sweep(broker)

    assert broker.restored == ["tag-queued"] and result["restored"] == 1


def test_no_message_is_put_back_while_every_worker_lives(app, db, redis, sent, task_id):
    presence.Heartbeat(redis, interval=60).start()
    broker = Broker({task_id: "tag-queued"})  # a claim slowed by the database, say

    assert tasks.sweep(broker)["restored"] == 0 and broker.restored == []

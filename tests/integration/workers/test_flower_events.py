"""What Flower sees: the reply task announces itself by name, with ids as arguments and
the id of the request that caused it."""

import threading

import pytest

from tests.support.data import ask, setup_conversation

pytestmark = pytest.mark.integration
EVENT_TIMEOUT_SECONDS = 30


def capture_events(celery_app, until: threading.Event, events: list, ready: threading.Event):
    def record(event):
        events.append(event)
        if event["type"] == "task-succeeded":
            until.set()

    with celery_app.connection() as connection:
        receiver = celery_app.events.Receiver(connection, handlers={"*": record})
        consumer = receiver.itercapture(limit=None, timeout=EVENT_TIMEOUT_SECONDS, wakeup=False)
        next(consumer)  # the queue is bound: events from now on are ours
        ready.set()
        for _ in consumer:
            if until.is_set():
                return


def test_reply_task_is_named_and_carries_only_ids(offline_stack):
    celery_app = offline_stack.app.extensions["celery"]
    events, done, ready = [], threading.Event(), threading.Event()
    listener = threading.Thread(target=capture_events, daemon=True,
                                args=(celery_app, done, events, ready))
    listener.start()
    assert ready.wait(10)

    auth = offline_stack.new_org()
    task_id = ask(offline_stack.client, {**auth, "X-Request-Id": "req-flower-1"},
                  setup_conversation(offline_stack.client, auth))
    offline_stack.wait_for_task(auth, task_id)
    assert done.wait(EVENT_TIMEOUT_SECONDS)

    ours = {e["type"]: e for e in events if e.get("uuid") == task_id}
    assert {"task-sent", "task-received", "task-started", "task-succeeded"} <= set(ours)
    assert ours["task-received"]["name"] == "parley.reply"
    assert ours["task-received"]["args"] == repr([task_id])
    assert "FiberUP" not in ours["task-received"]["args"] + ours["task-received"]["kwargs"]
    # The request that caused it, shown as its kwargs (its real arguments are its id).
    assert ours["task-sent"]["kwargs"] == ours["task-received"]["kwargs"] == repr(
        {"request_id": "req-flower-1"})

"""What Flower sees: the reply task announces itself by name, with ids as arguments and
the id of the request that caused it; and Flower itself, run as `parley up` runs it,
shows it through its HTTP API, with the worker and every queue."""

import base64
import json
import threading
import time
import urllib.error
import urllib.request

import pytest

from app.services import task_kinds
from tests.support.data import SLA_QUESTION, ask, setup_conversation
from tests.support.processes import free_port, start_flower, stop_process

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


FLOWER_LOGIN = ("admin", "flower-test-password")


class Flower:
    """Flower's HTTP API, with its basic auth."""

    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path: str, login=FLOWER_LOGIN) -> tuple[int, object]:
        headers = {}
        if login:
            token = base64.b64encode(":".join(login).encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        try:
            with urllib.request.urlopen(urllib.request.Request(self.base + path,
                                                               headers=headers),
                                        timeout=10) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def until(self, path: str, found, seconds: float = EVENT_TIMEOUT_SECONDS):
        """Flower's answer at `path` once `found(answer)` holds."""
        deadline = time.monotonic() + seconds
        while True:
            status, body = self.get(path)
            if status == 200 and found(body):
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"GET {path} still answers {status}: {body}")
            time.sleep(0.2)


@pytest.fixture(scope="module")
def flower(offline_stack, tmp_path_factory):
    config = offline_stack.app.config
    env = {"DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": config["REDIS_URL"]}
    port = free_port()
    log_path = tmp_path_factory.mktemp("flower") / "flower.log"
    process = start_flower(env, port, log_path, ":".join(FLOWER_LOGIN))
    try:
        yield Flower(port)
    finally:
        stop_process(process)


def test_flowers_api_shows_the_task_by_name_with_ids_only_and_every_queue(offline_stack,
                                                                          flower):
    # Flower's event consumer is running once it has seen the worker come online.
    flower.until("/api/workers?status=1", lambda workers: any(workers.values()))
    auth = offline_stack.new_org()
    task_id = ask(offline_stack.client, {**auth, "X-Request-Id": "req-flower-api-1"},
                  setup_conversation(offline_stack.client, auth))
    offline_stack.wait_for_task(auth, task_id)

    info = flower.until(f"/api/task/info/{task_id}",
                        lambda task: task.get("state") == "SUCCESS")
    assert info["name"] == "parley.reply"
    assert info["args"] == repr([task_id])
    # The request that caused it, which Flower shows as the task's kwargs.
    assert info["kwargs"] == repr({"request_id": "req-flower-api-1"})
    shown = json.dumps(info)
    assert SLA_QUESTION not in shown and "FiberUP" not in shown and "SLA" not in shown
    listed = flower.until("/api/tasks?limit=100", lambda tasks: task_id in tasks)
    assert listed[task_id]["name"] == "parley.reply"
    assert listed[task_id]["state"] == "SUCCESS"

    workers = flower.until("/api/workers?refresh=1", lambda workers: bool(workers))
    for worker in workers.values():
        assert set(task_kinds.QUEUES) <= {q["name"] for q in worker["active_queues"]}
        assert "parley.reply" in worker["registered"]
    lengths = flower.until("/api/queues/length", lambda answer: "active_queues" in answer)
    assert set(task_kinds.QUEUES) <= {queue["name"] for queue in lengths["active_queues"]}


def test_flowers_api_needs_its_login(flower):
    assert flower.get("/api/workers", login=None)[0] == 401
    assert flower.get("/api/workers", login=("admin", "wrong"))[0] == 401

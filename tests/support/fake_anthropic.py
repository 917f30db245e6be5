"""A fake of Anthropic's Messages API, for tests and benchmarks.

The real ``anthropic`` SDK talks to it over HTTP (``base_url=server.url`` or
``ANTHROPIC_BASE_URL``), so the code under test runs unchanged. Standard
library only.

    with FakeAnthropicServer() as server:
        server.configure(latency=0.2, faults=["429"])
        client = anthropic.Anthropic(api_key="test", base_url=server.url)
        ...
        assert server.requests[-1]["model"] == "claude-test"

Another process (a Celery worker, a benchmark) can drive a running server
over HTTP:

    POST /_control   JSON body with the keyword arguments of configure()
    POST /_reset     back to defaults
    GET  /_requests  JSON list of the recorded POST /v1/messages bodies

Run it in the foreground with ``python -m tests.support.fake_anthropic --port 8765``.

``POST /v1/messages``, in order:

1. The JSON body is recorded in ``requests`` (even if it is then refused).
2. An invalid body (needs ``model`` str, ``max_tokens`` int, non-empty
   ``messages`` list) gets a 400 ``invalid_request_error``. Invalid requests
   do not consume a fault.
3. A fault is chosen: the first item of ``faults`` if that list is not
   empty, else, with probability ``fault_share``, a random one of
   ``fault_kinds`` (``random.Random(seed)``, so a seed makes runs repeatable).
4. ``timeout`` sleeps ``timeout_sleep`` seconds, then drops the connection
   without answering. Every other answer (errors included) waits ``latency``
   seconds before its first byte.
5. Error faults answer with Anthropic's error shape and status code.
   ``cut`` starts a normal answer and drops the connection midway.
   ``overloaded_in_stream`` starts a streamed answer and sends an ``error`` event
   (``overloaded_error``) midway, as the API does when it is overloaded after its
   200 (not streamed, it answers as ``529``).
   Otherwise the reply is a Message, or an SSE stream when ``stream`` is true.

The reply is ``reply`` if configured, else deterministic text built from the
request: ``[fake-claude] I read {N} messages. You asked: {last user text}``,
plus `` Sources: A, B`` when the system prompt has ``[source: A]`` lines.
Token usage counts whitespace-separated words.

Tool use. A request with a non-empty ``tools`` list may get a reply that calls
a tool, scripted by ``tool_inputs``: a list of tool inputs, the first of which
is taken by each tool-bearing call that is answered (an error, ``timeout`` or
``cut`` fault leaves it for the retry, as the model would answer a retry the
same way). So a test, or another process through ``POST /_control``
``{"tool_inputs": [{...}, {...}]}``, scripts a dialogue turn by turn. Such a
reply holds, after its text block, a ``tool_use`` block (id ``toolu_fake_{N}``,
N the call's number) naming ``tool_choice.name`` if given, else the first tool;
its stop_reason is ``tool_use``. Streamed, the block opens with ``input: {}``
and its input arrives as ``input_json_delta`` events of ``JSON_CHARS_PER_CHUNK``
characters each (so a small input still takes several), then
``content_block_stop``; a ``cut`` fault sends the whole text, then drops the
connection halfway through the tool's JSON. Non-streaming, ``content`` holds
the same two blocks. An item of ``tool_inputs`` is a dict, sent as its JSON, or
a string, sent verbatim as the input's JSON text: a string that does not parse
scripts a malformed tool input (non-streaming, ``input`` is then that string).
When ``tool_inputs`` is empty, a tool-bearing call gets text only (stop_reason
``end_turn``), as without tools.

The text of a reply to a request with tools is ``tool_text`` if configured,
else as above. An empty ``tool_text`` sends no text block at all when the reply
calls a tool (the tool_use block is then index 0), as when a model only calls
the tool. Output tokens count the words of the text and of the tool's JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import re
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterable
from urllib.parse import urlsplit

# Status code and Anthropic error type of each error fault.
ERROR_FAULTS: dict[str, tuple[int, str]] = {
    "400": (400, "invalid_request_error"),
    "401": (401, "authentication_error"),
    "429": (429, "rate_limit_error"),
    "500": (500, "api_error"),
    "503": (503, "api_error"),
    "529": (529, "overloaded_error"),
}
# 529 is Anthropic's own status, so http.server has no reason phrase for it.
EXTRA_REASONS = {529: "Overloaded"}
CONNECTION_FAULTS = ("timeout", "cut")
# An error event inside a streamed answer's 200.
STREAM_ERROR_FAULT = "overloaded_in_stream"
FAULT_KINDS = tuple(ERROR_FAULTS) + CONNECTION_FAULTS + (STREAM_ERROR_FAULT,)
DEFAULT_FAULT_KINDS = ("429", "500", "529", "timeout", "cut")

WORDS_PER_CHUNK = 3
# A cut stream sends at most this many text deltas before the connection drops.
DELTAS_BEFORE_CUT = 2
# A tool input streams in pieces of this many characters of its JSON text.
JSON_CHARS_PER_CHUNK = 8
SOURCE_PREFIX = "[source: "

_DISCONNECT_ERRORS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


@dataclasses.dataclass(frozen=True)
class _Settings:
    latency: float = 0.0
    chunk_delay: float = 0.0
    faults: tuple[str | None, ...] = ()
    fault_share: float = 0.0
    fault_kinds: tuple[str, ...] = DEFAULT_FAULT_KINDS
    reply: str | None = None
    retry_after: str = "0"
    timeout_sleep: float = 3.0
    tool_inputs: tuple[str, ...] = ()  # the JSON text of each scripted tool input
    tool_text: str | None = None


@dataclasses.dataclass(frozen=True)
class _Call:
    """What one accepted POST /v1/messages must do, decided under the lock."""

    number: int
    fault: str | None
    settings: _Settings
    tool_input: str | None = None  # the JSON text of the tool input the reply sends


class FakeAnthropicServer:
    """A threaded fake Messages API server; see the module docstring."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.Lock()
        self._settings = _Settings()
        self._random = random.Random()
        self._counter = 0
        # Set on stop() so that sleeping handlers (latency, timeout) wake up.
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.requests: list[Any] = []
        self._httpd = _HTTPServer((host, port), self)
        bound_host, bound_port = self._httpd.server_address[:2]
        self.url = f"http://{bound_host}:{bound_port}"

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> "FakeAnthropicServer":
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="fake-anthropic", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()
        # Pooled keep-alive connections would otherwise go on being served.
        self._httpd.drop_open_connections()

    def __enter__(self) -> "FakeAnthropicServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- controls ----------------------------------------------------------

    def configure(
        self,
        *,
        latency: float | None = None,
        chunk_delay: float | None = None,
        faults: Iterable[str | int | None] | None = None,
        fault_share: float | None = None,
        fault_kinds: Iterable[str | int] | None = None,
        seed: int | str | None = None,
        reply: str | None = None,
        retry_after: str | int | float | None = None,
        timeout_sleep: float | None = None,
        tool_inputs: Iterable[dict[str, Any] | str] | None = None,
        tool_text: str | None = None,
    ) -> None:
        """Change the given settings; a None argument leaves that one alone.

        Raises ValueError for a bad value (such as an unknown fault kind).
        """
        changes: dict[str, Any] = {}
        if latency is not None:
            changes["latency"] = _non_negative("latency", latency)
        if chunk_delay is not None:
            changes["chunk_delay"] = _non_negative("chunk_delay", chunk_delay)
        if timeout_sleep is not None:
            changes["timeout_sleep"] = _non_negative("timeout_sleep", timeout_sleep)
        if fault_share is not None:
            share = _non_negative("fault_share", fault_share)
            if share > 1:
                raise ValueError("fault_share must be between 0 and 1")
            changes["fault_share"] = share
        if faults is not None:
            # None in the list means "this call succeeds", to script a gap.
            changes["faults"] = tuple(None if f is None else _fault_kind(f) for f in faults)
        if fault_kinds is not None:
            changes["fault_kinds"] = tuple(_fault_kind(f) for f in fault_kinds)
        if reply is not None:
            if not isinstance(reply, str):
                raise ValueError("reply must be a string")
            changes["reply"] = reply
        if retry_after is not None:
            changes["retry_after"] = str(retry_after)
        if tool_inputs is not None:
            changes["tool_inputs"] = _tool_inputs(tool_inputs)
        if tool_text is not None:
            if not isinstance(tool_text, str):
                raise ValueError("tool_text must be a string")
            changes["tool_text"] = tool_text
        with self._lock:
            self._settings = dataclasses.replace(self._settings, **changes)
            if seed is not None:
                self._random.seed(seed)

    def reset(self) -> None:
        """Back to defaults: no faults, no latency, no recorded requests."""
        with self._lock:
            self._settings = _Settings()
            self._random = random.Random()
            # Cleared in place: callers may hold a reference to the list.
            self.requests.clear()

    def recorded_requests(self) -> list[Any]:
        """A snapshot of ``requests``, safe to iterate while calls arrive."""
        with self._lock:
            return list(self.requests)

    # -- used by the request handler ---------------------------------------

    def _record(self, body: Any) -> None:
        with self._lock:
            self.requests.append(body)

    def _next_call(self, with_tools: bool = False) -> _Call:
        with self._lock:
            self._counter += 1
            fault = self._pick_fault()
            tool_input = self._pick_tool_input(fault) if with_tools else None
            return _Call(self._counter, fault, self._settings, tool_input)

    def _pick_fault(self) -> str | None:
        """Called with the lock held, which also guards the shared Random."""
        settings = self._settings
        if settings.faults:
            self._settings = dataclasses.replace(settings, faults=settings.faults[1:])
            return settings.faults[0]
        if settings.fault_share > 0 and settings.fault_kinds:
            if self._random.random() < settings.fault_share:
                return self._random.choice(settings.fault_kinds)
        return None

    def _pick_tool_input(self, fault: str | None) -> str | None:
        """Called with the lock held. Only a call answered in full consumes its input."""
        inputs = self._settings.tool_inputs
        if not inputs:
            return None
        if fault is None:
            self._settings = dataclasses.replace(self._settings, tool_inputs=inputs[1:])
        return inputs[0]

    def _next_number(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)


def _non_negative(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    return float(value)


def _fault_kind(value: Any) -> str:
    kind = str(value)
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {value!r}; known: {', '.join(FAULT_KINDS)}")
    return kind


def _tool_inputs(values: Any) -> tuple[str, ...]:
    """Scripted tool inputs as JSON text: a dict's JSON, a string as it is."""
    if not isinstance(values, (list, tuple)):
        raise ValueError("tool_inputs must be a list")
    if not all(isinstance(value, (dict, str)) for value in values):
        raise ValueError("tool_inputs must hold objects (or strings of raw JSON text)")
    return tuple(value if isinstance(value, str) else json.dumps(value) for value in values)


# -- the reply ---------------------------------------------------------------


def _block_texts(content: Any) -> list[str]:
    """The text of a string, a text block or a list of content blocks."""
    if isinstance(content, str):
        return [content]
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        return []
    return [
        block["text"]
        for block in content
        if isinstance(block, dict)
        and block.get("type") == "text"
        and isinstance(block.get("text"), str)
    ]


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return " ".join(_block_texts(message.get("content")))
    return ""


def _source_titles(system: Any) -> list[str]:
    """Distinct titles of ``[source: Title]`` lines, in order of appearance."""
    titles: list[str] = []
    for text in _block_texts(system):
        for line in text.splitlines():
            line = line.strip()
            if line.startswith(SOURCE_PREFIX):
                title = line[len(SOURCE_PREFIX):].split("]", 1)[0].strip()
                if title and title not in titles:
                    titles.append(title)
    return titles


def reply_text(body: dict[str, Any], configured_reply: str | None = None) -> str:
    """The fake model's answer to a (valid) request body."""
    if configured_reply is not None:
        return configured_reply
    messages = body["messages"]
    text = f"[fake-claude] I read {len(messages)} messages. You asked: {_last_user_text(messages)}"
    titles = _source_titles(body.get("system"))
    if titles:
        text += " Sources: " + ", ".join(titles)
    return text


def text_of(body: dict[str, Any], settings: _Settings) -> str:
    """The text part of the reply: ``tool_text`` for a request with tools, if set."""
    if body.get("tools") and settings.tool_text is not None:
        return settings.tool_text
    return reply_text(body, settings.reply)


@dataclasses.dataclass(frozen=True)
class ToolUse:
    """The tool call a reply makes: its block's id and tool name, its input's JSON text."""

    id: str
    name: str
    json: str

    def block(self, streamed: bool = False) -> dict[str, Any]:
        """The tool_use content block; a stream opens it with an empty input."""
        return {"type": "tool_use", "id": self.id, "name": self.name,
                "input": {} if streamed else _parsed(self.json)}


def tool_use(body: dict[str, Any], call: _Call) -> ToolUse | None:
    """The tool call the reply to this call makes, if one is scripted."""
    if call.tool_input is None:
        return None
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and isinstance(choice.get("name"), str):
        name = choice["name"]
    else:
        name = body["tools"][0]["name"]
    return ToolUse(f"toolu_fake_{call.number}", name, call.tool_input)


def _parsed(json_text: str) -> Any:
    try:
        return json.loads(json_text)
    except ValueError:
        return json_text


def split_json(text: str, size: int = JSON_CHARS_PER_CHUNK) -> list[str]:
    """Split JSON text into pieces of ``size`` characters that concatenate back."""
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def _word_count(texts: Iterable[str]) -> int:
    return sum(len(text.split()) for text in texts)


def input_tokens(body: dict[str, Any]) -> int:
    texts = _block_texts(body.get("system"))
    for message in body["messages"]:
        if isinstance(message, dict):
            texts += _block_texts(message.get("content"))
    return _word_count(texts)


def split_into_chunks(text: str, words_per_chunk: int = WORDS_PER_CHUNK) -> list[str]:
    """Split text into chunks of a few words that concatenate back exactly."""
    # Each piece carries the whitespace before its word; trailing space goes last.
    pieces = re.findall(r"\s*\S+", text)
    if not pieces:
        return [text]
    pieces[-1] += text[sum(map(len, pieces)):]
    return ["".join(pieces[i:i + words_per_chunk]) for i in range(0, len(pieces), words_per_chunk)]


def validation_error(body: Any) -> str | None:
    """Why a /v1/messages body is invalid, or None if it is fine."""
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    if not isinstance(body.get("model"), str):
        return "model: field required (string)"
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
        return "max_tokens: field required (integer)"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: field required (non-empty list)"
    tools = body.get("tools", [])
    if not isinstance(tools, list) or not all(
        isinstance(tool, dict) and isinstance(tool.get("name"), str) for tool in tools
    ):
        return "tools: must be a list of tools, each with a name (string)"
    return None


def error_body(error_type: str, message: str, request_id: str) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": error_type, "message": message},
        "request_id": request_id,
    }


def _sse(event_type: str, data: dict[str, Any]) -> bytes:
    return f"event: {event_type}\ndata: {json.dumps(data)}\n\n".encode()


def message_object(
    body: dict[str, Any],
    number: int,
    text: str | None,
    stop_reason: str | None,
    tool: ToolUse | None = None,
) -> dict[str, Any]:
    """A Message; ``text`` None gives the empty one that opens a stream. With a
    ``tool``, its tool_use block follows the text block (none if the text is empty)."""
    content = []
    if text is not None and (text or tool is None):
        content.append({"type": "text", "text": text})
    if tool is not None:
        content.append(tool.block())
    # A stream starts with a placeholder output count, as the real API does.
    output_tokens = 1 if text is None else output_token_count(text, tool)
    return {
        "id": f"msg_fake_{number}",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens(body), "output_tokens": output_tokens},
    }


def output_token_count(text: str, tool: ToolUse | None = None) -> int:
    return _word_count([text] if tool is None else [text, tool.json])


def opening_events(body: dict[str, Any], number: int, text_block: bool = True) -> list[bytes]:
    start = message_object(body, number, None, stop_reason=None)
    block_start = {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    return [
        _sse("message_start", {"type": "message_start", "message": start}),
        *([_sse("content_block_start", block_start)] if text_block else []),
        _sse("ping", {"type": "ping"}),
    ]


def text_delta_event(chunk: str) -> bytes:
    delta = {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": chunk},
    }
    return _sse("content_block_delta", delta)


def tool_start_event(index: int, tool: ToolUse) -> bytes:
    block_start = {
        "type": "content_block_start",
        "index": index,
        "content_block": tool.block(streamed=True),
    }
    return _sse("content_block_start", block_start)


def json_delta_event(index: int, piece: str) -> bytes:
    delta = {
        "type": "content_block_delta",
        "index": index,
        "delta": {"type": "input_json_delta", "partial_json": piece},
    }
    return _sse("content_block_delta", delta)


def block_stop_event(index: int) -> bytes:
    return _sse("content_block_stop", {"type": "content_block_stop", "index": index})


def ending_events(stop_reason: str, output_tokens: int) -> list[bytes]:
    message_delta = {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": None},
        "usage": {"output_tokens": output_tokens},
    }
    return [
        _sse("message_delta", message_delta),
        _sse("message_stop", {"type": "message_stop"}),
    ]


# -- HTTP --------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    # Benchmarks open hundreds of connections at once.
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], fake: FakeAnthropicServer) -> None:
        self.fake = fake
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def drop_open_connections(self) -> None:
        with self._open_lock:
            open_sockets = list(self._open)
        for sock in open_sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up is routine here (timeouts, cancelled benchmarks).
        if not isinstance(sys.exc_info()[1], _DISCONNECT_ERRORS):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 gives keep-alive, which the SDK's connection pool relies on.
    protocol_version = "HTTP/1.1"
    # Stream deltas are small writes; Nagle would hold them back.
    disable_nagle_algorithm = True
    server: _HTTPServer

    @property
    def fake(self) -> FakeAnthropicServer:
        return self.server.fake

    def handle(self) -> None:
        try:
            super().handle()
        except _DISCONNECT_ERRORS:
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: one line per request would drown test and benchmark output."""

    # -- routing -----------------------------------------------------------

    def do_GET(self) -> None:
        if self._path() == "/_requests":
            self._send_json(200, self.fake.recorded_requests())
        else:
            self._send_not_found()

    def do_POST(self) -> None:
        # Always read the body, so a keep-alive connection stays in step.
        raw = self._read_body()
        path = self._path()
        if path == "/v1/messages":
            self._handle_messages(raw)
        elif path == "/_control":
            self._handle_control(raw)
        elif path == "/_reset":
            self.fake.reset()
            self._send_json(200, {"ok": True})
        else:
            self._send_not_found()

    def _path(self) -> str:
        return urlsplit(self.path).path.rstrip("/") or "/"

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked_body()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _read_chunked_body(self) -> bytes:
        parts = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                # Skip trailers up to the blank line.
                while self.rfile.readline().strip():
                    pass
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    # -- control endpoints -------------------------------------------------

    def _handle_control(self, raw: bytes) -> None:
        try:
            options = json.loads(raw or b"{}")
            if not isinstance(options, dict):
                raise ValueError("body must be a JSON object")
            self.fake.configure(**options)
        except (ValueError, TypeError) as exc:  # TypeError: unknown keyword
            self._send_error_json(400, "invalid_request_error", str(exc), "req_fake_control")
            return
        self._send_json(200, {"ok": True})

    # -- the Messages API --------------------------------------------------

    def _handle_messages(self, raw: bytes) -> None:
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self.fake._record(body)

        problem = validation_error(body)
        if problem is not None:
            number = self.fake._next_number()
            self._send_error_json(400, "invalid_request_error", problem, f"req_fake_{number}")
            return

        call = self.fake._next_call(with_tools=bool(body.get("tools")))
        if call.fault == "timeout":
            self.fake._sleep(call.settings.timeout_sleep)
            self.close_connection = True
            return

        self.fake._sleep(call.settings.latency)
        if call.fault == STREAM_ERROR_FAULT and not body.get("stream"):
            call = dataclasses.replace(call, fault="529")
        if call.fault in ERROR_FAULTS:
            self._send_fault(call)
        elif body.get("stream"):
            self._send_stream(body, call)
        else:
            self._send_message(body, call)

    def _send_fault(self, call: _Call) -> None:
        status, error_type = ERROR_FAULTS[call.fault]
        extra = {"retry-after": call.settings.retry_after} if call.fault == "429" else {}
        message = f"fake {call.fault} fault injected by the test"
        self._send_error_json(status, error_type, message, f"req_fake_{call.number}", extra)

    def _send_message(self, body: dict[str, Any], call: _Call) -> None:
        text = text_of(body, call.settings)
        tool = tool_use(body, call)
        stop_reason = "end_turn" if tool is None else "tool_use"
        message = message_object(body, call.number, text, stop_reason, tool)
        payload = json.dumps(message).encode()
        request_id = f"req_fake_{call.number}"
        if call.fault == "cut":
            # Promise the whole body, deliver half, hang up.
            headers = {"Content-Length": str(len(payload))}
            self._send_head(200, "application/json", request_id, headers)
            self.wfile.write(payload[: len(payload) // 2])
            self.close_connection = True
            return
        self._send_bytes(200, "application/json", payload, request_id)

    def _send_stream(self, body: dict[str, Any], call: _Call) -> None:
        text = text_of(body, call.settings)
        tool = tool_use(body, call)
        with_text = tool is None or text != ""
        cut = call.fault == "cut"
        error_midway = call.fault == STREAM_ERROR_FAULT
        # Chunked encoding keeps the connection reusable; a cut stream then
        # ends without the terminating chunk, as a real dropped stream would.
        headers = {"Transfer-Encoding": "chunked", "Cache-Control": "no-cache"}
        self._send_head(200, "text/event-stream", f"req_fake_{call.number}", headers)
        for event in opening_events(body, call.number, text_block=with_text):
            self._write_chunk(event)
        if with_text:
            chunks = split_into_chunks(text)
            if (cut and tool is None) or error_midway:
                chunks = chunks[:DELTAS_BEFORE_CUT]
            for position, chunk in enumerate(chunks):
                if position:
                    self.fake._sleep(call.settings.chunk_delay)
                self._write_chunk(text_delta_event(chunk))
            if cut and tool is None:
                self.close_connection = True
                return
            if error_midway:
                self._write_chunk(_sse("error", error_body(
                    "overloaded_error", "fake overloaded error in the stream",
                    f"req_fake_{call.number}")))
                self.wfile.write(b"0\r\n\r\n")
                return
            self._write_chunk(block_stop_event(0))
        if tool is not None:
            index = 1 if with_text else 0
            pieces = split_json(tool.json)
            if cut:
                pieces = pieces[: max(1, len(pieces) // 2)]
            self._write_chunk(tool_start_event(index, tool))
            for piece in pieces:
                self.fake._sleep(call.settings.chunk_delay)
                self._write_chunk(json_delta_event(index, piece))
            if cut:
                self.close_connection = True
                return
            self._write_chunk(block_stop_event(index))
        stop_reason = "end_turn" if tool is None else "tool_use"
        for event in ending_events(stop_reason, output_token_count(text, tool)):
            self._write_chunk(event)
        self.wfile.write(b"0\r\n\r\n")

    # -- writing -----------------------------------------------------------

    def _send_head(
        self, status: int, content_type: str, request_id: str, headers: dict[str, str]
    ) -> None:
        self.send_response(status, EXTRA_REASONS.get(status))
        self.send_header("Content-Type", content_type)
        self.send_header("request-id", request_id)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _write_chunk(self, data: bytes) -> None:
        # One write per chunk, so each SSE event leaves at once.
        self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))

    def _send_bytes(
        self,
        status: int,
        content_type: str,
        payload: bytes,
        request_id: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        all_headers = {"Content-Length": str(len(payload)), **(headers or {})}
        self._send_head(status, content_type, request_id, all_headers)
        self.wfile.write(payload)

    def _send_json(self, status: int, data: Any) -> None:
        self._send_bytes(status, "application/json", json.dumps(data).encode(), "req_fake_control")

    def _send_error_json(
        self,
        status: int,
        error_type: str,
        message: str,
        request_id: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        payload = json.dumps(error_body(error_type, message, request_id)).encode()
        self._send_bytes(status, "application/json", payload, request_id, headers)

    def _send_not_found(self) -> None:
        message = f"{self.command} {self.path} is not served by the fake Anthropic API"
        self._send_error_json(404, "not_found_error", message, "req_fake_not_found")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Run the fake Anthropic Messages API in the foreground."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)
    server = FakeAnthropicServer(args.host, args.port).start()
    print(server.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()

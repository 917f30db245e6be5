"""Claude through the official SDK, streaming: text as it comes, and each tool call
(a tool_use block, its input streamed as JSON fragments) as soon as its block ends.

The SDK's own retries are off: a transient failure is raised as TransientError and
the Celery task retries with backoff, so a waiting retry holds no worker slot and shows
in Flower. One client per process (see registry.py) pools the connections to the model.
"""

import json
import logging
import time
import warnings

import anthropic
import httpx2

from app.services.agent_io import (CLIENT_ERROR, CONNECTION, CUT_STREAM, RATE_LIMITED,
                                   SERVER_ERROR, TIMEOUT, PermanentError, Result,
                                   ToolCall, TransientError)
from workers.llm.base import LLMRequest, OnText, OnTool

log = logging.getLogger(__name__)

# The SDK warns on every call to a deprecated model; Parley warns once, as a worker
# starts (deprecated_models below, workers/celery_app.py).
warnings.filterwarnings("ignore", message=r"The model '.*' is deprecated",
                        category=DeprecationWarning)

# Statuses worth another try: timeouts, conflicts, rate limits, overload and 5xx.
TRANSIENT_STATUSES = {408, 409, 429}


class AnthropicProvider:
    name = "anthropic"

    def __init__(self, api_key: str | None, base_url: str | None, model: str,
                 timeout: float):
        self.model = model
        # The SDK's timeout bounds each wait for bytes; this bounds the whole call, so
        # a reply that trickles forever still ends well inside the task's deadline.
        self.total_timeout = timeout
        # The SDK's default HTTP client pools up to 1,000 connections, enough for
        # every slot of a worker to have its own.
        self.client = anthropic.Anthropic(api_key=api_key, base_url=base_url,
                                          timeout=timeout, max_retries=0)

    def generate(self, request: LLMRequest, on_text: OnText | None = None,
                 on_tool: OnTool | None = None) -> Result:
        reply = _Reply()
        try:
            return self._stream(request, reply, on_text, on_tool)
        except anthropic.APIStatusError as exc:
            raise _classify(exc, self.model) from exc
        except (anthropic.APIConnectionError, httpx2.TransportError) as exc:
            # Includes timeouts and a connection dropped mid-stream.
            raise TransientError(f"model connection failed: {exc}",
                                 cause=_connection_cause(exc, reply),
                                 model=self.model) from exc

    def _stream(self, request: LLMRequest, reply: "_Reply", on_text: OnText | None,
                on_tool: OnTool | None) -> Result:
        # The SDK's client makes the call (its auth, base URL, timeouts, headers, and its
        # errors for a status that is not 2xx); its raw server-sent events are folded
        # here from their JSON, reading only the fields a reply needs: building the
        # SDK's typed event for each delta, and its stream helper's snapshot of the
        # whole message on every event, cost more CPU than the rest of a reply's work.
        deadline = time.monotonic() + self.total_timeout
        tools = {"tools": request.tools} if request.tools else {}
        if request.tool_choice:
            tools["tool_choice"] = request.tool_choice
        with self.client.messages.with_streaming_response.create(
                model=self.model, max_tokens=request.max_tokens, system=request.system,
                messages=request.messages, stream=True, **tools) as response:
            for sse in anthropic.Stream.raw_events(response.http_response):
                if sse.event == "error":
                    raise _stream_error(sse.data, self.model)
                if not sse.data or sse.event in (None, "ping"):
                    continue
                taken = reply.take(json.loads(sse.data))
                if time.monotonic() > deadline:
                    raise TransientError(
                        f"the model took longer than {self.total_timeout:g}s to answer",
                        cause=TIMEOUT, model=self.model)
                if isinstance(taken, ToolCall):
                    if on_tool:
                        on_tool(taken)
                elif taken and on_text:
                    on_text(taken)
        if not reply.complete:
            # The stream ended without message_stop: a partial reply is never a reply.
            raise TransientError("the model's stream ended before the reply was complete",
                                 cause=CUT_STREAM, model=self.model)
        return Result(text="".join(reply.parts), model=reply.model,
                      input_tokens=reply.input_tokens, output_tokens=reply.output_tokens,
                      tool_calls=tuple(reply.tool_calls))


class _Reply:
    """A reply put together from the Messages API's stream events."""

    def __init__(self):
        self.parts: list[str] = []
        self.tool_calls: list[ToolCall] = []
        self.tool_blocks: dict[int, tuple[str, list[str]]] = {}  # index: name, JSON so far
        self.model = ""
        self.input_tokens = self.output_tokens = 0
        self.stop_reason: str | None = None
        self.began = False  # the answer's first event has come
        self.complete = False

    def take(self, event: dict) -> str | ToolCall | None:
        """Fold one event (its JSON) in; returns the text it adds or the tool call it
        completes."""
        self.began = True
        kind = event.get("type")
        if kind == "content_block_delta":
            delta = event["delta"]
            if delta["type"] == "text_delta":
                self.parts.append(delta["text"])
                return delta["text"]
            if delta["type"] == "input_json_delta" and event["index"] in self.tool_blocks:
                self.tool_blocks[event["index"]][1].append(delta["partial_json"])
        elif kind == "content_block_start":
            if event["content_block"]["type"] == "tool_use":
                self.tool_blocks[event["index"]] = (event["content_block"]["name"], [])
        elif kind == "content_block_stop":
            if event["index"] in self.tool_blocks:
                return self._tool_call(*self.tool_blocks.pop(event["index"]))
        elif kind == "message_start":
            self.model = event["message"]["model"]
            self.input_tokens = event["message"]["usage"]["input_tokens"]
        elif kind == "message_delta":
            self.stop_reason = event["delta"].get("stop_reason")
            self.output_tokens = event["usage"]["output_tokens"]
        elif kind == "message_stop":
            self.complete = self.stop_reason is not None
        return None

    def _tool_call(self, name: str, fragments: list[str]) -> ToolCall | None:
        """The call a finished tool_use block makes; one whose input is not a JSON
        object is dropped (the turn goes on without it)."""
        raw = "".join(fragments) or "{}"  # a tool without parameters may send no JSON
        try:
            arguments = json.loads(raw)
        except ValueError:
            arguments = None
        if not isinstance(arguments, dict):
            # Its length only: the input may quote the user's words.
            log.warning("dropped a call of tool %s: its input (%d characters) is not a "
                        "JSON object", name, len(raw))
            return None
        call = ToolCall(name=name, input=arguments)
        self.tool_calls.append(call)
        return call


def _classify(exc: anthropic.APIStatusError, model: str) -> Exception:
    status = exc.status_code
    return _model_error(status, f"model error {status}: {_error_message(exc)}", model,
                        _retry_after(exc))


def _model_error(status: int, message: str, model: str,
                 retry_after: float | None = None) -> Exception:
    """The error a model's answer of this status is: worth another try or not, and why."""
    cause = {429: RATE_LIMITED, 408: TIMEOUT}.get(
        status, SERVER_ERROR if status >= 500 else CLIENT_ERROR)
    if status in TRANSIENT_STATUSES or status >= 500:
        return TransientError(message, retry_after=retry_after, cause=cause, model=model)
    return PermanentError(message, cause=cause, model=model)


# An error event inside a stream's 200 names its kind by type alone: the status the API
# answers that kind with when it can still choose one (Anthropic's error types).
_STATUS_OF_ERROR_TYPE = {"invalid_request_error": 400, "authentication_error": 401,
                         "permission_error": 403, "not_found_error": 404,
                         "request_too_large": 413, "rate_limit_error": 429,
                         "api_error": 500, "overloaded_error": 529}


def _stream_error(data: str, model: str) -> Exception:
    """The error an `error` event reports midway through a streamed answer."""
    try:
        error = json.loads(data).get("error")
    except (ValueError, AttributeError):
        error = None
    error = error if isinstance(error, dict) else {}
    kind = error.get("type")
    message = f"model error in the stream: {kind or 'unknown'}: {error.get('message') or data}"
    return _model_error(_STATUS_OF_ERROR_TYPE.get(kind, 400), message, model)


def _connection_cause(exc: Exception, reply: "_Reply") -> str:
    """A timeout; a stream cut once the answer had begun; else a connection that failed."""
    if isinstance(exc, (anthropic.APITimeoutError, httpx2.TimeoutException)):
        return TIMEOUT
    return CUT_STREAM if reply.began else CONNECTION


def _error_message(exc: anthropic.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    return error.get("message") or exc.message


def _retry_after(exc: anthropic.APIStatusError) -> float | None:
    try:
        return float(exc.response.headers.get("retry-after"))
    except (TypeError, ValueError):
        return None


def deprecated_models(names) -> dict[str, str]:
    """Of these model names, those the SDK lists as deprecated, with the day each
    reaches its end of life."""
    try:  # the SDK's own list; it has no public name, so its absence is not an error
        from anthropic._data import DEPRECATED_MODELS
    except ImportError:
        return {}
    return {name: DEPRECATED_MODELS[name] for name in sorted(names)
            if name in DEPRECATED_MODELS}

"""A task's events as Server-Sent Events, resumed after a dropped connection.

The server keeps each task's events in a stream and relays them from the start, or
from after ``Last-Event-ID`` (``GET /api/tasks/{task_id}/events``). So when a
connection drops, the client opens it again after the last event it got: no event is
missed and none comes twice. The stream ends with the task: ``end`` (``done`` for a
dialog session's turn) or ``error``.

Parsing the event stream is httpx-sse's job (a maintained parser of the SSE format:
ids, multi-line data, comments, ``retry:``); this module adds what Parley's streams
mean: which event ends a stream, where to resume, how to join the text.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx
from httpx_sse import EventSource, ServerSentEvent

from parley_client.errors import ConnectionFailed, StreamInterrupted
from parley_client.retries import RetryPolicy

log = logging.getLogger("parley_client")

TERMINAL = frozenset({"end", "done", "error"})
TEXT_EVENTS = frozenset({"content", "token"})
TASK_ID_HEADER = "X-Task-Id"
# Broken mid-stream: the server may still be relaying, so open it again.
DROPPED = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
DEFAULT_RECONNECT_SECONDS = 1.0


@dataclass(frozen=True)
class Event:
    """One event: ``id`` (send it back to resume after it), ``type`` (``start``,
    ``content``, ``end``, ``error``; a dialog session's turn: ``start``, ``token``,
    ``briefing_update``, ``phase``, ``actions``, ``warning``, ``restart``, ``done``,
    ``error``) and its ``data``."""

    id: str
    type: str
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_sse(cls, sse: ServerSentEvent) -> Event:
        data = sse.json()
        # The dialog sessions face wraps each event's data as {"type": …, "data": {…}}.
        if (isinstance(data, dict) and set(data) == {"type", "data"}
                and data["type"] == sse.event and isinstance(data["data"], dict)):
            data = data["data"]
        return cls(sse.id, sse.event, data if isinstance(data, dict) else {"value": data})

    @property
    def terminal(self) -> bool:
        """The task's last event: ``end``/``done`` (it succeeded) or ``error``."""
        return self.type in TERMINAL

    @property
    def text(self) -> str | None:
        """A piece of the reply (``content``, ``token``), else None."""
        return self.data.get("text") if self.type in TEXT_EVENTS else None

    @property
    def restarts(self) -> bool:
        """The model failed and the task tries again: drop the text received so far."""
        return self.type == "restart" or (self.type == "start"
                                          and self.data.get("attempt", 1) > 1)


def text_of(events: Iterable[Event]) -> str:
    """The reply the events spell, as the server stores it: the text after the last
    restart."""
    pieces: list[str] = []
    for event in events:
        if event.restarts:
            pieces.clear()
        elif event.text is not None:
            pieces.append(event.text)
    return "".join(pieces)


# Opens the stream where the EventStream stands (its task_id and last_event_id): a
# successful streaming answer, or a ParleyError.
Opener = Callable[["EventStream"], httpx.Response]


class EventStream(Iterator[Event]):
    """Iterate it for the events, until the task's terminal one. A dropped connection
    is opened again after ``last_event_id`` (up to ``reconnects`` times in a row without
    an event in between); close it (or leave its ``with`` block) to stop early.

    ``task_id`` is the task's id once known; ``last_event_id`` the id of the last event
    received: ``Parley.stream(task_id, last_event_id=…)`` resumes from there later.
    """

    def __init__(self, opener: Opener, *, task_id: str | None = None,
                 last_event_id: str | None = None, reconnects: int = 5,
                 retry: RetryPolicy | None = None,
                 sleep: Callable[[float], None] | None = None) -> None:
        self.task_id = task_id
        self.last_event_id = last_event_id
        self.reconnects = reconnects
        self._open = opener
        self._retry = retry or RetryPolicy()
        self._sleep = sleep or time.sleep
        self._reconnect_seconds = DEFAULT_RECONNECT_SECONDS
        self._response: httpx.Response | None = None
        self._events = self._follow()

    def __iter__(self) -> EventStream:
        return self

    def __next__(self) -> Event:
        return next(self._events)

    def close(self) -> None:
        self._events.close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def _follow(self) -> Generator[Event, None, None]:
        failures = 0
        while True:
            try:
                response = self._open(self)
            except ConnectionFailed as exc:
                raise StreamInterrupted(f"could not reopen the stream: {exc.message}",
                                        last_event_id=self.last_event_id) from exc
            self.task_id = self.task_id or response.headers.get(TASK_ID_HEADER)
            try:
                for event in self._read(response):
                    failures = 0
                    yield event
                    if event.terminal:
                        return
                why = "the server closed the stream before its end"
            except DROPPED as exc:
                why = f"{type(exc).__name__}: {exc}"
            finally:
                response.close()
            failures += 1
            if failures > self.reconnects:
                raise StreamInterrupted(
                    f"the stream of task {self.task_id} dropped {failures} times in a row "
                    f"({why})", last_event_id=self.last_event_id)
            delay = self._reconnect_seconds + self._retry.backoff(failures)
            log.info("stream of task %s: %s; resuming after %s in %.2f s", self.task_id, why,
                     self.last_event_id, delay)
            self._sleep(delay)

    def _read(self, response: httpx.Response) -> Iterator[Event]:
        for sse in EventSource(response).iter_sse():
            if sse.retry is not None:  # the server's reconnection time, in milliseconds
                self._reconnect_seconds = sse.retry / 1000
            if not sse.data:  # what only set `retry:`, or heartbeats after an id
                continue
            try:
                event = Event.from_sse(sse)
            except json.JSONDecodeError:
                log.warning("stream of task %s: skipped an event whose data is not JSON: "
                            "%r", self.task_id, sse.data[:200])
                continue
            if event.id:
                self.last_event_id = event.id
            yield event

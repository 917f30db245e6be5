"""The SSE relay: a task's event stream (app/services/events.py) as Server-Sent Events.

The relay reads the stream from where the client stands (its start, or the event after
Last-Event-ID), so nothing is missed between enqueue and subscribe and a reconnecting
client resumes without duplicates or gaps. It holds no database connection and no
Redis connection of its own: each blocking read borrows one from the pool for at most a
heartbeat, so when the client goes, the next write fails and the connection is back.

While the stream is idle it sends heartbeat comments and asks the database whether the
task has finished; if it has and the stream never said so (Redis lost the event), the
relay sends the outcome from the database. The task row is the truth.
"""

import json
import logging
import time
from collections.abc import Callable, Iterator
from copy import deepcopy

from flask import Response, current_app

from app.metrics import SSE_STREAMS_OPEN
from app.services import task_kinds, tasks
from app.services.agent_io import BRIEFING_EVENTS
from app.services.dialog_sessions import TURN_KIND
from app.services.events import (CONTENT, END, ERROR, FROM_START, START, TERMINAL, Event,
                                 EventsUnavailable, TaskEventStreams)

log = logging.getLogger(__name__)

RECONNECT_MILLISECONDS = 1000
LAST_LOOK_SECONDS = 0.001  # Redis reads a block of 0 as "forever"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

# The task's terminal event from the database, or None while it is unfinished.
Outcome = Callable[[], tuple[str, dict] | None]


def sse_response(frames: Iterator[str]) -> Response:
    return Response(frames, mimetype="text/event-stream", headers=HEADERS)


def frame(event: Event) -> str:
    return f"id: {event.id}\nevent: {event.name}\ndata: {json.dumps(event.data)}\n\n"


# The dialog sessions face's events: the task's events under the spec's names, each
# data line a JSON object {"type": name, "data": {...}} (its examples read `type`).
DIALOG_NAMES = {CONTENT: "token", END: "done"}
DIALOG_EVENTS = ("start", "restart", "token", *BRIEFING_EVENTS, "done", "error")


def typed_frame(event: Event) -> str | None:
    """A briefing turn's event as the dialog sessions face sends it; None for one it
    does not send (the first attempt's start: the stream opened with the task id)."""
    name, data = DIALOG_NAMES.get(event.name, event.name), event.data
    if event.name == START:
        if data.get("attempt", 1) <= 1:
            return None
        name, data = "restart", {"attempt": data["attempt"]}  # discard what came before
    elif event.name == CONTENT:
        data = {"text": data["text"]}
    elif event.name == END:
        data = {"message": data.get("message"), "task_id": data.get("task_id"),
                "usage": data.get("usage")}
    elif event.name == ERROR:
        data = {"message": data.get("message")}
    return typed(event.id, name, data)


def typed(event_id: str, name: str, data: dict) -> str:
    return (f"id: {event_id}\nevent: {name}\n"
            f"data: {json.dumps({'type': name, 'data': data}, default=str)}\n\n")


# How each kind's events are sent: a briefing turn's as its face does, so a client
# resuming at /api/tasks/{id}/events reads what it read before.
RENDERERS: dict[str, Callable[[Event], str | None]] = {TURN_KIND: typed_frame}


def renderer_for(kind: str) -> Callable[[Event], str | None]:
    return RENDERERS.get(kind, frame)


# One event as frame() writes it, in OpenAPI terms: a text/event-stream schema
# describes each event of the stream (comments and the retry line are not events).
EVENT_SCHEMA = {
    "type": "object",
    "required": ["id", "event", "data"],
    "properties": {
        "id": {"type": "string", "description": "the stream entry's id; send it back as "
                                                "Last-Event-ID to resume after it"},
        "event": {"type": "string", "enum": [START, CONTENT, END, ERROR]},
        "data": {"type": "string", "description": "a JSON object"},
    },
}


def event_stream_response(description: str, names=(START, CONTENT, END, ERROR)) -> dict:
    """The OpenAPI response of an endpoint answering with sse_response()."""
    schema = deepcopy(EVENT_SCHEMA)
    schema["properties"]["event"]["enum"] = list(names)
    return {"description": description,
            "content": {"text/event-stream": {"schema": schema}}}


def relay(streams: TaskEventStreams, task_id: str, outcome: Outcome,
          heartbeat_seconds: float, after: str = FROM_START,
          render: Callable[[Event], str | None] = frame, opening: str = "") -> Iterator[str]:
    """SSE frames: the task's events after `after`, live, until its end or error, each
    rendered by `render` (None: not sent); `opening`, frames sent first. Counted as an
    open stream from its first frame until it ends or its client goes."""
    SSE_STREAMS_OPEN.inc()
    try:
        yield from _frames(streams, task_id, outcome, heartbeat_seconds, after, render,
                           opening)
    finally:
        SSE_STREAMS_OPEN.dec()


def _frames(streams: TaskEventStreams, task_id: str, outcome: Outcome,
            heartbeat_seconds: float, after: str, render: Callable[[Event], str | None],
            opening: str) -> Iterator[str]:
    # Sent at once, so the client knows the stream is open before the first event.
    yield f"retry: {RECONNECT_MILLISECONDS}\n: task {task_id}\n\n{opening}"
    last = after
    while True:
        found = _read(streams, task_id, last, heartbeat_seconds)
        for event in found:
            yield render(event) or ""
            last = event.id
            if event.name in TERMINAL:
                return
        if found:
            continue
        final = outcome()
        if final is None:
            yield ": heartbeat\n\n"
            continue
        # The task has finished: first what it appended while the database was read,
        # then its outcome, if the stream never got it.
        for event in _read(streams, task_id, last, LAST_LOOK_SECONDS):
            yield render(event) or ""
            last = event.id
            if event.name in TERMINAL:
                return
        # Its id is the last one the stream gave: resuming after it finds this outcome
        # again, which is right, since the stream still lacks it.
        yield render(Event(last, *final)) or ""
        return


def _read(streams: TaskEventStreams, task_id: str, after: str,
          block_seconds: float) -> list[Event]:
    """The next events, or none after block_seconds; while Redis is unavailable, none
    (after a pause, so the relay falls back on the database without spinning)."""
    try:
        return streams.read(task_id, after, block_seconds)
    except EventsUnavailable as exc:
        log.warning("relaying task %s from the database: %s", task_id, exc.message)
        time.sleep(min(block_seconds, 1.0))
        return []


def task_relay(org_id: str, task_id: str, after: str = FROM_START,
               render: Callable[[Event], str | None] = frame,
               opening: str = "") -> Iterator[str]:
    """The relay of one of the organization's tasks (call it while serving the request).
    It runs after the request has ended, so it keeps the app itself, not the request's
    proxy to it, and asks the database in an app context of its own, only while idle."""
    app = current_app._get_current_object()

    def outcome():
        with app.app_context():
            return task_kinds.outcome(tasks.get_task(org_id, task_id))

    return relay(app.extensions["task_events"], task_id, outcome,
                 app.config["SSE_HEARTBEAT_SECONDS"], after, render, opening)

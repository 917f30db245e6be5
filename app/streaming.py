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
import time
from collections.abc import Callable, Iterator

from flask import Response

from app.services import tasks
from app.services.events import (FROM_START, TERMINAL, Event, EventsUnavailable,
                                 TaskEventStreams)

RECONNECT_MILLISECONDS = 1000
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

# The task's terminal event from the database, or None while it is unfinished.
Outcome = Callable[[], tuple[str, dict] | None]


def sse_response(frames: Iterator[str]) -> Response:
    return Response(frames, mimetype="text/event-stream", headers=HEADERS)


def frame(event: Event) -> str:
    return f"id: {event.id}\nevent: {event.name}\ndata: {json.dumps(event.data)}\n\n"


def relay(streams: TaskEventStreams, task_id: str, outcome: Outcome,
          heartbeat_seconds: float, after: str = FROM_START) -> Iterator[str]:
    """SSE frames: the task's events after `after`, live, until its end or error."""
    # Sent at once, so the client knows the stream is open before the first event.
    yield f"retry: {RECONNECT_MILLISECONDS}\n: task {task_id}\n\n"
    last = after
    while True:
        try:
            found = streams.read(task_id, last, heartbeat_seconds)
        except EventsUnavailable:
            time.sleep(min(heartbeat_seconds, 1.0))
            found = []
        for event in found:
            yield frame(event)
            last = event.id
            if event.name in TERMINAL:
                return
        if not found:
            final = outcome()
            if final is not None:
                # Its id is the last one the stream gave: resuming after it finds this
                # outcome again, which is right, since the stream still lacks it.
                yield frame(Event(last, *final))
                return
            yield ": heartbeat\n\n"


def task_relay(app, org_id: str, task_id: str, after: str = FROM_START) -> Iterator[str]:
    """The relay of one of the organization's tasks. It runs after the request has
    ended, so it asks the database in an app context of its own, and only while idle."""

    def outcome():
        with app.app_context():
            return tasks.outcome(tasks.get_task(org_id, task_id))

    return relay(app.extensions["task_events"], task_id, outcome,
                 app.config["SSE_HEARTBEAT_SECONDS"], after)

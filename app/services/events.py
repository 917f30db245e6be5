"""Task event streams: what a task reports while it runs, one Redis Stream per task, so
that any web process can relay it as Server-Sent Events (app/streaming.py).

Events, each a stream entry {"event": name, "data": JSON object}:
- start   a claim began producing (again, on a retry: what came before it is void);
- content a chunk of the reply, in order;
- what else an agent reports on the way (a dialog turn: briefing_update, phase,
  actions, warning);
- end     the result is stored (the message id, the token usage);
- error   the task ended FAILURE (a readable message).
The entry id is the SSE id, so a client that reconnects with Last-Event-ID resumes
exactly after the last event it got. A stream is bounded (approximately MAXLEN
entries) and expires TTL seconds after its latest event.

Writing is best effort: the database holds the truth (the stored reply, the task's
state), and a relay that never sees a terminal event finds the outcome there.
"""

import heapq
import itertools
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from functools import partial
from dataclasses import dataclass

import redis
from flask import Flask, current_app

from app.errors import ParleyError

log = logging.getLogger(__name__)

START, CONTENT, END, ERROR = "start", "content", "end", "error"
TERMINAL = (END, ERROR)
# The events that mark a change of the task's state: claimed (again), finished.
STATE_CHANGES = (START, END, ERROR)
# A Redis Stream entry id, as clients send it back in Last-Event-ID.
EVENT_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
FROM_START = "0-0"
_KEY = "parley:task-events:{}"
# Set when cancel is asked for a running task; its content writer reads it with each
# chunk it appends, in the same round trip.
_CANCEL_KEY = "parley:task-cancel:{}"


class EventsUnavailable(ParleyError):
    status_code = 503


class TaskCanceled(Exception):
    """Raised by a content writer, through the agent, when the task was canceled: the
    lifecycle ends it canceled and stores nothing."""


@dataclass(frozen=True)
class Event:
    id: str
    name: str
    data: dict


class TaskEventStreams:
    def __init__(self, client: redis.Redis | None, maxlen: int, ttl_seconds: int,
                 coalesce_seconds: float = 0.0):
        self.client = client
        self.maxlen = maxlen
        self.ttl_seconds = ttl_seconds
        # Chunks of a reply that come within this time of its last append are appended
        # together, as one content event (ContentWriter).
        self.coalesce_seconds = coalesce_seconds

    def append(self, task_id: str, name: str, data: dict) -> str | None:
        """Add an event, and push the stream's expiry back; the entry's id, or None
        when Redis could not take it (logged: the database still has the truth)."""
        appended = self._append(task_id, name, data)
        return appended and appended[0]

    def append_many(self, entries: list[tuple[str, str, dict]]) -> None:
        """Add events (task id, name, data) to many streams, in pipelined round trips
        of a few hundred; best effort, like append."""
        if self.client is None:
            return
        for start in range(0, len(entries), 500):
            try:
                pipe = self.client.pipeline(transaction=False)
                for task_id, name, data in entries[start:start + 500]:
                    self._add_to(pipe, task_id, name, data)
                pipe.execute()
            except redis.RedisError as exc:
                log.warning("could not append %d events: %s", len(entries), exc)
                return

    def _append(self, task_id: str, name: str, data: dict,
                and_check_cancel: bool = False) -> list | None:
        """One round trip: the entry, the expiry, and (when asked) whether the task
        was canceled; None when Redis could not take it."""
        if self.client is None:
            return None
        try:
            pipe = self.client.pipeline(transaction=False)
            self._add_to(pipe, task_id, name, data)
            if and_check_cancel:
                pipe.exists(_CANCEL_KEY.format(task_id))
            return pipe.execute()
        except redis.RedisError as exc:
            log.warning("could not append the %s event of task %s: %s", name, task_id, exc)
            return None

    def _add_to(self, pipe, task_id: str, name: str, data: dict) -> None:
        """Queue on `pipe` the entry and the push of the stream's expiry."""
        key = _KEY.format(task_id)
        pipe.xadd(key, {"event": name, "data": json.dumps(data)}, maxlen=self.maxlen,
                  approximate=True)
        pipe.expire(key, self.ttl_seconds)

    def content_writer(self, task_id: str) -> "ContentWriter":
        """An on_text callback appending the reply's chunks as content events (see
        ContentWriter); close it before the task's next event."""
        return ContentWriter(self, task_id)

    def request_cancel(self, task_id: str) -> None:
        """Tell the task's worker to stop at its next chunk (best effort: the task row
        says it too, and is read when the task finishes)."""
        if self.client is None:
            return
        try:
            self.client.set(_CANCEL_KEY.format(task_id), 1, ex=self.ttl_seconds)
        except redis.RedisError as exc:
            log.warning("could not flag task %s canceled in Redis: %s", task_id, exc)

    def forget(self, task_id: str) -> None:
        """Drop the task's stream (best effort): a task run again starts a new one, and a
        relay must not end at its earlier run's `error`."""
        if self.client is None:
            return
        try:
            self.client.delete(_KEY.format(task_id))
        except redis.RedisError as exc:
            log.warning("could not drop the events of task %s: %s", task_id, exc)

    def event_writer(self, task_id: str) -> Callable[[str, dict], None]:
        """An on_event callback appending each event an agent reports (a dialog turn's
        briefing_update, phase, actions, warning)."""
        return partial(self.append, task_id)

    def read(self, task_id: str, after: str, block_seconds: float) -> list[Event]:
        """The events after the id `after`, waiting up to block_seconds for one."""
        if self.client is None:
            raise EventsUnavailable("Task events need Redis (REDIS_URL).")
        try:
            found = self.client.xread({_KEY.format(task_id): after},
                                      block=max(int(block_seconds * 1000), 1))
        except redis.RedisError as exc:
            raise EventsUnavailable(f"The event stream is unavailable: {exc}") from exc
        return [Event(entry_id, fields["event"], json.loads(fields["data"]))
                for _, entries in found for entry_id, fields in entries]

    def last_id(self, task_id: str) -> str:
        """The id of the stream's latest event (FROM_START when it has none), to wait
        for what comes after it."""
        if self.client is None:
            raise EventsUnavailable("Task events need Redis (REDIS_URL).")
        try:
            latest = self.client.xrevrange(_KEY.format(task_id), count=1)
        except redis.RedisError as exc:
            raise EventsUnavailable(f"The event stream is unavailable: {exc}") from exc
        return latest[0][0] if latest else FROM_START

    def wait_for(self, task_id: str, after: str, names: tuple[str, ...],
                 seconds: float) -> bool:
        """Wait up to `seconds` for an event named in `names` after the id `after`
        (others, such as content, are passed over); whether one came."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            for event in self.read(task_id, after, left):
                if event.name in names:
                    return True
                after = event.id
        return False

    def exists(self, task_id: str) -> bool:
        if self.client is None:
            return False
        try:
            return bool(self.client.exists(_KEY.format(task_id)))
        except redis.RedisError as exc:
            raise EventsUnavailable(f"The event stream is unavailable: {exc}") from exc


class ContentWriter:
    """The on_text of one task's attempt: appends its chunks as content events, and
    raises TaskCanceled once the task was canceled (checked in the same round trip as
    an append).

    The first chunk is appended at once (the time to first content is what a watcher
    feels); chunks that follow within `coalesce_seconds` of the last append wait and are
    appended together, by the next chunk due or by this process's flusher thread, so a
    model streaming many small deltas costs a Redis round trip per window, not per
    delta, and no chunk waits longer than the window. Joined, the content events are
    the reply, in order, whatever the grouping. After Redis fails once the writer stops
    trying, so a Redis outage costs the reply one timeout, not one per chunk (a cancel
    is then seen when the task finishes, from its row)."""

    def __init__(self, streams: TaskEventStreams, task_id: str):
        self.streams = streams
        self.task_id = task_id
        self.pending: list[str] = []
        self.appended_at = float("-inf")  # time.monotonic() of the last append
        self.broken = False
        self.canceled = False
        self._lock = threading.Lock()

    def __call__(self, text: str) -> None:
        with self._lock:
            waiting = bool(self.pending)
            self.pending.append(text)
            due = self.appended_at + self.streams.coalesce_seconds
            if time.monotonic() >= due:
                self._append_pending()
            elif not waiting:
                _flusher.flush_at(due, self)
        self._raise_if_canceled()

    def flush(self) -> None:
        """Append what waits now: before any other event of the task."""
        with self._lock:
            self._append_pending()

    def close(self) -> None:
        """The attempt's last chunks appended; TaskCanceled if the task was canceled."""
        self.flush()
        self._raise_if_canceled()

    def _append_pending(self) -> None:
        if not self.pending:
            return
        text, self.pending = "".join(self.pending), []
        if self.broken:
            return
        appended = self.streams._append(self.task_id, CONTENT, {"text": text},
                                        and_check_cancel=True)
        self.appended_at = time.monotonic()
        self.broken = appended is None
        self.canceled = self.canceled or bool(appended and appended[2])

    def _raise_if_canceled(self) -> None:
        if self.canceled:
            raise TaskCanceled(self.task_id)


class _Flusher:
    """One thread per process appending the chunks whose window has passed, for writers
    whose model went quiet; started on first use (and again in a forked child)."""

    def __init__(self):
        self._due: list[tuple[float, int, ContentWriter]] = []
        self._order = itertools.count()  # ties in time are taken in turn
        self._changed = threading.Condition()
        self._pid: int | None = None

    def flush_at(self, due: float, writer: ContentWriter) -> None:
        with self._changed:
            if self._pid != os.getpid():
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="content-flusher",
                                 daemon=True).start()
            heapq.heappush(self._due, (due, next(self._order), writer))
            self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._due or self._due[0][0] > time.monotonic():
                    self._changed.wait(self._due[0][0] - time.monotonic()
                                       if self._due else None)
                _, _, writer = heapq.heappop(self._due)
            try:
                writer.flush()  # nothing, if its own next chunk or close came first
            except Exception:  # noqa: BLE001 - the thread must outlive any one writer
                log.exception("could not append the content of task %s", writer.task_id)


_flusher = _Flusher()


def end_data(task_id: str, message_id: str | None, model: str | None,
             input_tokens: int | None, output_tokens: int | None) -> dict:
    """An end event's data: where the result is stored and what it cost."""
    return {"task_id": task_id, "message_id": message_id, "model": model,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens}}


# redis-py caps a pool at 100 connections and refuses the 101st. Every thread of a
# process may hold one at once (a relay for its whole blocking read, a worker slot for
# each append): the pool must outnumber the threads of any process.
MAX_CONNECTIONS = 10_000


def init_task_events(app: Flask) -> None:
    """One client (and its connection pool) per process. A blocking read holds a
    connection only while it waits, so the read timeout must outlast the block."""
    url = app.config["REDIS_URL"]
    client = None
    if url.split("://", 1)[0] in ("redis", "rediss"):
        client = redis.Redis.from_url(
            url, decode_responses=True, socket_connect_timeout=2,
            socket_timeout=app.config["SSE_HEARTBEAT_SECONDS"] + 10,
            health_check_interval=30, max_connections=MAX_CONNECTIONS)
    app.extensions["task_events"] = TaskEventStreams(
        client, app.config["EVENTS_MAXLEN"], app.config["EVENTS_TTL_SECONDS"],
        app.config["EVENTS_COALESCE_MS"] / 1000)


def task_events() -> TaskEventStreams:
    return current_app.extensions["task_events"]

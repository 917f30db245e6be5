"""The client: ``Parley(base_url, api_key=…)``.

The polling face's calls are methods of ``Parley`` itself (data sets, conversations,
``ask``, ``task``, ``wait``, ``history``, ``stream``); the dialogue store's are under
``parley.dialogues``, the dialog sessions' under ``parley.sessions``. Each method is one
request (``wait`` and ``stream`` a few), typed in and out.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Literal, Required, TypedDict

import httpx

from parley_client._http import Connection
from parley_client.errors import InvalidRequest, ParleyError, WaitTimeout
from parley_client.models import (Confirmed, Conversation, DataSet, Dialogue,
                                  DialogueMessage, DialogSession, Document, History, Job,
                                  Page, Preview, SessionStarted, Task, TaskStatus)
from parley_client.retries import IDEMPOTENCY_HEADER, RetryPolicy
from parley_client.streams import EventStream

# The server's longest long poll (GET /api/task_status/{id}?wait=N, N at most 60).
LONG_POLL_MAX_SECONDS = 60


class NewMessage(TypedDict, total=False):
    """A message to add to a dialogue."""

    role: Required[Literal["user", "assistant", "system"]]
    content: Required[str]
    id: str
    name: str
    created: str
    tags: list[str]
    metadata: dict[str, Any]


def new_key() -> str:
    return str(uuid.uuid4())


def task_id_of(task: Task | TaskStatus | str) -> str:
    if isinstance(task, Task):
        return task.id
    if isinstance(task, TaskStatus):
        return task.task_id
    return task


def without_none(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}


class Parley:
    """A client of one Parley server, with one API key (or bearer token).

    ``timeout``: seconds for each request (connecting, each read); a long poll gets
    its wait on top. Keep it above the server's SSE heartbeat (15 s) for streams.
    ``retry``: how often and how long to retry (see ``RetryPolicy``). ``transport``:
    an httpx transport of your own (a proxy's, or ``httpx.MockTransport`` in tests);
    ``sleep`` and ``clock`` (``time.sleep``, ``time.monotonic``) time every pause.

    Use it as a context manager, or ``close()`` it, to close its connections.
    """

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 30.0,
                 retry: RetryPolicy | None = None,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._connection = Connection(base_url, api_key, timeout, retry, transport, sleep,
                                      clock)
        # Whether the server takes ?wait= on the task status; learnt from its answer.
        self._long_poll = True
        self.dialogues = Dialogues(self._connection)
        self.sessions = DialogSessions(self._connection)

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> Parley:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    # -- data sets ----------------------------------------------------------------------

    def create_data_set(self, name: str, description: str = "", *,
                        idempotency_key: str | None = None) -> DataSet:
        return DataSet.from_json(self._post_new(
            "api/data_sets", {"name": name, "description": description}, idempotency_key))

    def data_sets(self) -> list[DataSet]:
        return [DataSet.from_json(item) for item in self._get("api/data_sets")]

    def add_document(self, data_set_id: int, title: str, content: str, *,
                     idempotency_key: str | None = None) -> Document:
        """Add a text to a data set; the server splits and indexes it at once."""
        return Document.from_json(self._post_new(
            f"api/data_sets/{data_set_id}/documents", {"title": title, "content": content},
            idempotency_key))

    # -- conversations and their tasks --------------------------------------------------

    def create_conversation(self, data_set_id: int, *,
                            idempotency_key: str | None = None) -> Conversation:
        return Conversation.from_json(self._post_new(
            "api/conversations", {"data_set_id": data_set_id}, idempotency_key))

    def ask(self, conversation_id: int, text: str, *, data_set_id: int | None = None,
            callback_url: str | None = None, idempotency_key: str | None = None) -> Task:
        """Post a question; the reply is written by a worker. Returns its Task: follow it
        with ``wait`` or ``stream``. Safe to retry: sent with an Idempotency-Key, a
        repeat gets the same task, never a second question."""
        key = idempotency_key or new_key()
        body = self._post_new(f"api/conversations/{conversation_id}", without_none(
            question_message=text, data_set_id=data_set_id, callback_url=callback_url), key)
        return Task(body["task_id"], key)

    def history(self, conversation_id: int, *, limit: int | None = None,
                before: int | None = None) -> History:
        """The conversation and its messages in order; with ``limit``, the latest ones
        (``before=history.older`` reads the page before)."""
        return History.from_json(self._get(f"api/conversations/{conversation_id}",
                                           params={"limit": limit, "before": before}))

    def task(self, task: Task | TaskStatus | str) -> TaskStatus:
        """The task's status, now."""
        return TaskStatus.from_json(self._get(f"api/task_status/{task_id_of(task)}"))

    def cancel(self, task: Task | TaskStatus | str) -> TaskStatus:
        """Cancel a queued or running task (a finished one: Conflict)."""
        response = self._connection.request("POST", f"api/tasks/{task_id_of(task)}/cancel")
        return TaskStatus.from_json(response.json())

    def wait(self, task: Task | TaskStatus | str, timeout: float = 60.0) -> TaskStatus:
        """The task's final status (SUCCESS or FAILURE: look at ``.succeeded``), once it
        has one; WaitTimeout after ``timeout`` seconds (give or take a second).

        Long polls while the server offers it (one request per change of the task);
        otherwise polls, each pause doubling (with jitter) up to 5 s, with the status's
        ETag, so an unchanged task costs the server a few bytes."""
        task_id, clock = task_id_of(task), self._connection.clock
        deadline = clock() + timeout
        last: TaskStatus | None = None
        etag: str | None = None
        idle = 0  # reads in a row that found the task as it was, without waiting
        while True:
            remaining = deadline - clock()
            if last is not None and remaining <= 0:
                raise WaitTimeout(f"task {task_id} is still {last.state} ({last.stage}) "
                                  f"after {timeout:g} s", task_status=last)
            started = clock()
            if self._long_poll:
                seconds = max(1, min(LONG_POLL_MAX_SECONDS, math.floor(remaining)))
                status = self._long_poll_status(task_id, seconds)
                if status is None:
                    continue  # the server does not long poll: poll instead
                waited = clock() - started >= seconds / 2
            else:
                status, etag = self._conditional_status(task_id, last, etag)
                waited = False
            if status.finished:
                return status
            changed = last is None or (status.stage, status.updated_at) != (
                last.stage, last.updated_at)
            last = status
            if waited or (changed and self._long_poll):
                idle = 0
                continue
            idle += 1
            pause = self._connection.retry.poll_delay(idle)
            self._connection.sleep(max(0.0, min(pause, deadline - clock())))

    def stream(self, task: Task | TaskStatus | str, *, last_event_id: str | None = None,
               reconnects: int = 5) -> EventStream:
        """The task's events, live, from its first (or after ``last_event_id``) to its
        ``end`` or ``error``; a dropped connection is resumed where it stopped. Iterate
        it; ``parley_client.text_of(events)`` joins the reply's text."""
        task_id = task_id_of(task)

        def open_events(stream: EventStream) -> httpx.Response:
            return open_task_events(self._connection, task_id, stream.last_event_id)

        return EventStream(open_events, task_id=task_id, last_event_id=last_event_id,
                           reconnects=reconnects, retry=self._connection.retry,
                           sleep=self._connection.sleep)

    # -- helpers --------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._connection.request("GET", path, params=params).json()

    def _post_new(self, path: str, body: dict[str, Any], key: str | None) -> Any:
        return post_new(self._connection, path, body, key)

    def _long_poll_status(self, task_id: str, seconds: int) -> TaskStatus | None:
        """The status after a long poll of `seconds`; None (and no more long polls)
        when the server refuses the `wait` parameter."""
        try:
            response = self._connection.request(
                "GET", f"api/task_status/{task_id}", params={"wait": seconds},
                timeout=self._connection.timeout + seconds)
        except InvalidRequest as exc:
            if "wait" not in json.dumps(exc.details):
                raise
            self._long_poll = False
            return None
        return TaskStatus.from_json(response.json())

    def _conditional_status(self, task_id: str, last: TaskStatus | None,
                            etag: str | None) -> tuple[TaskStatus, str | None]:
        """The status, and its ETag; an unchanged one (304) is the last read again."""
        headers = {"If-None-Match": etag} if etag and last is not None else None
        response = self._connection.request("GET", f"api/task_status/{task_id}",
                                            headers=headers)
        if response.status_code == 304 and last is not None:
            return last, etag
        return TaskStatus.from_json(response.json()), response.headers.get("ETag")


def post_new(connection: Connection, path: str, body: dict[str, Any], key: str | None
             ) -> Any:
    """POST a request that creates something, with an Idempotency-Key (a new one
    unless given), so that the retries can send it again safely."""
    response = connection.request("POST", path, json=body,
                                  headers={IDEMPOTENCY_HEADER: key or new_key()})
    return response.json()


def open_task_events(connection: Connection, task_id: str,
                     last_event_id: str | None) -> httpx.Response:
    """GET /api/tasks/{task_id}/events, after last_event_id: its streaming answer."""
    headers = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    request = connection.build("GET", f"api/tasks/{task_id}/events", headers=headers)
    return expect_event_stream(connection.send(request, stream=True))


def expect_event_stream(response: httpx.Response) -> httpx.Response:
    content_type = response.headers.get("Content-Type", "")
    if not content_type.startswith("text/event-stream"):
        response.close()
        raise ParleyError(f"expected an event stream, got {content_type or 'no content type'}",
                          status=response.status_code)
    return response


class Dialogues:
    """The dialogue store (``/dialogue``): dialogues with your own ids, namespaces,
    tags, state and metadata, and their messages."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def create(self, *, id: str | None = None, messages: Sequence[NewMessage] = (),
               namespace: str | None = None, tags: Sequence[str] | None = None,
               state: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None,
               thread_of: str | None = None, idempotency_key: str | None = None) -> Dialogue:
        """A new dialogue (``id``: yours, else one is made), with its first messages."""
        body = without_none(id=id, namespace=namespace, state=state, metadata=metadata,
                            threadOf=thread_of, tags=list(tags) if tags is not None else None,
                            messages=list(messages) or None)
        return Dialogue.from_json(post_new(self._connection, "dialogue", body,
                                           idempotency_key))

    def append(self, dialogue_id: str, *messages: NewMessage,
               tags: Sequence[str] | None = None, label: str | None = None,
               state: dict[str, Any] | None = None) -> Dialogue:
        """Add messages (at most 25), and set tags (replaced), the label, or state
        (merged). Not retried: adding is not safe to repeat."""
        body = without_none(label=label, state=state,
                            tags=list(tags) if tags is not None else None,
                            messages=list(messages) or None)
        return Dialogue.from_json(
            self._connection.request("PUT", f"dialogue/{dialogue_id}", json=body).json())

    def get(self, dialogue_id: str) -> Dialogue:
        """The dialogue with its ten latest messages."""
        return Dialogue.from_json(self._connection.request("GET",
                                                           f"dialogue/{dialogue_id}").json())

    def messages(self, dialogue_id: str, *, limit: int | None = None,
                 order: Literal["asc", "desc"] | None = None,
                 next: str | None = None) -> Page[DialogueMessage]:
        """A page of the dialogue's messages; ``next=page.next`` reads the one after."""
        body = self._connection.request("GET", f"dialogue/{dialogue_id}/messages", params={
            "limit": limit, "order": order, "next": next}).json()
        return Page([DialogueMessage.from_json(item) for item in body["items"]], body["next"])

    def list(self, *, namespace: str | None = None, thread_of: str | None = None,
             limit: int | None = None, order: Literal["asc", "desc"] | None = None,
             next: str | None = None) -> Page[Dialogue]:
        """A page of dialogues, newest first unless ``order="asc"``."""
        body = self._connection.request("GET", "dialogue", params={
            "namespace": namespace, "threadOf": thread_of, "limit": limit, "order": order,
            "next": next}).json()
        return Page([Dialogue.from_json(item) for item in body["items"]], body["next"])

    def end(self, dialogue_id: str) -> Dialogue:
        return Dialogue.from_json(post_new(self._connection, f"dialogue/{dialogue_id}/end",
                                           {}, None))

    def delete(self, dialogue_id: str) -> None:
        self._connection.request("DELETE", f"dialogue/{dialogue_id}")


class DialogSessions:
    """Dialog sessions (``/v1``): a briefing agent answering over Server-Sent Events,
    a confirmed briefing becoming a job."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def create(self, mode: Literal["translation", "creation"], *, text: str | None = None,
               input_material: dict[str, Any] | None = None,
               context: dict[str, Any] | None = None, language: str | None = None,
               idempotency_key: str | None = None) -> SessionStarted:
        """A new session and the agent's first question."""
        body = without_none(mode=mode, text=text, input_material=input_material,
                            context=context, language=language)
        return SessionStarted.from_json(post_new(self._connection, "v1/dialog-sessions",
                                                 body, idempotency_key))

    def get(self, session_id: str) -> DialogSession:
        return DialogSession.from_json(
            self._connection.request("GET", f"v1/dialog-sessions/{session_id}").json())

    def send(self, session_id: str, message: str, *, idempotency_key: str | None = None,
             reconnects: int = 5) -> EventStream:
        """Send a message; the agent's turn streams back: ``start`` (its task id),
        ``token``s, ``briefing_update``, ``phase``, ``actions``, ``warning``, then
        ``done`` (``data["message"]``) or ``error``. A dropped connection resumes at
        the turn's task events; one dropped before the answer began sends the message
        again under the same Idempotency-Key (the server replays, never posts twice)."""
        key = idempotency_key or new_key()
        path = f"v1/dialog-sessions/{session_id}/messages"

        def open_turn(stream: EventStream) -> httpx.Response:
            if stream.task_id is not None:
                return open_task_events(self._connection, stream.task_id,
                                        stream.last_event_id)
            request = self._connection.build(
                "POST", path, json={"message": message},
                headers={IDEMPOTENCY_HEADER: key, "Accept": "text/event-stream"})
            return expect_event_stream(self._connection.send(request, stream=True))

        return EventStream(open_turn, reconnects=reconnects, retry=self._connection.retry,
                           sleep=self._connection.sleep)

    def preview(self, session_id: str) -> Preview:
        """The briefing as it stands: completeness, missing fields, warnings."""
        return Preview.from_json(self._connection.request(
            "GET", f"v1/dialog-sessions/{session_id}/briefing-preview").json())

    def confirm(self, session_id: str, *, save_as_template: bool = False,
                template_name: str | None = None,
                idempotency_key: str | None = None) -> Confirmed:
        """Turn the complete briefing into a job (InvalidRequest ``briefing_incomplete``
        lists ``details["missing_fields"]``)."""
        body = without_none(save_as_template=save_as_template, template_name=template_name)
        return Confirmed.from_json(post_new(
            self._connection, f"v1/dialog-sessions/{session_id}/confirm", body,
            idempotency_key))

    def cancel(self, session_id: str) -> DialogSession:
        return DialogSession.from_json(self._connection.request(
            "POST", f"v1/dialog-sessions/{session_id}/cancel").json())

    def job(self, job_id: str) -> Job:
        return Job.from_json(self._connection.request("GET", f"v1/jobs/{job_id}").json())

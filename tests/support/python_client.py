"""For tests of the Python client (clients/python) without a server: answers scripted
through httpx.MockTransport, a clock that only moves when the client sleeps, and event
streams that drop mid-way."""

import json
import random
from collections.abc import Callable, Iterable, Iterator

import httpx

from parley_client import Parley, RetryPolicy

BASE_URL = "http://parley.test"


class Clock:
    """time.monotonic and time.sleep for a client: time passes only when it sleeps (or
    when a scripted answer says it took a while), and every pause is written down."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Script:
    """A fake server: each request is answered by the next of `answers` (a Response,
    an exception to raise, or a function of the request), and kept in `requests`."""

    def __init__(self, answers: Iterable):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.answers:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        answer = self.answers.pop(0)
        if callable(answer) and not isinstance(answer, httpx.Response):
            answer = answer(request)
        if isinstance(answer, Exception):
            raise answer
        return answer


def client(script: Script | Callable, clock: Clock | None = None, seed: int = 7,
           **policy) -> Parley:
    """A Parley client whose requests go to `script`, pausing on `clock`."""
    clock = clock or Clock()
    return Parley(BASE_URL, api_key="pk_test", transport=httpx.MockTransport(script),
                  retry=RetryPolicy(**{"rng": random.Random(seed), **policy}),
                  sleep=clock.sleep, clock=clock)


def answer(status: int, body=None, headers: dict | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def polling_error(status: int, message: str, **extra) -> dict:
    from http import HTTPStatus

    return {"code": status, "status": HTTPStatus(status).phrase, "message": message, **extra}


def frame(event_id: str, name: str, data: dict) -> bytes:
    return f"id: {event_id}\nevent: {name}\ndata: {json.dumps(data)}\n\n".encode()


OPENING = b"retry: 1000\n: task t-1\n\n"


class DroppingStream(httpx.SyncByteStream):
    """A body that sends `chunks`, then, if `drop`, breaks as a dropped connection does."""

    def __init__(self, chunks: Iterable[bytes], drop: bool = True):
        self.chunks, self.drop = list(chunks), drop

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks
        if self.drop:
            raise httpx.RemoteProtocolError("peer closed connection without sending "
                                            "complete message body")


def event_stream(chunks: Iterable[bytes], drop: bool = False,
                 headers: dict | None = None) -> httpx.Response:
    return httpx.Response(200, headers={"Content-Type": "text/event-stream; charset=utf-8",
                                        **(headers or {})},
                          stream=DroppingStream(chunks, drop))


def status(state: str = "PENDING", stage: str = "queued",
           updated_at: str = "2026-01-01T00:00:00+00:00", **extra) -> dict:
    return {"task_id": "t-1", "state": state, "stage": stage, "error": None, "attempts": 1,
            "conversation_id": 1, "message_id": 1, "reply_message_id": None,
            "created_at": "2026-01-01T00:00:00+00:00", "updated_at": updated_at, **extra}

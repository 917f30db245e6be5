"""The Python client's event streams: events until the task's last, resumed after a
dropped connection from the last event's id (no duplicates, no gaps), the dialog
sessions' wrapped events, and the reply's text across restarts."""

import httpx
import pytest

from parley_client import Event, Gone, StreamInterrupted, text_of
from tests.support.python_client import (OPENING, Clock, Script, answer, client,
                                         event_stream, frame, polling_error)

START = frame("1-0", "start", {"task_id": "t-1", "attempt": 1})
ONE = frame("2-0", "content", {"text": "FiberUP includes"})
TWO = frame("3-0", "content", {"text": " an SLA."})
END = frame("4-0", "end", {"task_id": "t-1", "message_id": "msg_1"})


def test_a_stream_gives_the_events_until_the_end():
    script = Script([event_stream([OPENING, START, ONE, b": heartbeat\n\n", TWO, END])])

    events = list(client(script).stream("t-1"))

    assert [(e.id, e.type) for e in events] == [
        ("1-0", "start"), ("2-0", "content"), ("3-0", "content"), ("4-0", "end")]
    assert text_of(events) == "FiberUP includes an SLA."
    [request] = script.requests
    assert request.url.path == "/api/tasks/t-1/events"
    assert "Last-Event-ID" not in request.headers


def test_a_dropped_stream_resumes_after_the_last_event_it_got():
    clock = Clock()
    script = Script([event_stream([OPENING, START, ONE], drop=True),
                     event_stream([OPENING, TWO, END])])

    stream = client(script, clock).stream("t-1")
    events = list(stream)

    assert [e.id for e in events] == ["1-0", "2-0", "3-0", "4-0"]
    assert script.requests[1].headers["Last-Event-ID"] == "2-0"
    assert stream.last_event_id == "4-0"
    [pause] = clock.sleeps
    assert pause >= 1.0  # the server's `retry: 1000`, then a little backoff


def test_a_stream_closed_before_its_end_is_opened_again():
    script = Script([event_stream([OPENING, START]), event_stream([OPENING, ONE, TWO, END])])

    events = list(client(script).stream("t-1"))

    assert text_of(events) == "FiberUP includes an SLA."
    assert script.requests[1].headers["Last-Event-ID"] == "1-0"


def test_a_stream_that_keeps_dropping_says_where_to_resume():
    script = Script([event_stream([OPENING, START, ONE], drop=True)]
                    + [event_stream([OPENING], drop=True) for _ in range(3)])

    stream = client(script).stream("t-1", reconnects=3)
    got = []
    with pytest.raises(StreamInterrupted) as raised:
        for event in stream:
            got.append(event)

    assert [e.id for e in got] == ["1-0", "2-0"]
    assert raised.value.last_event_id == "2-0" and len(script.requests) == 4


def test_a_stream_resumes_from_the_id_it_is_given():
    script = Script([event_stream([OPENING, TWO, END])])

    events = list(client(script).stream("t-1", last_event_id="2-0"))

    assert [e.id for e in events] == ["3-0", "4-0"]
    assert script.requests[0].headers["Last-Event-ID"] == "2-0"


def test_the_events_of_an_expired_task_are_gone_with_its_outcome():
    body = {**polling_error(410, "The events of task t-1 have expired."), "task_id": "t-1",
            "state": "SUCCESS", "outcome": {"event": "end", "data": {"message_id": "msg_1"}}}
    script = Script([answer(410, body)])

    with pytest.raises(Gone) as raised:
        list(client(script).stream("t-1"))

    assert raised.value.body["outcome"]["event"] == "end"


def test_a_restart_drops_the_text_received_before_it():
    events = [Event("1", "start", {"attempt": 1}), Event("2", "content", {"text": "Half"}),
              Event("3", "start", {"attempt": 2}), Event("4", "content", {"text": "Whole"}),
              Event("5", "end", {})]

    assert text_of(events) == "Whole"
    assert text_of([Event("1", "token", {"text": "a"}), Event("2", "restart", {"attempt": 2}),
                    Event("3", "token", {"text": "b"})]) == "b"


def turn_frame(event_id: str, name: str, data: dict) -> bytes:
    return frame(event_id, name, {"type": name, "data": data})


TURN_START = turn_frame("0-0", "start", {"task_id": "t-9", "session_id": "dialog_1"})
TOKEN = turn_frame("5-0", "token", {"text": "Which domain?"})
UPDATE = turn_frame("5-1", "briefing_update", {"field": "source_lang", "value": "de"})
DONE = turn_frame("6-0", "done", {"message": {"role": "assistant", "content": "Which domain?"}})


def test_a_turns_events_are_unwrapped_and_end_with_done():
    script = Script([event_stream([OPENING, TURN_START, UPDATE, TOKEN, DONE],
                                  headers={"X-Task-Id": "t-9"})])

    stream = client(script).sessions.send("dialog_1", "From German, please.")
    events = list(stream)

    assert [e.type for e in events] == ["start", "briefing_update", "token", "done"]
    assert events[1].data == {"field": "source_lang", "value": "de"}
    assert events[-1].terminal and text_of(events) == "Which domain?"
    assert stream.task_id == "t-9"
    [request] = script.requests
    assert (request.method, request.url.path) == ("POST", "/v1/dialog-sessions/dialog_1/messages")


def test_a_turn_dropped_mid_way_resumes_at_its_tasks_events():
    script = Script([event_stream([OPENING, TURN_START, UPDATE], drop=True,
                                  headers={"X-Task-Id": "t-9"}),
                     event_stream([OPENING, TOKEN, DONE])])

    events = list(client(script).sessions.send("dialog_1", "From German, please."))

    assert [e.id for e in events] == ["0-0", "5-1", "5-0", "6-0"]
    resumed = script.requests[1]
    assert (resumed.method, resumed.url.path) == ("GET", "/api/tasks/t-9/events")
    assert resumed.headers["Last-Event-ID"] == "5-1"


def test_a_turn_that_got_no_answer_is_sent_again_under_the_same_key():
    script = Script([httpx.ReadTimeout("no answer"),
                     event_stream([OPENING, TURN_START, TOKEN, DONE],
                                  headers={"X-Task-Id": "t-9", "Idempotent-Replayed": "true"})])

    events = list(client(script).sessions.send("dialog_1", "From German, please."))

    assert events[-1].type == "done"
    first, second = script.requests
    assert second.method == "POST"
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]


def test_closing_a_stream_stops_it_early():
    script = Script([event_stream([OPENING, START, ONE, TWO, END])])

    with client(script).stream("t-1") as stream:
        first = next(stream)

    assert first.type == "start"
    with pytest.raises(StopIteration):
        next(stream)

"""The SSE relay (app/streaming.py): what a client is sent from a task's event stream,
from its opening to its end or error, resumed after a given event, and from the database
when the stream lacks the outcome or Redis is down."""

import pytest

from app.services import events
from app.services.events import TaskEventStreams
from app.streaming import relay
from tests.support.events import TASK, BrokenRedis, fake_streams
from tests.support.events import parse_frames as parse


@pytest.fixture
def streams():
    return fake_streams()


def never_finished():
    return None


def test_the_relay_sends_every_event_then_stops_at_the_end(streams):
    streams.append(TASK, events.START, {"task_id": TASK})
    streams.append(TASK, events.CONTENT, {"text": "Hel"})
    streams.append(TASK, events.CONTENT, {"text": "lo"})
    streams.append(TASK, events.END, {"message_id": "msg_1"})
    streams.append(TASK, events.CONTENT, {"text": "never sent"})

    sent = parse(list(relay(streams, TASK, never_finished, 0.01)))

    assert [e["event"] for e in sent] == ["start", "content", "content", "end"]


def test_the_relay_stops_at_an_error(streams):
    streams.append(TASK, events.START, {})
    streams.append(TASK, events.ERROR, {"message": "model error 400"})

    sent = parse(list(relay(streams, TASK, never_finished, 0.01)))

    assert sent[-1] == {"id": sent[-1]["id"], "event": "error",
                        "data": {"message": "model error 400"}}


def test_the_relay_resumes_after_the_given_event(streams):
    first = streams.append(TASK, events.START, {})
    second = streams.append(TASK, events.CONTENT, {"text": "a"})
    streams.append(TASK, events.CONTENT, {"text": "b"})
    streams.append(TASK, events.END, {})

    sent = parse(list(relay(streams, TASK, never_finished, 0.01, after=second)))

    assert [e["event"] for e in sent] == ["content", "end"]
    assert sent[0]["data"] == {"text": "b"}
    assert first not in [e["id"] for e in sent]


def test_the_relay_opens_with_a_reconnect_delay_and_sends_heartbeats_while_idle(streams):
    frames = relay(streams, TASK, never_finished, 0.01)

    opening, idle = next(frames), next(frames)

    assert opening.startswith("retry: ")
    assert idle == ": heartbeat\n\n"


def test_the_relay_takes_the_outcome_from_the_database_when_the_stream_lacks_it(streams):
    last = streams.append(TASK, events.START, {})
    stored = (events.END, {"message_id": "msg_1"})

    sent = parse(list(relay(streams, TASK, lambda: stored, 0.01)))

    assert sent[-1] == {"id": last, "event": "end", "data": {"message_id": "msg_1"}}


def test_the_relay_sends_what_the_stream_got_while_it_read_the_outcome(streams):
    """The worker appends its last chunks and commits between the relay's empty read
    and its look at the database: those chunks still come, before the end."""
    streams.append(TASK, events.START, {})

    def finished_meanwhile():
        streams.append(TASK, events.CONTENT, {"text": "last words"})
        streams.append(TASK, events.END, {"message_id": "msg_1"})
        return events.END, {"message_id": "msg_1"}

    sent = parse(list(relay(streams, TASK, finished_meanwhile, 0.01)))

    assert [e["event"] for e in sent] == ["start", "content", "end"]
    assert sent[1]["data"] == {"text": "last words"}


def test_the_relay_falls_back_on_the_database_while_redis_is_down():
    broken = TaskEventStreams(BrokenRedis(), 10, 60)
    failed = (events.ERROR, {"message": "gave up"})

    sent = parse(list(relay(broken, TASK, lambda: failed, 0.01)))

    assert [e["event"] for e in sent] == ["error"]

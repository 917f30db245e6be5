"""Task event streams (app/services/events.py): what they keep, in order and bounded,
what a reply appends while its task runs, and how they behave while Redis is down."""

import time

import pytest

import workers.tasks  # noqa: F401 - registers parley.reply
from app.services import events
from app.services.events import Event, EventsUnavailable, TaskEventStreams
from tests.support.data import ask
from tests.support.events import TASK, BrokenRedis, fake_streams
from tests.support.fake_anthropic import FakeAnthropicServer
from workers.tasks import reply


@pytest.fixture
def streams():
    return fake_streams()


# -- the streams ------------------------------------------------------------------------------

def test_events_come_back_in_order_with_increasing_ids(streams):
    ids = [streams.append(TASK, events.CONTENT, {"text": str(n)}) for n in range(5)]

    found = streams.read(TASK, events.FROM_START, 0.01)

    assert [e.data["text"] for e in found] == ["0", "1", "2", "3", "4"]
    assert [e.id for e in found] == ids
    assert all(events.EVENT_ID.match(i) for i in ids)


def test_reading_after_an_id_gives_only_the_later_events(streams):
    ids = [streams.append(TASK, events.CONTENT, {"text": str(n)}) for n in range(4)]

    found = streams.read(TASK, ids[1], 0.01)

    assert [e.id for e in found] == ids[2:]


def test_a_stream_expires_after_its_latest_event(streams):
    streams.append(TASK, events.START, {})

    assert 0 < streams.client.ttl(f"parley:task-events:{TASK}") <= 60


def test_a_stream_is_bounded():
    small = fake_streams(maxlen=10, ttl_seconds=60)
    for n in range(200):
        small.append(TASK, events.CONTENT, {"text": str(n)})

    # Trimming is approximate (cheap for Redis): bounded, not exact.
    assert small.client.xlen(f"parley:task-events:{TASK}") < 200


def test_appending_while_redis_is_down_does_not_raise():
    assert TaskEventStreams(BrokenRedis(), 10, 60).append(TASK, events.START, {}) is None


def test_the_content_writer_stops_trying_after_redis_fails_once():
    broken = BrokenRedis()
    write = TaskEventStreams(broken, 10, 60).content_writer(TASK)

    for chunk in ("a", "b", "c"):
        write(chunk)

    assert broken.calls == 1


def contents(streams) -> list[str]:
    return [e.data["text"] for e in streams.read(TASK, events.FROM_START, 0.01)
            if e.name == events.CONTENT]


def test_chunks_within_the_window_are_one_event_after_the_first():
    streams = fake_streams(coalesce_seconds=60)
    write = streams.content_writer(TASK)

    for chunk in ("The plan", " includes", " an SLA", "."):
        write(chunk)
    assert contents(streams) == ["The plan"]  # the first at once, the rest wait

    write.close()
    assert contents(streams) == ["The plan", " includes an SLA."]


def test_a_chunk_waits_no_longer_than_the_window_when_the_model_goes_quiet():
    streams = fake_streams(coalesce_seconds=0.05)
    write = streams.content_writer(TASK)
    write("first")
    write(" second")  # within the window: it waits

    deadline = time.monotonic() + 5
    while contents(streams) != ["first", " second"] and time.monotonic() < deadline:
        time.sleep(0.01)

    assert contents(streams) == ["first", " second"]


def test_a_chunk_after_the_window_is_appended_at_once():
    streams = fake_streams(coalesce_seconds=0.01)
    write = streams.content_writer(TASK)
    write("first")
    time.sleep(0.02)

    write(" second")

    assert contents(streams) == ["first", " second"]


def test_reading_while_redis_is_down_says_it_is_unavailable():
    with pytest.raises(EventsUnavailable):
        TaskEventStreams(BrokenRedis(), 10, 60).read(TASK, events.FROM_START, 0.01)


# -- what the worker appends -------------------------------------------------------------------

def task_events(app, task_id) -> list[Event]:
    return app.extensions["task_events"].read(task_id, events.FROM_START, 0.01)


def test_a_reply_streams_start_content_and_end_that_match_what_is_stored(
        app, client, auth, conversation_id):
    task_id = ask(client, auth, conversation_id)
    reply.apply(args=[task_id])

    found = task_events(app, task_id)
    history = client.get(f"/api/conversations/{conversation_id}", headers=auth
                         ).get_json()["history"]

    assert [e.name for e in found][0] == "start"
    assert [e.name for e in found][-1] == "end"
    assert "".join(e.data["text"] for e in found if e.name == "content") == history[1]["text"]
    assert len([e for e in found if e.name == "content"]) > 1  # in chunks, not at once


def test_the_start_and_end_events_name_the_stored_messages(app, client, auth,
                                                           conversation_id, db):
    from app.models import Message

    task_id = ask(client, auth, conversation_id)
    reply.apply(args=[task_id])

    start, *_, end = task_events(app, task_id)
    question, answer = db.session.query(Message).order_by(Message.seq).all()

    assert start.data == {"task_id": task_id, "user_message_id": question.public_id,
                          "message_id": answer.public_id, "attempt": 1}
    assert end.data == {"task_id": task_id, "message_id": answer.public_id,
                        "model": answer.model,
                        "usage": {"input_tokens": answer.input_tokens,
                                  "output_tokens": answer.output_tokens}}


def test_a_failed_task_ends_its_stream_with_a_readable_error(app, client, auth,
                                                              conversation_id):
    with FakeAnthropicServer() as server:
        server.configure(faults=["400"])
        app.config.update(LLM_PROVIDER="anthropic", ANTHROPIC_API_KEY="test",
                          ANTHROPIC_BASE_URL=server.url, ANTHROPIC_MODEL="claude-test")
        task_id = ask(client, auth, conversation_id)
        reply.apply(args=[task_id])

    found = task_events(app, task_id)

    assert found[-1].name == "error"
    assert "400" in found[-1].data["message"]
    assert not [e for e in found if e.name == "content"]


def test_a_retry_after_a_cut_stream_starts_again_and_streams_the_whole_reply(
        app, client, auth, conversation_id):
    whole = "one two three four five six seven eight nine ten"
    with FakeAnthropicServer() as server:
        server.configure(faults=["cut"], reply=whole)
        app.config.update(LLM_PROVIDER="anthropic", ANTHROPIC_API_KEY="test",
                          ANTHROPIC_BASE_URL=server.url, ANTHROPIC_MODEL="claude-test")
        task_id = ask(client, auth, conversation_id)
        reply.apply(args=[task_id])

    found = task_events(app, task_id)
    starts = [n for n, e in enumerate(found) if e.name == "start"]

    assert [found[n].data["attempt"] for n in starts] == [1, 2]
    assert any(e.name == "content" for e in found[starts[0]:starts[1]])  # the cut part
    after_restart = found[starts[1]:]
    assert "".join(e.data["text"] for e in after_restart if e.name == "content") == whole
    assert after_restart[-1].name == "end"


# -- the web process's connections -------------------------------------------------------------

def test_a_process_can_hold_more_blocking_reads_than_redis_pys_default_pool(app):
    """redis-py's pools refuse a 101st connection by default; a web process holds one per
    open stream, hundreds at once."""
    from app.services.events import init_task_events

    app.config["REDIS_URL"] = "redis://127.0.0.1:6379/0"  # not connected: only the pool
    init_task_events(app)
    pool = app.extensions["task_events"].client.connection_pool

    assert pool.max_connections >= 1000

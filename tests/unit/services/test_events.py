"""Task event streams (app/services/events.py) and their SSE relay (app/streaming.py):
what the worker appends while a task runs, and what a client is sent."""

import json

import fakeredis
import pytest
import redis

import workers.tasks  # noqa: F401 - registers parley.reply
from app.services import events, language_models
from app.services.events import Event, EventsUnavailable, TaskEventStreams
from app.streaming import relay
from tests.conftest import ask
from tests.fake_anthropic import FakeAnthropicServer
from workers.tasks import reply

TASK = "00000000-0000-4000-8000-000000000001"


@pytest.fixture
def streams():
    return TaskEventStreams(fakeredis.FakeRedis(decode_responses=True), maxlen=1000,
                            ttl_seconds=60)


def parse(frames: list[str]) -> list[dict]:
    """The events of SSE frames: {"id", "event", "data"}; comments and retry left out."""
    parsed = []
    for block in "".join(frames).split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines()
                      if line and not line.startswith((":", "retry:")))
        if fields:
            parsed.append({"id": fields["id"], "event": fields["event"],
                           "data": json.loads(fields["data"])})
    return parsed


def never_finished():
    return None


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
    small = TaskEventStreams(fakeredis.FakeRedis(decode_responses=True), maxlen=10,
                             ttl_seconds=60)
    for n in range(200):
        small.append(TASK, events.CONTENT, {"text": str(n)})

    # Trimming is approximate (cheap for Redis): bounded, not exact.
    assert small.client.xlen(f"parley:task-events:{TASK}") < 200


class BrokenRedis:
    """A client whose every command fails, counting the attempts."""

    def __init__(self):
        self.calls = 0

    def pipeline(self, transaction=False):
        self.calls += 1
        raise redis.ConnectionError("Redis is down")

    def xread(self, *args, **kwargs):
        raise redis.ConnectionError("Redis is down")


def test_appending_while_redis_is_down_does_not_raise():
    assert TaskEventStreams(BrokenRedis(), 10, 60).append(TASK, events.START, {}) is None


def test_the_content_writer_stops_trying_after_redis_fails_once():
    broken = BrokenRedis()
    write = TaskEventStreams(broken, 10, 60).content_writer(TASK)

    for chunk in ("a", "b", "c"):
        write(chunk)

    assert broken.calls == 1


def test_reading_while_redis_is_down_says_it_is_unavailable():
    with pytest.raises(EventsUnavailable):
        TaskEventStreams(BrokenRedis(), 10, 60).read(TASK, events.FROM_START, 0.01)


# -- the relay -------------------------------------------------------------------------------

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


# -- models ---------------------------------------------------------------------------------

def test_a_model_id_is_the_same_everywhere_and_differs_per_model():
    assert language_models.model_id("anthropic", "claude-x") == language_models.model_id(
        "anthropic", "claude-x")
    assert language_models.model_id("anthropic", "claude-x") != language_models.model_id(
        "anthropic", "claude-y")


def test_sync_adds_the_offline_model_and_claude_only_with_a_key(app):
    app.config.update(ANTHROPIC_API_KEY=None, CLAUDE_MODELS=["claude-a"])
    language_models.sync_configured(app.config)
    assert [m.provider for m in language_models.list_models()] == ["offline"]

    app.config.update(ANTHROPIC_API_KEY="key")
    language_models.sync_configured(app.config)
    assert [(m.provider, m.name) for m in language_models.list_models()] == [
        ("anthropic", "claude-a"), ("offline", language_models.OFFLINE_MODEL_NAME)]


def test_sync_never_enables_a_model_an_operator_disabled(app):
    language_models.sync_configured(app.config)
    language_models.disable_model(language_models.OFFLINE_MODEL_NAME)

    language_models.sync_configured(app.config)

    assert language_models.list_models() == []
    assert len(language_models.list_models(include_disabled=True)) == 1


def test_adding_a_disabled_model_enables_it_again(app):
    model = language_models.add_model("anthropic", "claude-b")
    language_models.disable_model(model.id)

    language_models.add_model("anthropic", "claude-b")

    assert [m.id for m in language_models.list_models()] == [model.id]


def test_a_model_of_an_unknown_provider_is_refused(app):
    from app.errors import BadRequest

    with pytest.raises(BadRequest):
        language_models.add_model("openai", "gpt")


def test_disabling_a_name_two_providers_share_asks_for_the_id(app):
    from app.errors import BadRequest

    language_models.add_model("anthropic", "shared-name")
    language_models.add_model("offline", "shared-name")

    with pytest.raises(BadRequest):
        language_models.disable_model("shared-name")
    assert len(language_models.list_models()) == 2


def test_a_process_can_hold_more_blocking_reads_than_redis_pys_default_pool(app):
    """redis-py's pools refuse a 101st connection by default; a web process holds one per
    open stream, hundreds at once."""
    from app.services.events import init_task_events

    app.config["REDIS_URL"] = "redis://127.0.0.1:6379/0"  # not connected: only the pool
    init_task_events(app)
    pool = app.extensions["task_events"].client.connection_pool

    assert pool.max_connections >= 1000

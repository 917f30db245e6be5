"""A turn (POST /v1/dialog-sessions/{id}/messages): the agent's answer as Server-Sent
Events, read with an independent parser (httpx-sse) and as the spec's own Python
example reads them, and resumed at GET /api/tasks/{task_id}/events with Last-Event-ID.
No worker runs: the turn is run in-process with the offline model, as a worker would."""

from datetime import datetime

import pytest

from tests.support.dialog_sessions import (LEGAL_WARNING, SPEC_EXAMPLE, event_order, sse,
                                           spec_example_events)

pytestmark = pytest.mark.integration


@pytest.fixture
def turn(dialog):
    """The spec's example session, then the user names its domain."""
    session_id = dialog.create(**SPEC_EXAMPLE)["session_id"]
    return session_id, dialog.turn(session_id, "legal")


def test_a_turn_answers_200_with_a_well_formed_event_stream(turn):
    _, answered = turn
    assert answered.response.status_code == 200
    assert answered.response.mimetype == "text/event-stream"
    assert answered.response.headers["Cache-Control"] == "no-cache"
    events = answered.events
    assert events
    for event in events:
        assert event["id"] and event["event"], event
        assert set(event["data"]) == {"type", "data"}, event
        assert event["data"]["type"] == event["event"]
        assert isinstance(event["data"]["data"], dict)
    orders = [event_order(event["id"]) for event in events]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)


def test_the_stream_starts_with_the_task_id_and_ends_with_done(turn):
    session_id, answered = turn
    events = answered.events
    assert events[0]["event"] == "start"
    assert events[0]["data"]["data"]["task_id"] == answered.task_id
    assert events[0]["data"]["data"]["session_id"] == session_id
    assert events[-1]["event"] == "done"
    assert [e["event"] for e in events].count("done") == 1
    assert "error" not in [e["event"] for e in events]


def test_tokens_join_to_the_done_messages_content(turn):
    _, answered = turn
    tokens = answered.of("token")
    assert len(tokens) > 1  # streamed, not sent whole
    message = answered.done
    assert "".join(token["text"] for token in tokens) == message["content"]
    assert message["role"] == "assistant" and message["timestamp"]
    assert "tone" in message["content"].lower()


def test_the_briefing_update_phase_warning_and_actions_events(turn):
    _, answered = turn
    assert answered.of("briefing_update") == [{"field": "domain", "value": "legal"}]
    assert answered.of("phase") == [{"phase": 2}]
    assert answered.of("warning") == [{"message": LEGAL_WARNING}]
    (actions,) = answered.of("actions")
    assert actions["actions"] == answered.done["actions"]
    assert actions["actions"] and all(a["action"] == "set_tone" for a in actions["actions"])
    assert {"formal", "informal"} <= {a["payload"]["tone"] for a in actions["actions"]}


def test_the_turn_is_stored_in_the_session(dialog, turn):
    session_id, answered = turn
    session = dialog.session(session_id)
    assert session["messages"][-1]["content"] == answered.done["content"]
    assert session["phase"] == 2
    assert dialog.preview(session_id)["briefing_json"]["domain"] == "legal"


def test_the_done_message_is_the_stored_reply(dialog, turn):
    """The message `done` assembles is the one the history then shows: same content,
    same timestamp (a client may match the two)."""
    session_id, answered = turn
    stored = dialog.session(session_id)["messages"][-1]
    done = answered.done
    assert (done["role"], done["content"]) == (stored["role"], stored["content"])
    assert datetime.fromisoformat(done["timestamp"]) == \
        datetime.fromisoformat(stored["timestamp"]), (done["timestamp"], stored["timestamp"])


def test_the_spec_python_example_reads_the_stream_unchanged(turn):
    """for line in response.iter_lines(): if line.startswith(b"data: "): ..."""
    _, answered = turn
    printed, done = [], False
    for event in spec_example_events(answered.body):
        if event.get("type") == "token":
            printed.append(event["data"]["text"])
        elif event.get("type") == "done":
            done = True
    assert done
    assert "".join(printed) == answered.done["content"]
    assert [event["type"] for event in spec_example_events(answered.body)] == [
        event["event"] for event in answered.events]


def test_resume_after_the_second_event_gives_exactly_the_rest(client, auth, turn):
    _, answered = turn
    events = answered.events
    assert len(events) > 4
    response = client.get(f"/api/tasks/{answered.task_id}/events",
                          headers={**auth, "Last-Event-ID": events[1]["id"]},
                          buffered=False)
    try:
        assert response.status_code == 200, response.get_data()
        assert response.mimetype == "text/event-stream"
        resumed = sse(response.get_data())
    finally:
        response.close()
    assert resumed == events[2:]


def test_the_task_events_from_the_start_are_the_turns_events(client, auth, turn):
    _, answered = turn
    response = client.get(f"/api/tasks/{answered.task_id}/events", headers=auth,
                          buffered=False)
    try:
        replayed = sse(response.get_data())
    finally:
        response.close()
    # All but the opening `start`, which the POST sent before the turn began.
    assert replayed == answered.events[1:]


def test_a_second_turn_streams_only_its_own_events(dialog, turn):
    session_id, _ = turn
    second = dialog.turn(session_id, "formal")
    assert second.of("briefing_update") == [{"field": "tone", "value": "formal"}]
    assert second.of("phase") == [{"phase": 3}]
    assert second.of("warning") == []  # the legal advice was given already
    assert "".join(t["text"] for t in second.of("token")) == second.done["content"]
    assert dialog.preview(session_id)["missing_fields"] == []

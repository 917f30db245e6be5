"""The Python client's wait(): long polls while the server offers them, else polls
politely (pauses doubling with jitter, conditional reads); returns the final status or
raises WaitTimeout. Time is the fake Clock's: it passes only when the client sleeps or
when a scripted long poll says it waited."""

import pytest

from parley_client import Task, WaitTimeout
from tests.support.python_client import Clock, Script, answer, client, polling_error, status

QUEUED = status()
RUNNING = status(stage="running", updated_at="2026-01-01T00:00:01+00:00")
DONE = status(state="SUCCESS", stage="succeeded", reply_message_id=2,
              updated_at="2026-01-01T00:00:02+00:00")
FAILED = status(state="FAILURE", stage="failed", error="gave up after 6 attempts",
                updated_at="2026-01-01T00:00:02+00:00")


def after(clock: Clock, seconds: float, body: dict):
    """An answer that comes `seconds` after the request, as a long poll's does."""
    def answer_later(request):
        clock.now += seconds
        return answer(200, body)
    return answer_later


def test_a_long_poll_is_one_request_per_change_of_the_task():
    clock = Clock()
    script = Script([answer(200, RUNNING), after(clock, 3, DONE)])

    final = client(script, clock).wait(Task("t-1"), timeout=60)

    assert final.succeeded and final.reply_message_id == 2
    assert [request.url.params["wait"] for request in script.requests] == ["60", "60"]
    assert clock.sleeps == []


def test_a_long_poll_asks_no_longer_than_the_time_left():
    clock = Clock()
    script = Script([after(clock, 20, QUEUED), after(clock, 1, DONE)])

    client(script, clock).wait("t-1", timeout=25)

    assert [request.url.params["wait"] for request in script.requests] == ["25", "5"]


def test_a_long_poll_read_timeout_covers_its_wait():
    script = Script([answer(200, DONE)])

    client(script).wait("t-1", timeout=45)

    timeout = script.requests[0].extensions["timeout"]
    assert timeout["read"] == 30 + 45


def test_a_failed_task_is_returned_not_raised():
    final = client(Script([answer(200, FAILED)])).wait("t-1")

    assert final.failed and final.error == "gave up after 6 attempts"


def test_a_server_answering_long_polls_at_once_unchanged_is_polled_politely():
    """Without Redis the server answers a long poll at once; the client must not spin."""
    clock = Clock()
    script = Script([answer(200, QUEUED) for _ in range(4)] + [answer(200, DONE)])

    client(script, clock).wait("t-1", timeout=60)

    assert len(clock.sleeps) == 3
    assert clock.sleeps[0] < clock.sleeps[1] < clock.sleeps[2]  # doubling, jitter aside


def test_a_server_refusing_wait_is_polled_with_conditional_reads():
    clock = Clock()
    refused = polling_error(422, "Invalid request: wait: Unknown field.",
                            errors={"query": {"wait": ["Unknown field."]}})
    script = Script([answer(422, refused), answer(200, QUEUED, {"ETag": '"v1"'}),
                     answer(304), answer(304), answer(200, DONE, {"ETag": '"v2"'})])
    parley = client(script, clock)

    assert parley.wait("t-1", timeout=60).succeeded

    polls = script.requests[1:]
    assert all("wait" not in request.url.params for request in polls)
    assert "If-None-Match" not in polls[0].headers
    assert [request.headers["If-None-Match"] for request in polls[1:]] == ['"v1"'] * 3
    assert len(clock.sleeps) == 3 and clock.sleeps == sorted(clock.sleeps)
    # Learnt once: the next wait polls from the start.
    script.answers = [answer(200, DONE)]
    parley.wait("t-2")
    assert "wait" not in script.requests[-1].url.params


def test_bad_input_other_than_wait_is_raised():
    from parley_client import InvalidRequest

    script = Script([answer(422, polling_error(422, "Invalid task id.",
                                               errors={"path": {"task_id": ["bad"]}}))])

    with pytest.raises(InvalidRequest):
        client(script).wait("t-1")


def test_a_task_still_unfinished_at_the_deadline_raises_with_its_last_status():
    clock = Clock()
    script = Script([after(clock, 10, RUNNING), after(clock, 10, RUNNING)])

    with pytest.raises(WaitTimeout) as raised:
        client(script, clock).wait("t-1", timeout=20)

    assert raised.value.task_status.stage == "running"
    assert isinstance(raised.value, TimeoutError)
    assert len(script.requests) == 2

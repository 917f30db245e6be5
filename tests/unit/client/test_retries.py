"""The Python client's retries: which requests are sent again (GETs, keyed POSTs),
after which answers (429 with Retry-After, 503, no answer, a key still in use), how long
it waits (Retry-After, else exponential backoff with jitter), and when it gives up."""

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from parley_client import (Conflict, ConnectionFailed, RateLimited, RetryPolicy,
                           Unavailable)
from parley_client.retries import retry_after_seconds
from tests.support.python_client import Clock, Script, answer, client, polling_error, status

RATE_LIMITED = polling_error(429, "Too many requests.")
UNAVAILABLE = polling_error(503, "The database is unreachable.")
TASK = {"task_id": "t-1"}


def test_a_get_refused_429_is_sent_again_after_retry_after():
    clock = Clock()
    script = Script([answer(429, RATE_LIMITED, {"Retry-After": "2"}), answer(200, status())])

    found = client(script, clock).task("t-1")

    assert found.task_id == "t-1" and len(script.requests) == 2
    [pause] = clock.sleeps
    # Never sooner than asked (the server's whole seconds are rounded down); the rest
    # is jitter: half a second to a second, and up to 10 % of the wait.
    assert 2.5 <= pause <= 3.2


def test_a_retry_after_given_as_a_date_counts_the_seconds_to_it():
    when = datetime.now(UTC) + timedelta(seconds=30)
    response = httpx.Response(429, headers={"Retry-After": format_datetime(when, usegmt=True)})

    assert 28 <= retry_after_seconds(response) <= 30


def test_a_503_without_retry_after_backs_off_exponentially_with_jitter():
    clock = Clock()
    script = Script([answer(503, UNAVAILABLE) for _ in range(3)] + [answer(200, status())])

    client(script, clock, backoff_base=0.5).task("t-1")

    assert len(script.requests) == 4
    for attempt, pause in enumerate(clock.sleeps, start=1):
        assert 0 <= pause <= 0.5 * 2 ** (attempt - 1)
    assert len(set(clock.sleeps)) == 3  # drawn at random, not in step


def test_it_gives_up_after_max_attempts_with_the_last_error():
    clock = Clock()
    script = Script([answer(503, UNAVAILABLE, {"Retry-After": "1"}) for _ in range(3)])

    with pytest.raises(Unavailable) as raised:
        client(script, clock, max_attempts=3).task("t-1")

    assert len(script.requests) == 3 and len(clock.sleeps) == 2
    assert raised.value.message == "The database is unreachable."


def test_a_429_without_retry_after_is_raised_at_once():
    script = Script([answer(429, {"error": {"status": 429, "code": "message_limit",
                                            "message": "Please confirm or cancel."}})])

    with pytest.raises(RateLimited) as raised:
        client(script).sessions.get("dialog_1")

    assert raised.value.code == "message_limit" and len(script.requests) == 1


def test_a_429_asking_to_wait_longer_than_max_retry_after_is_raised_with_the_wait():
    clock = Clock()
    script = Script([answer(429, RATE_LIMITED, {"Retry-After": "86400"})])

    with pytest.raises(RateLimited) as raised:
        client(script, clock, max_retry_after=60).task("t-1")

    assert raised.value.retry_after == 86400 and clock.sleeps == []


def test_a_creating_post_carries_a_new_idempotency_key_and_is_sent_again_with_the_same():
    script = Script([answer(503, UNAVAILABLE), answer(202, TASK),
                     answer(202, {"task_id": "t-2"})])
    parley = client(script)

    first = parley.ask(1, "Does it include an SLA?")
    second = parley.ask(1, "And the price?")

    keys = [request.headers["Idempotency-Key"] for request in script.requests]
    assert keys[0] == keys[1] == first.idempotency_key
    assert keys[2] == second.idempotency_key != first.idempotency_key
    assert (first.id, second.id) == ("t-1", "t-2")


def test_a_caller_may_name_the_idempotency_key():
    script = Script([answer(202, TASK)])

    task = client(script).ask(1, "Hello?", idempotency_key="my-key-1")

    assert script.requests[0].headers["Idempotency-Key"] == "my-key-1"
    assert task.idempotency_key == "my-key-1"


def test_a_post_without_a_key_is_not_sent_again():
    script = Script([answer(503, UNAVAILABLE)])

    with pytest.raises(Unavailable):
        client(script).cancel("t-1")

    assert len(script.requests) == 1


def test_appending_to_a_dialogue_is_not_sent_again():
    script = Script([answer(429, {"code": "RATE_LIMIT_EXCEEDED", "message": "Slow down.",
                                  "requestId": "req_1"}, {"Retry-After": "1"})])

    with pytest.raises(RateLimited) as raised:
        client(script).dialogues.append("d-1", {"role": "user", "content": "Hi"})

    assert raised.value.code == "RATE_LIMIT_EXCEEDED" and len(script.requests) == 1


def test_a_get_that_got_no_answer_is_sent_again():
    script = Script([httpx.ConnectError("refused"), httpx.ReadTimeout("slow"),
                     answer(200, status())])

    assert client(script).task("t-1").task_id == "t-1"
    assert len(script.requests) == 3


def test_no_answer_after_every_attempt_is_a_connection_failure():
    script = Script([httpx.ConnectError("refused")] * 2)

    with pytest.raises(ConnectionFailed, match="ConnectError"):
        client(script, max_attempts=2).task("t-1")


def test_a_keyed_post_whose_answer_was_lost_waits_out_the_key_in_use():
    """The first try was handled but its answer lost; the repeat finds the key still
    held (409, which the polling face's body names no code for), then gets the replay."""
    script = Script([httpx.ReadTimeout("slow"),
                     answer(409, polling_error(409, "A request with this Idempotency-Key "
                                                    "is still being handled; retry.")),
                     answer(202, TASK, {"Idempotent-Replayed": "true"})])

    task = client(script).ask(1, "Hello?")

    assert task.id == "t-1" and len(script.requests) == 3
    assert len({request.headers["Idempotency-Key"] for request in script.requests}) == 1


def test_a_409_to_a_first_try_is_a_real_conflict():
    script = Script([answer(409, polling_error(409, "This conversation has ended."))])

    with pytest.raises(Conflict):
        client(script).ask(1, "Hello?")

    assert len(script.requests) == 1


def test_the_dialogue_stores_key_in_use_code_is_waited_out():
    script = Script([answer(409, {"code": "IDEMPOTENCY_KEY_IN_USE", "message": "In use.",
                                  "requestId": "r"}),
                     answer(201, {"id": "d-1", "status": "active"})])

    assert client(script).dialogues.create().id == "d-1"
    assert len(script.requests) == 2


@pytest.mark.parametrize("attempt", range(1, 9))
def test_backoff_stays_under_its_doubling_ceiling(attempt):
    policy = RetryPolicy(backoff_base=0.5, backoff_max=8.0, rng=random.Random(attempt))

    draws = [policy.backoff(attempt) for _ in range(200)]

    assert all(0 <= draw <= min(8.0, 0.5 * 2 ** (attempt - 1)) for draw in draws)


@pytest.mark.parametrize("polls", range(1, 8))
def test_a_polling_pause_is_at_least_half_its_ceiling(polls):
    policy = RetryPolicy(rng=random.Random(polls))
    ceiling = min(5.0, 0.25 * 2 ** (polls - 1))

    draws = [policy.poll_delay(polls) for _ in range(200)]

    assert all(ceiling / 2 <= draw <= ceiling for draw in draws)


def test_every_request_carries_the_key_as_a_bearer_and_names_the_client():
    script = Script([answer(200, status())])

    client(script).task("t-1")

    [request] = script.requests
    assert request.headers["Authorization"] == "Bearer pk_test"
    assert request.headers["User-Agent"].startswith("parley-client/")
    assert request.url == "http://parley.test/api/task_status/t-1"

"""The long poll of the task status on the real path (a real worker, the fake Claude,
real Redis): `?wait=N` answers when the task is claimed or finishes, not after N
seconds, and after N seconds when nothing happens."""

import time

import pytest

from tests.support.data import ask, setup_conversation

pytestmark = pytest.mark.integration

MODEL_SECONDS = 1.0  # the fake model's time to answer


def status(stack, auth: dict, task_id: str, wait: int) -> tuple[dict, float]:
    started = time.monotonic()
    response = stack.client.get(f"/api/task_status/{task_id}?wait={wait}", headers=auth)
    assert response.status_code == 200, response.get_json()
    return response.get_json(), time.monotonic() - started


def test_a_long_poll_answers_when_the_task_is_claimed_then_when_it_finishes(
        claude_stack, fake_model):
    fake_model.configure(latency=MODEL_SECONDS)
    auth = claude_stack.new_org()
    task_id = ask(claude_stack.client, auth, setup_conversation(claude_stack.client, auth))

    seen, polls = [], 0
    started = time.monotonic()
    while not seen or seen[-1]["state"] == "PENDING":
        found, _ = status(claude_stack, auth, task_id, wait=20)
        seen.append(found)
        polls += 1
        assert polls <= 3, seen
    took = time.monotonic() - started

    assert seen[-1]["state"] == "SUCCESS"
    assert MODEL_SECONDS <= took < 10  # answered by the change, not after 20 s
    assert "running" in [s["stage"] for s in seen] or polls == 1


def test_a_long_poll_on_a_finished_task_answers_at_once(claude_stack):
    auth = claude_stack.new_org()
    task_id = ask(claude_stack.client, auth, setup_conversation(claude_stack.client, auth))
    claude_stack.wait_for_task(auth, task_id)

    found, took = status(claude_stack, auth, task_id, wait=20)

    assert found["state"] == "SUCCESS" and took < 2


def test_a_long_poll_with_nothing_happening_answers_after_its_wait(claude_stack,
                                                                    fake_model):
    fake_model.configure(latency=4.0)
    auth = claude_stack.new_org()
    conversation_id = setup_conversation(claude_stack.client, auth)
    ask(claude_stack.client, auth, conversation_id)  # the model takes 4 s over this one
    waiting = ask(claude_stack.client, auth, conversation_id, "And the price?")
    time.sleep(0.5)  # the first is claimed by now; the second waits its turn

    found, took = status(claude_stack, auth, waiting, wait=1)

    assert found["stage"] == "queued"
    assert 0.9 <= took < 3

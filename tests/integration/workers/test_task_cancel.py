"""Task cancel on the real path (a real worker, the fake Claude streaming slowly, real
Redis and PostgreSQL): a task waiting its turn ends at once and the conversation goes
on; a running one stops at its next chunk and stores nothing; a finished one is 409."""

import time

import pytest

from tests.support.data import ask, history, setup_conversation

pytestmark = pytest.mark.integration


def cancel(stack, auth: dict, task_id: str):
    return stack.client.post(f"/api/tasks/{task_id}/cancel", headers=auth)


def status(stack, auth: dict, task_id: str) -> dict:
    return stack.client.get(f"/api/task_status/{task_id}", headers=auth).get_json()


def wait_for_stage(stack, auth: dict, task_id: str, stage: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while (found := status(stack, auth, task_id))["stage"] != stage:
        assert time.monotonic() < deadline, found
        time.sleep(0.05)
    return found


def event_names(stack, auth: dict, task_id: str) -> list[tuple[str, dict]]:
    response = stack.client.get(f"/api/tasks/{task_id}/events", headers=auth)
    frames = response.get_data(as_text=True).strip().split("\n\n")
    return [line.split(": ", 1)[1] for part in frames for line in part.splitlines()
            if line.startswith("event: ")]


def test_a_waiting_question_ends_at_once_and_the_next_one_goes_on(claude_stack,
                                                                   fake_model):
    fake_model.configure(latency=1.0)
    auth = claude_stack.new_org()
    conversation_id = setup_conversation(claude_stack.client, auth)
    first = ask(claude_stack.client, auth, conversation_id)
    waiting = ask(claude_stack.client, auth, conversation_id, "And the price?")
    last = ask(claude_stack.client, auth, conversation_id, "Anything else?")

    response = cancel(claude_stack, auth, waiting)

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["result"], body["state"], body["stage"]) == ("canceled", "FAILURE",
                                                             "canceled")
    assert "canceled" in body["error"]
    assert claude_stack.wait_for_task(auth, first)["state"] == "SUCCESS"
    assert claude_stack.wait_for_task(auth, last)["state"] == "SUCCESS"
    roles = [m["role"] for m in history(claude_stack.client, auth, conversation_id)]
    assert roles.count("user") == 3  # every question stays in the history
    assert len(roles) == 5  # the canceled one has no reply
    assert event_names(claude_stack, auth, waiting) == ["error"]


def test_a_running_task_stops_at_its_next_chunk_and_stores_nothing(claude_stack,
                                                                   fake_model):
    fake_model.configure(chunk_delay=0.3)  # a long stream of slow chunks
    auth = claude_stack.new_org()
    conversation_id = setup_conversation(claude_stack.client, auth)
    running = ask(claude_stack.client, auth, conversation_id)
    after = ask(claude_stack.client, auth, conversation_id, "And the price?")
    wait_for_stage(claude_stack, auth, running, "running")

    response = cancel(claude_stack, auth, running)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["result"] == "canceling"
    ended = claude_stack.wait_for_task(auth, running)
    assert (ended["state"], ended["stage"]) == ("FAILURE", "canceled")
    assert ended["reply_message_id"] is None  # no partial reply
    names = event_names(claude_stack, auth, running)
    assert names[-1] == "error" and "end" not in names
    fake_model.configure(chunk_delay=0)
    assert claude_stack.wait_for_task(auth, after)["state"] == "SUCCESS"
    roles = [m["role"] for m in history(claude_stack.client, auth, conversation_id)]
    assert roles.count("user") == 2 and len(roles) == 3


def test_a_finished_task_cannot_be_canceled(claude_stack):
    auth = claude_stack.new_org()
    task_id = ask(claude_stack.client, auth, setup_conversation(claude_stack.client, auth))
    claude_stack.wait_for_task(auth, task_id)

    response = cancel(claude_stack, auth, task_id)

    assert response.status_code == 409
    assert "finished" in response.get_json()["message"]
    assert status(claude_stack, auth, task_id)["state"] == "SUCCESS"


def test_cancel_of_an_unknown_or_foreign_task_is_404(claude_stack):
    auth, other = claude_stack.new_org(), claude_stack.new_org()
    task_id = ask(claude_stack.client, auth, setup_conversation(claude_stack.client, auth))

    assert cancel(claude_stack, other, task_id).status_code == 404
    assert cancel(claude_stack, auth, "0" * 8 + "-0000-0000-0000-" + "0" * 12
                  ).status_code == 404

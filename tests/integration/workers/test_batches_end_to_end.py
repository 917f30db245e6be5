"""Batches on the real path: PostgreSQL, Redis, a real worker and the fake Claude. A
2,000-request batch is published by a worker, answered, and its results list every
line once and in input order; questions joining existing conversations keep their
conversations' order; a long poll on the batch wakes when it completes; cancel stops
what is still queued."""

import json
import time

import pytest

from tests.support.data import ask, history, setup_conversation

pytestmark = pytest.mark.integration

BIG = 2_000


def submit(stack, auth: dict, requests: list[dict]) -> dict:
    response = stack.client.post("/api/batches", json={"requests": requests}, headers=auth)
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def batch_status(stack, auth: dict, batch_id: str, wait: int = 0) -> dict:
    response = stack.client.get(f"/api/batches/{batch_id}?wait={wait}", headers=auth)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def wait_until_done(stack, auth: dict, batch_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while (found := batch_status(stack, auth, batch_id, wait=5))["status"] not in (
            "completed", "canceled"):
        assert time.monotonic() < deadline, (found, stack.log_path.read_text()[-3000:])
    return found


def results(stack, auth: dict, batch_id: str) -> list[dict]:
    response = stack.client.get(f"/api/batches/{batch_id}/results", headers=auth)
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


def test_a_big_batch_completes_with_every_line_once_and_in_order(claude_stack):
    auth = claude_stack.new_org()
    data_set_id = claude_stack.client.post("/api/data_sets", json={"name": "Plans"},
                                           headers=auth).get_json()["id"]
    requests = [{"custom_id": f"ticket-{n}", "data_set_id": data_set_id,
                 "question_message": f"What about ticket {n}?"} for n in range(BIG)]

    batch = submit(claude_stack, auth, requests)
    done = wait_until_done(claude_stack, auth, batch["id"])

    assert done["status"] == "completed" and done["completed_at"]
    assert done["request_counts"] == {"total": BIG, "queued": 0, "running": 0,
                                      "succeeded": BIG, "failed": 0, "canceled": 0}
    lines = results(claude_stack, auth, batch["id"])
    assert [line["custom_id"] for line in lines] == [r["custom_id"] for r in requests]
    assert len({line["task_id"] for line in lines}) == BIG
    assert all(line["state"] == "succeeded" and line["reply"]["text"] for line in lines)


def test_batch_questions_keep_their_conversations_order(claude_stack, fake_model):
    fake_model.configure(latency=0.2)
    auth = claude_stack.new_org()
    conversations = [setup_conversation(claude_stack.client, auth) for _ in range(3)]
    before = [ask(claude_stack.client, auth, conversation_id, "Before the batch?")
              for conversation_id in conversations]
    requests = [{"custom_id": f"{c}-{n}", "conversation_id": c,
                 "question_message": f"Batch question {n} for {c}?"}
                for n in range(4) for c in conversations]

    batch = submit(claude_stack, auth, requests)
    after = [ask(claude_stack.client, auth, c, "After the batch?") for c in conversations]
    wait_until_done(claude_stack, auth, batch["id"])
    for task_id in before + after:
        assert claude_stack.wait_for_task(auth, task_id)["state"] == "SUCCESS"

    for conversation_id in conversations:
        said = history(claude_stack.client, auth, conversation_id)
        questions = [m["text"] for m in said if m["role"] == "user"]
        assert questions == ["Before the batch?",
                             *(f"Batch question {n} for {conversation_id}?" for n in range(4)),
                             "After the batch?"]
        # Each reply follows its question: the history alternates, nothing unanswered.
        assert [m["role"] for m in said] == ["user", "agent"] * 6
        assert all(m["reply_to"] == said[i - 1]["id"] for i, m in enumerate(said)
                   if m["role"] == "agent")


def test_a_long_poll_on_the_batch_wakes_when_it_completes(claude_stack, fake_model):
    fake_model.configure(latency=1.0)
    auth = claude_stack.new_org()
    data_set_id = claude_stack.client.post("/api/data_sets", json={"name": "Plans"},
                                           headers=auth).get_json()["id"]
    batch = submit(claude_stack, auth, [{"custom_id": "one", "data_set_id": data_set_id,
                                         "question_message": "Anything?"}])

    started = time.monotonic()
    found = batch_status(claude_stack, auth, batch["id"], wait=30)
    took = time.monotonic() - started

    assert found["status"] == "completed"
    assert took < 15  # woken by the completion, not after 30 s


def test_cancel_mid_batch_ends_the_queued_and_lets_the_running_finish(claude_stack,
                                                                      fake_model):
    fake_model.configure(latency=1.0)
    auth = claude_stack.new_org()
    data_set_id = claude_stack.client.post("/api/data_sets", json={"name": "Plans"},
                                           headers=auth).get_json()["id"]
    batch = submit(claude_stack, auth, [
        {"custom_id": f"r{n}", "data_set_id": data_set_id, "question_message": "Hi?"}
        for n in range(200)])
    deadline = time.monotonic() + 20
    while batch_status(claude_stack, auth, batch["id"])["request_counts"]["running"] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)

    canceled = claude_stack.client.post(f"/api/batches/{batch['id']}/cancel", headers=auth)

    assert canceled.status_code == 200
    assert canceled.get_json()["status"] in ("canceling", "canceled")
    done = wait_until_done(claude_stack, auth, batch["id"])
    counts = done["request_counts"]
    assert done["status"] == "canceled"
    assert counts["canceled"] > 100 and counts["succeeded"] >= 1
    assert counts["succeeded"] + counts["canceled"] + counts["failed"] == 200
    lines = results(claude_stack, auth, batch["id"])
    assert all((line["reply"] is None) == (line["state"] != "succeeded") for line in lines)

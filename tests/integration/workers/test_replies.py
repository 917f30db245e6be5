"""The polling face on the real path: API → PostgreSQL + Redis → a Celery worker
process → the fake Anthropic server through the real SDK (or the offline model)."""

import os

import pytest

from app.extensions import db
from app.models import Message
from tests.support.data import SLA_QUESTION, ask, history, setup_conversation

pytestmark = pytest.mark.integration
QUESTION = SLA_QUESTION


def test_spec_flow_with_claude(claude_stack, fake_model):
    auth = claude_stack.new_org()
    conversation_id = setup_conversation(claude_stack.client, auth)
    task_id = ask(claude_stack.client, auth, conversation_id)

    status = claude_stack.wait_for_task(auth, task_id)

    assert status["state"] == "SUCCESS"
    messages = history(claude_stack.client, auth, conversation_id)
    assert [m["role"] for m in messages] == ["user", "agent"]
    assert messages[0]["text"] == QUESTION
    assert messages[1]["text"].startswith("[fake-claude] I read 1 messages.")
    # The retrieved passage reached the model, named by its document.
    assert "Sources: FiberUP Business Duplex" in messages[1]["text"]
    assert fake_model.requests[-1]["stream"] is True
    reply = db.session.get(Message, status["reply_message_id"])
    assert reply.model == "claude-fake-1"
    assert reply.input_tokens > 0 and reply.output_tokens > 0


def test_second_question_sees_the_first_answer(claude_stack, fake_model):
    auth = claude_stack.new_org()
    conversation_id = setup_conversation(claude_stack.client, auth)
    client = claude_stack.client
    claude_stack.wait_for_task(auth, ask(client, auth, conversation_id))
    claude_stack.wait_for_task(auth, ask(client, auth, conversation_id, "And the price?"))

    sent = fake_model.requests[-1]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[1]["content"].startswith("[fake-claude]")
    assert [m["role"] for m in history(claude_stack.client, auth, conversation_id)] == [
        "user", "agent", "user", "agent"]


def test_transient_model_errors_are_retried(claude_stack, fake_model):
    fake_model.configure(faults=["429", "529", "500", "cut"])
    auth = claude_stack.new_org()
    conversation_id = setup_conversation(claude_stack.client, auth)

    status = claude_stack.wait_for_task(auth, ask(claude_stack.client, auth, conversation_id))

    assert status["state"] == "SUCCESS"
    assert status["attempts"] == 5
    messages = history(claude_stack.client, auth, conversation_id)
    replies = [m for m in messages if m["role"] == "agent"]
    # The stream cut mid-way was not stored: one reply, and a whole one.
    assert len(replies) == 1
    assert replies[0]["text"].startswith("[fake-claude]")
    assert "Sources:" in replies[0]["text"]


def test_model_timeout_is_retried(claude_stack, fake_model):
    fake_model.configure(faults=["timeout"], timeout_sleep=3.0)
    auth = claude_stack.new_org()
    conversation_id = setup_conversation(claude_stack.client, auth)

    status = claude_stack.wait_for_task(auth, ask(claude_stack.client, auth, conversation_id))

    assert status["state"] == "SUCCESS"
    assert status["attempts"] == 2


def test_permanent_model_error_fails_readably(claude_stack, fake_model):
    fake_model.configure(faults=["400"])
    auth = claude_stack.new_org()
    conversation_id = setup_conversation(claude_stack.client, auth)

    status = claude_stack.wait_for_task(auth, ask(claude_stack.client, auth, conversation_id))

    assert status["state"] == "FAILURE"
    assert status["attempts"] == 1
    assert "model error 400" in status["error"]
    assert [m["role"] for m in history(claude_stack.client, auth, conversation_id)] == ["user"]


def test_retries_exhausted_end_in_failure(claude_stack, fake_model):
    fake_model.configure(fault_share=1.0, fault_kinds=["529"])
    auth = claude_stack.new_org()
    conversation_id = setup_conversation(claude_stack.client, auth)

    status = claude_stack.wait_for_task(auth, ask(claude_stack.client, auth, conversation_id))

    assert status["state"] == "FAILURE"
    assert status["attempts"] == 5  # the first try and PARLEY_REPLY_MAX_RETRIES=4
    assert "gave up after 5 attempts" in status["error"]
    assert "529" in status["error"]


def test_unknown_and_foreign_ids_are_404(claude_stack):
    owner, stranger = claude_stack.new_org(), claude_stack.new_org()
    conversation_id = setup_conversation(claude_stack.client, owner)
    task_id = ask(claude_stack.client, owner, conversation_id)
    client = claude_stack.client

    assert client.get("/api/task_status/00000000-0000-0000-0000-000000000000",
                      headers=owner).status_code == 404
    assert client.get(f"/api/task_status/{task_id}", headers=stranger).status_code == 404
    assert client.get(f"/api/conversations/{conversation_id}",
                      headers=stranger).status_code == 404
    response = client.post(f"/api/conversations/{conversation_id}",
                           json={"question_message": "hi"}, headers=stranger)
    assert response.status_code == 404
    assert response.get_json()["message"] == f"Conversation {conversation_id} not found."


def test_offline_model_answers_from_the_documents(offline_stack):
    auth = offline_stack.new_org()
    conversation_id = setup_conversation(offline_stack.client, auth)

    status = offline_stack.wait_for_task(auth, ask(offline_stack.client, auth, conversation_id))

    assert status["state"] == "SUCCESS"
    answer = history(offline_stack.client, auth, conversation_id)[1]["text"]
    assert "\u201cFiberUP Business Duplex\u201d" in answer
    assert "includes an SLA guaranteeing 99.9% uptime" in answer


def test_offline_model_says_when_the_data_set_has_no_answer(offline_stack):
    auth = offline_stack.new_org()
    conversation_id = setup_conversation(offline_stack.client, auth)

    status = offline_stack.wait_for_task(
        auth, ask(offline_stack.client, auth, conversation_id, "Who won the 1998 world cup?"))

    answer = history(offline_stack.client, auth, conversation_id)[1]["text"]
    assert status["state"] == "SUCCESS"
    assert "could not find the answer in this data set" in answer


def test_questions_sent_back_to_back_are_answered_in_order(claude_stack, fake_model):
    fake_model.configure(latency=0.05)
    auth = claude_stack.new_org()
    conversation_id = setup_conversation(claude_stack.client, auth)
    questions = [f"Question number {n}?" for n in range(20)]

    task_ids = [ask(claude_stack.client, auth, conversation_id, q) for q in questions]
    statuses = [claude_stack.wait_for_task(auth, task_id) for task_id in task_ids]

    assert {s["state"] for s in statuses} == {"SUCCESS"}
    messages = history(claude_stack.client, auth, conversation_id)
    assert [m["role"] for m in messages] == ["user", "agent"] * len(questions)
    assert [m["text"] for m in messages[::2]] == questions
    for n, answer in enumerate(messages[1::2]):
        # The fake model says how many messages it was given: the earlier questions and
        # answers, then this question.
        assert answer["text"] == (
            f"[fake-claude] I read {2 * n + 1} messages. You asked: {questions[n]}")


def test_the_worker_runs_at_a_lower_cpu_priority_than_the_api(offline_stack):
    """The worker process yields the CPU to the API on a node they share (each may be
    started at any priority: the worker's is PARLEY_WORKER_NICE below its start's)."""
    started_at = os.getpriority(os.PRIO_PROCESS, 0)  # the worker inherits this process's
    expected = min(started_at + offline_stack.app.config["WORKER_NICE"], 19)

    assert os.getpriority(os.PRIO_PROCESS, offline_stack.worker.pid) == expected

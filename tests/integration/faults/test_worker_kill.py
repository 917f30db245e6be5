"""A worker SIGKILLed mid-reply: nothing accepted is lost, no reply is duplicated, and
no finished reply is asked of the model again. The fault stack (tests/support/faults.py)
runs a supervised worker that is started again, as any process manager would."""

import time

import pytest

from tests.support.data import ask, setup_conversation
from tests.support.faults import model_calls_per_question, replies_per_question, settle

pytestmark = pytest.mark.integration


def test_a_worker_killed_mid_reply_loses_nothing_and_duplicates_nothing(fault_stack,
                                                                       fake_model):
    fake_model.configure(latency=1.0)
    auth, client = fault_stack.new_org(), fault_stack.client
    questions = [f"Killed-worker question {n}?" for n in range(30)]
    # Twenty conversations of one question, and one of ten questions in a row.
    line = setup_conversation(client, auth)
    task_ids = [ask(client, auth, setup_conversation(client, auth), q)
                for q in questions[:20]]
    task_ids += [ask(client, auth, line, q) for q in questions[20:]]
    time.sleep(0.5)  # replies are in flight: the model answers after 1 s

    fault_stack.kill_worker()
    statuses = settle(fault_stack, auth, task_ids)

    assert {s["state"] for s in statuses} == {"SUCCESS"}
    assert set(replies_per_question(task_ids).values()) == {1}
    calls = model_calls_per_question(fake_model)
    for question, status in zip(questions, statuses):
        # Asked again only when an attempt was cut short: never for a finished reply.
        assert 1 <= calls[question] <= status["attempts"], (question, status)
    assert any(s["attempts"] > 1 for s in statuses), "the kill interrupted nothing"

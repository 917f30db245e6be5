"""A model that fails a share of its calls (rate limits, 5xx, timeouts, cut streams):
every task ends, and no partial reply is ever stored."""

import pytest

from app.extensions import db
from app.models import Message
from tests.support.data import ask, setup_conversation
from tests.support.faults import settle

pytestmark = pytest.mark.integration


def test_a_flaky_model_leaves_every_task_ended_and_no_partial_reply(fault_stack, fake_model):
    fake_model.configure(fault_share=0.3, seed=7, latency=0.05, timeout_sleep=3.0,
                         fault_kinds=["429", "500", "529", "timeout", "cut"])
    auth, client = fault_stack.new_org(), fault_stack.client
    questions = [f"Flaky question {n}?" for n in range(20)]
    task_ids = [ask(client, auth, setup_conversation(client, auth), q)
                for q in questions]

    statuses = settle(fault_stack, auth, task_ids)

    assert {s["state"] for s in statuses} <= {"SUCCESS", "FAILURE"}
    for status in statuses:
        if status["state"] == "FAILURE":
            assert "gave up after" in status["error"]
    assert sum(s["state"] == "SUCCESS" for s in statuses) >= 15
    for question, status in zip(questions, statuses):
        if status["state"] == "SUCCESS":
            text = db.session.get(Message, status["reply_message_id"]).text
            # Whole, never a stream cut short.
            assert text.startswith("[fake-claude] I read 1 messages.")
            assert f"You asked: {question}" in text
    assert max(s["attempts"] for s in statuses) > 1, "no fault was injected"

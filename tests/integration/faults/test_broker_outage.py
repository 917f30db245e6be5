"""The broker stopped while messages are posted: posting does not hang, and every message
accepted before, during and after the outage is answered once."""

import time

import pytest

from tests.support.data import ask, setup_conversation
from tests.support.faults import replies_per_question, settle

pytestmark = pytest.mark.integration


def test_messages_accepted_while_the_broker_is_down_are_all_answered(fault_stack):
    auth, client = fault_stack.new_org(), fault_stack.client
    conversations = [setup_conversation(client, auth) for _ in range(12)]
    task_ids = [ask(client, auth, c, "Before the outage?") for c in conversations[:4]]

    fault_stack.broker.stop()
    started = time.monotonic()
    task_ids += [ask(client, auth, c, "During the outage?") for c in conversations[4:8]]
    posting_while_down = time.monotonic() - started
    fault_stack.broker = fault_stack.start_broker()
    task_ids += [ask(client, auth, c, "After the outage?") for c in conversations[8:]]

    statuses = settle(fault_stack, auth, task_ids)
    assert {s["state"] for s in statuses} == {"SUCCESS"}
    assert set(replies_per_question(task_ids).values()) == {1}
    assert posting_while_down < 10, "posting must not hang while the broker is down"

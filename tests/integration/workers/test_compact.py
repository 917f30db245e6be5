"""The dialogue store on the real path: compact as a `parley.compact` task run by a real
worker through the fake Anthropic server (and the offline model), and a dialogue's
messages as the history the agent answers from."""

import pytest

from app.extensions import db
from app.models import Conversation
from tests.support.data import ask

pytestmark = pytest.mark.integration
HISTORY = [
    {"role": "system", "content": "Answer in one short sentence."},
    {"role": "user", "content": "Which plan suits a small office?"},
    {"role": "assistant", "content": "FiberUP Business Duplex suits a small office."},
]


def create_dialogue(stack, auth, messages=HISTORY) -> str:
    response = stack.client.post("/dialogue", json={"messages": messages}, headers=auth)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def compact(stack, auth, dialogue_id) -> dict:
    response = stack.client.post(f"/dialogue/{dialogue_id}/compact", headers=auth)
    assert response.status_code == 202, response.get_json()
    accepted = response.get_json()
    assert accepted["statusUrl"] == f"/api/task_status/{accepted['task_id']}"
    return stack.wait_for_task(auth, accepted["task_id"])


def test_compact_stores_the_models_summary_on_the_dialogue(claude_stack, fake_model):
    auth = claude_stack.new_org()
    dialogue_id = create_dialogue(claude_stack, auth)

    status = compact(claude_stack, auth, dialogue_id)

    assert status["state"] == "SUCCESS", status
    assert status["message_id"] is None and status["reply_message_id"] is None
    dialogue = claude_stack.client.get(f"/dialogue/{dialogue_id}", headers=auth).get_json()
    assert dialogue["summary"].startswith("[fake-claude]")
    assert dialogue["summaryCreated"]
    assert dialogue["totalMessages"] == 3  # compacting keeps the messages
    sent = fake_model.requests[-1]
    assert "summarise" in sent["system"].lower()
    transcript = sent["messages"][0]["content"]
    assert all(m["content"] in transcript for m in HISTORY)


def test_compact_with_the_offline_model(offline_stack):
    auth = offline_stack.new_org()
    dialogue_id = create_dialogue(offline_stack, auth)

    assert compact(offline_stack, auth, dialogue_id)["state"] == "SUCCESS"

    summary = offline_stack.client.get(f"/dialogue/{dialogue_id}", headers=auth).get_json()[
        "summary"]
    assert summary.startswith("A conversation of 3 messages.")
    assert "Which plan suits a small office?" in summary


def test_compact_that_keeps_failing_ends_in_failure(claude_stack, fake_model):
    auth = claude_stack.new_org()
    dialogue_id = create_dialogue(claude_stack, auth)
    fake_model.configure(faults=["400"])

    status = compact(claude_stack, auth, dialogue_id)

    assert status["state"] == "FAILURE" and status["error"]
    dialogue = claude_stack.client.get(f"/dialogue/{dialogue_id}", headers=auth).get_json()
    assert "summary" not in dialogue


def test_a_dialogues_messages_are_the_history_the_agent_answers_from(claude_stack,
                                                                      fake_model):
    auth = claude_stack.new_org()
    dialogue_id = create_dialogue(claude_stack, auth)
    with claude_stack.app.app_context():
        conversation_id = db.session.query(Conversation.id).filter_by(
            public_id=dialogue_id).scalar()

    task_id = ask(claude_stack.client, auth, conversation_id, "And its price?")
    assert claude_stack.wait_for_task(auth, task_id)["state"] == "SUCCESS"

    sent = fake_model.requests[-1]
    assert "Answer in one short sentence." in sent["system"]  # the system message
    assert [m["content"] for m in sent["messages"]] == [
        HISTORY[1]["content"], HISTORY[2]["content"], "And its price?"]
    messages = claude_stack.client.get(f"/dialogue/{dialogue_id}/messages",
                                       headers=auth).get_json()["items"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user",
                                             "assistant"]

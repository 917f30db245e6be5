"""The `parley.reply` task (workers/tasks.py) with the anthropic provider, against the
fake Messages API (tests/support/fake_anthropic.py): success, retried transient faults,
permanent faults, exhausted retries, what the model is sent, and cut-off streams."""

import os
import subprocess
import sys

import pytest
from sqlalchemy import select

import workers.tasks  # noqa: F401 - registers parley.reply
from app.models import Message, Task
from tests.support.data import SLA_QUESTION, ask
from tests.support.fake_anthropic import input_tokens
from tests.support.processes import ROOT
from workers.tasks import reply

QUESTION = SLA_QUESTION
MODEL = "claude-test"
REPLY = "Yes: FiberUP Business Duplex includes an SLA with 99.9 percent uptime and more words."


@pytest.fixture
def claude(app, server):
    """The app's worker side pointed at the fake server."""
    server.reset()
    app.config.update(LLM_PROVIDER="anthropic", ANTHROPIC_API_KEY="test",
                      ANTHROPIC_BASE_URL=server.url, ANTHROPIC_MODEL=MODEL,
                      LLM_TIMEOUT_SECONDS=5.0, REPLY_MAX_RETRIES=3)
    yield server
    server.reset()


def run(client, auth, conversation_id, question=QUESTION) -> str:
    task_id = ask(client, auth, conversation_id, question)
    reply.apply(args=[task_id])
    return task_id


def status(client, auth, task_id) -> dict:
    return client.get(f"/api/task_status/{task_id}", headers=auth).get_json()


def stored_reply(db, task_id) -> Message | None:
    db.session.expire_all()
    task = db.session.get(Task, task_id)
    return db.session.scalar(select(Message).where(Message.reply_to_id == task.message_id))


# -- the task -----------------------------------------------------------------------------------


def test_success_stores_text_model_and_token_usage(claude, client, auth, conversation_id, db):
    claude.configure(reply=REPLY)

    task_id = run(client, auth, conversation_id)

    message = stored_reply(db, task_id)
    assert status(client, auth, task_id)["state"] == "SUCCESS"
    assert message.text == REPLY
    assert message.model == MODEL
    assert message.input_tokens == input_tokens(claude.requests[-1])
    assert message.output_tokens == len(REPLY.split())


def test_success_reply_is_in_the_history(claude, client, auth, conversation_id):
    claude.configure(reply=REPLY)
    run(client, auth, conversation_id)

    history = client.get(f"/api/conversations/{conversation_id}", headers=auth).get_json()["history"]

    assert [(m["role"], m["text"]) for m in history] == [("user", QUESTION), ("agent", REPLY)]


@pytest.mark.parametrize("faults", [["429"], ["500"], ["529"], ["cut"], ["429", "500"],
                                    ["529", "cut", "500"]],
                         ids=lambda faults: "+".join(faults))
def test_transient_faults_are_retried_then_succeed(claude, client, auth, conversation_id, db,
                                                   faults):
    claude.configure(faults=faults, reply=REPLY)

    task_id = run(client, auth, conversation_id)

    body = status(client, auth, task_id)
    assert body["state"] == "SUCCESS"
    assert body["attempts"] == len(faults) + 1
    assert body["error"] is None
    assert len(claude.requests) == len(faults) + 1
    assert stored_reply(db, task_id).text == REPLY


def test_timeout_is_retried_then_succeeds(claude, app, client, auth, conversation_id, db):
    app.config["LLM_TIMEOUT_SECONDS"] = 0.2
    claude.configure(faults=["timeout"], timeout_sleep=1.0, reply=REPLY)

    task_id = run(client, auth, conversation_id)

    assert status(client, auth, task_id)["state"] == "SUCCESS"
    assert stored_reply(db, task_id).text == REPLY


def test_permanent_fault_fails_at_once_with_a_readable_error(claude, client, auth,
                                                            conversation_id, db):
    claude.configure(faults=["400"])

    task_id = run(client, auth, conversation_id)

    body = status(client, auth, task_id)
    assert body["state"] == "FAILURE"
    assert "400" in body["error"]
    assert "fake 400 fault" in body["error"]
    assert body["attempts"] == 1
    assert len(claude.requests) == 1
    assert stored_reply(db, task_id) is None


def test_bad_key_fails_at_once(claude, client, auth, conversation_id):
    claude.configure(faults=["401"])

    task_id = run(client, auth, conversation_id)

    body = status(client, auth, task_id)
    assert body["state"] == "FAILURE"
    assert "401" in body["error"]
    assert len(claude.requests) == 1


def test_exhausted_retries_fail_with_an_error_naming_the_cause(claude, app, client, auth,
                                                               conversation_id, db):
    app.config["REPLY_MAX_RETRIES"] = 2
    claude.configure(fault_share=1.0, fault_kinds=["529"])

    task_id = run(client, auth, conversation_id)

    body = status(client, auth, task_id)
    assert body["state"] == "FAILURE"
    assert "529" in body["error"]
    assert "3 attempts" in body["error"]
    assert body["attempts"] == 3
    assert len(claude.requests) == 3
    assert stored_reply(db, task_id) is None


def test_waiting_retry_shows_pending_with_the_reason(claude, app, client, auth, conversation_id,
                                                     monkeypatch):
    # Stop after the first failed attempt, as a worker does while the retry waits.
    claude.configure(faults=["500"])
    from workers.tasks import reply as task

    monkeypatch.setattr(type(task._get_current_object()), "retry",
                        lambda self, exc=None, **_: exc, raising=True)

    task_id = run(client, auth, conversation_id)

    body = status(client, auth, task_id)
    assert body["state"] == "PENDING"
    assert "500" in body["error"]


def test_model_receives_earlier_question_and_answer(claude, client, auth, conversation_id):
    claude.configure(reply=REPLY)
    run(client, auth, conversation_id)
    claude.requests.clear()

    run(client, auth, conversation_id, "How long does installation take?")

    assert claude.requests[-1]["messages"] == [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": REPLY},
        {"role": "user", "content": "How long does installation take?"},
    ]


def test_model_receives_retrieved_passages_in_the_system_prompt(claude, client, auth,
                                                                conversation_id):
    run(client, auth, conversation_id)

    system = claude.requests[-1]["system"]
    assert "[source: FiberUP Business Duplex]" in system
    assert "99.9% uptime" in system
    assert '"Plans"' in system


def test_default_reply_names_the_sources_it_was_given(claude, client, auth, conversation_id, db):
    task_id = run(client, auth, conversation_id)

    assert "Sources: FiberUP Business Duplex" in stored_reply(db, task_id).text


def test_cut_stream_never_stores_a_partial_reply(claude, app, client, auth, conversation_id, db):
    app.config["REPLY_MAX_RETRIES"] = 0
    claude.configure(faults=["cut"], reply=REPLY)

    task_id = run(client, auth, conversation_id)

    body = status(client, auth, task_id)
    assert body["state"] == "FAILURE"
    assert stored_reply(db, task_id) is None
    assert "complete" in body["error"] or "connection" in body["error"]


def test_cut_stream_then_retry_stores_the_whole_reply(claude, client, auth, conversation_id, db):
    claude.configure(faults=["cut"], reply=REPLY)

    task_id = run(client, auth, conversation_id)

    assert stored_reply(db, task_id).text == REPLY


def test_task_with_nothing_to_do_does_not_call_the_model(claude, client, auth, conversation_id):
    task_id = run(client, auth, conversation_id)
    calls = len(claude.requests)

    reply.apply(args=[task_id])

    assert len(claude.requests) == calls


def test_a_starting_worker_builds_its_model_provider_before_any_task(tmp_path):
    """The SDK import happens as the worker starts, not in its first tasks. Run in a
    fresh interpreter: this one has imported the SDK already."""
    script = ("import sys; from celery.signals import worker_init; "
              "import workers.celery_app; from workers.llm import registry; "
              "assert not registry._providers and 'anthropic' not in sys.modules; "
              "worker_init.send(sender=None); "
              "print(sorted(type(p).__name__ for p in registry._providers.values()))")
    env = {**os.environ, "PARLEY_HOME": str(tmp_path), "PARLEY_LLM": "anthropic",
           "ANTHROPIC_API_KEY": "test"}
    env.pop("DATABASE_URL", None)
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['AnthropicProvider']"

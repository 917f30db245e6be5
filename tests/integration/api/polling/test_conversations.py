"""The polling face's conversations, questions and tasks, through the Flask test client
on BOTH databases (specs/conversations-polling-api.md and the README's API section):
every test runs once on a migrated SQLite file and once on PostgreSQL
(tests/integration/api/conftest.py).

The broker is memory:// (nothing consumes it); a reply is produced in-process with
workers.tasks.reply.apply()."""

import pytest
from sqlalchemy import func, select

from app.models import Message, Task
from tests.support.data import (SLA_DOCUMENT, SLA_QUESTION, SLA_SENTENCE, SLA_TITLE, ask,
                                ask_and_answer, is_utc_timestamp)
from workers.tasks import reply

pytestmark = pytest.mark.integration
UNMATCHED_QUESTION = "What colour is the office cat?"


# -- conversations, questions, tasks ----------------------------------------------------


def test_create_conversation_returns_201_with_int_id_and_started_at(client, auth, data_set_id):
    response = client.post("/api/conversations", json={"data_set_id": data_set_id}, headers=auth)

    assert response.status_code == 201
    body = response.get_json()
    assert isinstance(body["id"], int)
    assert is_utc_timestamp(body["started_at"])
    assert body["data_set_id"] == data_set_id


def test_post_question_returns_202_with_a_task_id(client, auth, conversation_id):
    response = client.post(f"/api/conversations/{conversation_id}",
                           json={"question_message": SLA_QUESTION}, headers=auth)

    assert response.status_code == 202
    assert set(response.get_json()) == {"task_id"}
    assert isinstance(response.get_json()["task_id"], str) and response.get_json()["task_id"]


def test_question_accepts_the_data_set_id_of_the_spec(client, auth, conversation_id, data_set_id):
    response = client.post(f"/api/conversations/{conversation_id}",
                           json={"question_message": SLA_QUESTION, "data_set_id": data_set_id},
                           headers=auth)

    assert response.status_code == 202


def test_question_is_stored_with_a_pending_task_when_accepted(client, auth, conversation_id, db):
    task_id = ask(client, auth, conversation_id)

    task = db.session.get(Task, task_id)
    question = db.session.get(Message, task.message_id)
    assert task.state == "PENDING"
    assert task.kind == "reply"
    assert (question.role, question.text, question.conversation_id) == (
        "user", SLA_QUESTION, conversation_id)
    # In this conversation: the PostgreSQL database is shared by the whole run.
    agent_messages = db.session.scalar(
        select(func.count()).select_from(Message).where(
            Message.role == "agent", Message.conversation_id == conversation_id))
    assert agent_messages == 0


def test_question_and_task_are_committed_before_the_task_is_published(
        client, auth, conversation_id, app, db, monkeypatch):
    seen = {}

    def send_task(name, args, task_id, **_):
        # A fresh connection sees only what is committed: what a worker would see.
        with db.engine.connect() as connection:
            seen["task"] = connection.execute(
                select(Task.state, Task.message_id).where(Task.id == task_id)).first()
            seen["question"] = connection.scalar(
                select(Message.text).join(Task, Task.message_id == Message.id)
                .where(Task.id == task_id))

    monkeypatch.setattr(app.extensions["celery"], "send_task", send_task)

    ask(client, auth, conversation_id)

    assert seen["task"] is not None and seen["task"].state == "PENDING"
    assert seen["question"] == SLA_QUESTION


def test_task_status_is_pending_before_the_worker_runs(client, auth, conversation_id):
    task_id = ask(client, auth, conversation_id)

    response = client.get(f"/api/task_status/{task_id}", headers=auth)

    assert response.status_code == 200
    assert response.get_json()["state"] == "PENDING"
    assert response.get_json()["reply_message_id"] is None


def test_task_status_is_success_with_the_reply_id_after_the_worker_ran(
        client, auth, conversation_id):
    task_id = ask(client, auth, conversation_id)

    reply.apply(args=[task_id])
    body = client.get(f"/api/task_status/{task_id}", headers=auth).get_json()

    assert body["state"] == "SUCCESS"
    assert isinstance(body["reply_message_id"], int)
    assert body["error"] is None


def test_history_has_the_question_then_the_reply(client, auth, conversation_id):
    task_id = ask(client, auth, conversation_id)
    reply.apply(args=[task_id])
    status = client.get(f"/api/task_status/{task_id}", headers=auth).get_json()

    response = client.get(f"/api/conversations/{conversation_id}", headers=auth)

    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == conversation_id
    assert is_utc_timestamp(body["started_at"])
    history = body["history"]
    assert [m["role"] for m in history] == ["user", "agent"]
    assert all(isinstance(m["id"], int) for m in history)
    assert history[0]["text"] == SLA_QUESTION
    assert history[1]["id"] == status["reply_message_id"]
    assert history[1]["reply_to"] == history[0]["id"]


def test_history_of_two_exchanges_is_in_order(client, auth, conversation_id):
    ask_and_answer(client, auth, conversation_id)
    ask_and_answer(client, auth, conversation_id, "How long does installation take?")

    history = client.get(f"/api/conversations/{conversation_id}", headers=auth).get_json()["history"]

    assert [m["role"] for m in history] == ["user", "agent", "user", "agent"]
    assert [m["id"] for m in history] == sorted(m["id"] for m in history)
    assert history[2]["text"] == "How long does installation take?"


def test_new_conversation_has_an_empty_history(client, auth, conversation_id):
    body = client.get(f"/api/conversations/{conversation_id}", headers=auth).get_json()

    assert body["history"] == []


def test_offline_answer_quotes_the_sla_sentence(client, auth, conversation_id):
    agent = ask_and_answer(client, auth, conversation_id)

    assert SLA_SENTENCE in agent["text"]


def test_offline_answer_names_the_document(client, auth, conversation_id):
    agent = ask_and_answer(client, auth, conversation_id)

    # The title is named in its own right, not only inside the quoted sentences.
    quoted = [s for s in SLA_DOCUMENT.replace("\n\n", " ").split(". ") if s in agent["text"]]
    assert agent["text"].count(SLA_TITLE) > sum(s.count(SLA_TITLE) for s in quoted)


def test_unmatched_question_gets_a_plain_not_in_the_data_set_reply(client, auth, conversation_id):
    agent = ask_and_answer(client, auth, conversation_id, UNMATCHED_QUESTION)

    text = agent["text"].lower()
    assert "data set" in text
    assert "not" in text
    assert "99.9%" not in text

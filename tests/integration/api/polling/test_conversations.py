"""The polling face end to end through the Flask test client
(specs/conversations-polling-api.md and the README's API section).

The broker is memory:// (nothing consumes it); a reply is produced in-process with
workers.tasks.reply.apply()."""

import io
from datetime import datetime

from sqlalchemy import func, select

from app.models import Message, Task
from tests.conftest import SLA_DOCUMENT, ask
from workers.tasks import reply

SLA_QUESTION = "Does FiberUP Business Duplex include an SLA?"
SLA_TITLE = "FiberUP Business Duplex"
SLA_SENTENCE = ("FiberUP Business Duplex includes an SLA guaranteeing 99.9% uptime, with an "
                "optional priority support package that answers within two hours.")
UNMATCHED_QUESTION = "What colour is the office cat?"


def answer(client, auth, conversation_id, question=SLA_QUESTION) -> dict:
    """Ask, run the reply task in-process, return the agent message."""
    reply.apply(args=[ask(client, auth, conversation_id, question)])
    history = client.get(f"/api/conversations/{conversation_id}", headers=auth).get_json()
    return history["history"][-1]


def upload(client, auth, data_set_id, content: bytes, filename: str):
    return client.post(f"/api/data_sets/{data_set_id}/documents",
                       data={"file": (io.BytesIO(content), filename)},
                       content_type="multipart/form-data", headers=auth)


def documents(client, auth, data_set_id) -> list[dict]:
    response = client.get(f"/api/data_sets/{data_set_id}/documents", headers=auth)
    assert response.status_code == 200
    return response.get_json()


def is_utc_timestamp(value: str) -> bool:
    return datetime.fromisoformat(value).utcoffset().total_seconds() == 0


# -- data sets -------------------------------------------------------------------------


def test_create_data_set_returns_201_with_its_fields(client, auth):
    response = client.post("/api/data_sets", json={"name": "Plans", "description": "Fibre"},
                           headers=auth)

    assert response.status_code == 201
    body = response.get_json()
    assert isinstance(body["id"], int)
    assert body["name"] == "Plans"
    assert body["description"] == "Fibre"
    assert is_utc_timestamp(body["created_at"])


def test_create_data_set_description_is_optional(client, auth):
    response = client.post("/api/data_sets", json={"name": "Plans"}, headers=auth)

    assert response.status_code == 201
    assert response.get_json()["description"] == ""


def test_list_data_sets_returns_them_in_creation_order(client, auth):
    ids = [client.post("/api/data_sets", json={"name": name}, headers=auth).get_json()["id"]
           for name in ("First", "Second")]

    response = client.get("/api/data_sets", headers=auth)

    assert response.status_code == 200
    assert [(d["id"], d["name"]) for d in response.get_json()] == list(zip(ids, ["First", "Second"]))


def test_get_data_set_by_id(client, auth, data_set_id):
    response = client.get(f"/api/data_sets/{data_set_id}", headers=auth)

    assert response.status_code == 200
    assert response.get_json()["id"] == data_set_id
    assert response.get_json()["name"] == "Plans"


# -- documents -------------------------------------------------------------------------


def test_add_document_by_json_returns_201_with_passage_count(client, auth, data_set_id):
    response = client.post(f"/api/data_sets/{data_set_id}/documents",
                           json={"title": "Router manual", "content": "Reset by holding the button."},
                           headers=auth)

    assert response.status_code == 201
    body = response.get_json()
    assert isinstance(body["id"], int)
    assert body["title"] == "Router manual"
    assert body["data_set_id"] == data_set_id
    assert body["passage_count"] == 1
    assert is_utc_timestamp(body["created_at"])


def test_list_documents_returns_them_in_order(client, auth, data_set_id):
    titles = [d["title"] for d in documents(client, auth, data_set_id)]

    assert titles == [SLA_TITLE, "Home price list"]


def test_upload_txt_file_is_titled_by_its_file_name(client, auth, data_set_id):
    response = upload(client, auth, data_set_id, b"Router reset: hold the button.", "router-guide.txt")

    assert response.status_code == 201
    assert response.get_json()["title"] == "router-guide"
    assert "router-guide" in [d["title"] for d in documents(client, auth, data_set_id)]


def test_upload_md_file_is_titled_by_its_file_name(client, auth, data_set_id):
    response = upload(client, auth, data_set_id, b"# Notes\n\nThe modem is grey.", "notes.md")

    assert response.status_code == 201
    assert response.get_json()["title"] == "notes"
    assert response.get_json()["passage_count"] >= 1


def test_uploaded_document_is_searchable_at_once(client, auth, data_set_id, conversation_id):
    upload(client, auth, data_set_id, "The modem's LED turns magenta during firmware updates."
           .encode(), "modem.md")

    agent = answer(client, auth, conversation_id, "Why is the modem LED magenta?")

    assert "magenta during firmware updates" in agent["text"]
    assert "modem" in agent["text"]


def test_upload_of_pdf_is_rejected_with_422(client, auth, data_set_id):
    response = upload(client, auth, data_set_id, b"%PDF-1.4 ...", "plans.pdf")

    assert response.status_code == 422
    assert ".txt" in response.get_json()["message"]
    assert len(documents(client, auth, data_set_id)) == 2


def test_upload_of_non_utf8_file_is_rejected_with_422(client, auth, data_set_id):
    response = upload(client, auth, data_set_id, "Preis: 30 \u20ac".encode("utf-16"), "prices.txt")

    assert response.status_code == 422
    assert "UTF-8" in response.get_json()["message"]
    assert len(documents(client, auth, data_set_id)) == 2


def test_upload_of_empty_file_is_rejected_with_422(client, auth, data_set_id):
    response = upload(client, auth, data_set_id, b"  \n\n ", "empty.txt")

    assert response.status_code == 422
    assert "empty" in response.get_json()["message"].lower()
    assert len(documents(client, auth, data_set_id)) == 2


def test_multipart_without_file_field_is_rejected_with_422(client, auth, data_set_id):
    response = client.post(f"/api/data_sets/{data_set_id}/documents",
                           data={"document": (io.BytesIO(b"text"), "a.txt")},
                           content_type="multipart/form-data", headers=auth)

    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == 422
    assert "'file'" in body["message"]
    assert len(documents(client, auth, data_set_id)) == 2


def test_uploaded_file_name_longer_than_a_title_is_not_stored_over_length(
        client, auth, data_set_id):
    # A JSON title is limited to 300 characters (documents.title is VARCHAR(300)); an
    # upload's title comes from the file name and must respect the same limit.
    response = upload(client, auth, data_set_id, b"Some text.", "n" * 400 + ".txt")

    assert response.status_code in (201, 422), response.get_json()
    if response.status_code == 201:
        assert len(response.get_json()["title"]) <= 300


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
    assert task.name == "parley.reply"
    assert (question.role, question.text, question.conversation_id) == (
        "user", SLA_QUESTION, conversation_id)
    agent_messages = db.session.scalar(
        select(func.count()).select_from(Message).where(Message.role == "agent"))
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
    answer(client, auth, conversation_id)
    answer(client, auth, conversation_id, "How long does installation take?")

    history = client.get(f"/api/conversations/{conversation_id}", headers=auth).get_json()["history"]

    assert [m["role"] for m in history] == ["user", "agent", "user", "agent"]
    assert [m["id"] for m in history] == sorted(m["id"] for m in history)
    assert history[2]["text"] == "How long does installation take?"


def test_new_conversation_has_an_empty_history(client, auth, conversation_id):
    body = client.get(f"/api/conversations/{conversation_id}", headers=auth).get_json()

    assert body["history"] == []


def test_offline_answer_quotes_the_sla_sentence(client, auth, conversation_id):
    agent = answer(client, auth, conversation_id)

    assert SLA_SENTENCE in agent["text"]


def test_offline_answer_names_the_document(client, auth, conversation_id):
    agent = answer(client, auth, conversation_id)

    # The title is named in its own right, not only inside the quoted sentences.
    quoted = [s for s in SLA_DOCUMENT.replace("\n\n", " ").split(". ") if s in agent["text"]]
    assert agent["text"].count(SLA_TITLE) > sum(s.count(SLA_TITLE) for s in quoted)


def test_unmatched_question_gets_a_plain_not_in_the_data_set_reply(client, auth, conversation_id):
    agent = answer(client, auth, conversation_id, UNMATCHED_QUESTION)

    text = agent["text"].lower()
    assert "data set" in text
    assert "not" in text
    assert "99.9%" not in text

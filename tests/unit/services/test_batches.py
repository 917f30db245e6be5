"""A batch's publication and completion, in-process on SQLite: published by its own
task, head of line only; published by the sweep when the broker refused; marked
completed by the finish that ends its last request, or by the sweep."""

import pytest
from kombu.exceptions import OperationalError
from sqlalchemy import select

from app.models import Batch, Task
from app.services import batches, tasks
from tests.support.work import answer


def submit(client, auth, requests) -> dict:
    response = client.post("/api/batches", json={"requests": requests}, headers=auth)
    assert response.status_code == 202, response.get_json()
    return response.get_json()


@pytest.fixture
def sent(app, monkeypatch):
    calls = []
    monkeypatch.setattr(app.extensions["celery"], "send_task",
                        lambda name, args=None, task_id=None, **_: calls.append((name, args)))
    return calls


def batch_tasks(db, batch_id: str) -> list:
    db.session.rollback()
    return db.session.execute(select(Task).join(Batch, Batch.id == Task.batch_id)
                              .where(Batch.public_id == batch_id)
                              .order_by(Task.message_id)).scalars().all()


def test_a_batch_is_published_by_its_own_task_heads_of_line_only(sent, client, auth, db,
                                                                 conversation_id,
                                                                 data_set_id):
    batch = submit(client, auth, [
        {"custom_id": "a", "conversation_id": conversation_id, "question_message": "A?"},
        {"custom_id": "b", "conversation_id": conversation_id, "question_message": "B?"},
        {"custom_id": "c", "data_set_id": data_set_id, "question_message": "C?"}])
    assert sent == [(batches.PUBLISH_TASK, [db.session.scalar(
        select(Batch.id).where(Batch.public_id == batch["id"]))])]

    published = batches.publish(sent[0][1][0])

    first, second, new = batch_tasks(db, batch["id"])
    assert published == 2
    assert first.published_at and new.published_at and second.published_at is None
    assert {args[0] for name, args in sent[1:]} == {first.id, new.id}


def test_the_sweep_publishes_a_batch_the_broker_refused(app, client, auth, db, data_set_id,
                                                        monkeypatch):
    def broker_down(*_, **__):
        raise OperationalError("Connection refused.")

    monkeypatch.setattr(app.extensions["celery"], "send_task", broker_down)
    batch = submit(client, auth, [{"custom_id": str(n), "data_set_id": data_set_id,
                                   "question_message": "Hi?"} for n in range(3)])
    assert all(task.published_at is None for task in batch_tasks(db, batch["id"]))
    calls = []
    monkeypatch.setattr(app.extensions["celery"], "send_task",
                        lambda name, args=None, task_id=None, **_: calls.append(task_id))
    app.config["UNPUBLISHED_GRACE_SECONDS"] = 0

    tasks.sweep()

    assert sorted(calls) == sorted(task.id for task in batch_tasks(db, batch["id"]))


def test_questions_the_broker_refuses_while_a_batch_is_published_are_left_to_the_sweep(
        app, sent, client, auth, db, data_set_id, monkeypatch):
    batch = submit(client, auth, [{"custom_id": str(n), "data_set_id": data_set_id,
                                   "question_message": "Hi?"} for n in range(3)])

    def broker_down(*_, **__):
        raise OperationalError("Connection refused.")

    monkeypatch.setattr(app.extensions["celery"], "send_task", broker_down)
    assert batches.publish(sent[0][1][0]) == 0
    assert all(task.published_at is None for task in batch_tasks(db, batch["id"]))


def test_the_finish_of_its_last_request_completes_the_batch(sent, client, auth, db,
                                                            data_set_id):
    batch = submit(client, auth, [{"custom_id": str(n), "data_set_id": data_set_id,
                                   "question_message": "Hi?"} for n in range(2)])
    first, last = (task.id for task in batch_tasks(db, batch["id"]))

    answer(first, kind=batches.KIND)
    assert db.session.scalar(select(Batch.completed_at)
                             .where(Batch.public_id == batch["id"])) is None
    answer(last, kind=batches.KIND)

    assert db.session.scalar(select(Batch.completed_at)
                             .where(Batch.public_id == batch["id"])) is not None


def test_the_sweep_completes_a_batch_whose_last_finish_did_not(sent, client, auth, db,
                                                               data_set_id):
    batch = submit(client, auth, [{"custom_id": "only", "data_set_id": data_set_id,
                                   "question_message": "Hi?"}])
    (task_id,) = (task.id for task in batch_tasks(db, batch["id"]))
    answer(task_id)  # as the reply kind: nothing follows its end

    assert batches.settle() == 1
    assert client.get(f"/api/batches/{batch['id']}", headers=auth).get_json()["status"] == \
        "completed"

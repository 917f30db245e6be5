"""Batches through the API, on both databases, the tasks run in-process: submit (JSON,
JSON Lines, multipart), all-or-nothing checks, counts and status, results in input
order, cancel, listing."""

import json

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Batch, Message, Task
from app.services import batches
from tests.support.data import ask
from tests.support.work import answer

pytestmark = pytest.mark.integration


def submit(client, auth, requests, **extra):
    return client.post("/api/batches", json={"requests": requests, **extra}, headers=auth)


def rows() -> tuple[int, int, int]:
    db.session.rollback()
    return tuple(db.session.scalar(select(func.count()).select_from(model))
                 for model in (Batch, Message, Task))


def results(client, auth, batch_id, query="") -> list[dict]:
    response = client.get(f"/api/batches/{batch_id}/results{query}", headers=auth)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/x-ndjson"
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


def run_all(batch_id: str, text="Yes.") -> None:
    """Answer the batch's queued tasks in-process, as a worker would, until none is
    left (a question waiting its turn comes after the one before it)."""
    while True:
        db.session.rollback()
        queued = db.session.scalars(
            select(Task.id).join(Batch, Batch.id == Task.batch_id)
            .where(Batch.public_id == batch_id, Task.state == "PENDING")
            .order_by(Task.message_id)).all()
        if not queued:
            return
        for task_id in queued:
            answer(task_id, text, kind=batches.KIND)


def test_a_batch_is_accepted_answered_and_its_results_read_in_order(
        client, auth, data_set_id, conversation_id):
    requests = [{"custom_id": f"q{n}", "data_set_id": data_set_id,
                 "question_message": f"Question {n}?"} for n in range(5)]
    requests.insert(2, {"custom_id": "joins", "conversation_id": conversation_id,
                        "question_message": "Does it include an SLA?"})

    response = submit(client, auth, requests, metadata={"run": "nightly"})

    assert response.status_code == 202, response.get_json()
    batch = response.get_json()
    assert batch["id"].startswith("batch_") and batch["status"] == "in_progress"
    assert batch["request_counts"] == {"total": 6, "queued": 6, "running": 0,
                                       "succeeded": 0, "failed": 0, "canceled": 0}
    assert batch["results_url"] == f"/api/batches/{batch['id']}/results"
    assert batch["metadata"] == {"run": "nightly"}
    waiting = results(client, auth, batch["id"])
    assert [line["state"] for line in waiting] == ["queued"] * 6

    run_all(batch["id"])

    done = client.get(f"/api/batches/{batch['id']}", headers=auth).get_json()
    assert done["status"] == "completed" and done["completed_at"]
    assert done["request_counts"]["succeeded"] == 6
    lines = results(client, auth, batch["id"])
    assert [line["custom_id"] for line in lines] == [r["custom_id"] for r in requests]
    assert all(line["state"] == "succeeded" and line["reply"]["text"] == "Yes."
               and line["error"] is None for line in lines)
    assert lines[2]["conversation_id"] == conversation_id
    assert len({line["conversation_id"] for line in lines}) == 6
    history = client.get(f"/api/conversations/{conversation_id}", headers=auth).get_json()
    assert [m["role"] for m in history["history"]][-2:] == ["user", "agent"]


def test_a_batch_question_joins_its_conversation_in_order(client, auth, conversation_id):
    first = ask(client, auth, conversation_id, "First?")
    response = submit(client, auth, [
        {"custom_id": name, "conversation_id": conversation_id, "question_message": name}
        for name in ("second?", "third?")])
    assert response.status_code == 202
    later = ask(client, auth, conversation_id, "Fourth?")

    # Nothing of the batch runs before the question asked before it.
    batch_tasks = db.session.scalars(select(Task.id).where(Task.batch_id.is_not(None),
                                                           Task.conversation_id ==
                                                           conversation_id)).all()
    assert all(answer(task_id, kind=batches.KIND) is None for task_id in batch_tasks)
    answer(first, "One.")
    run_all(response.get_json()["id"], "Two.")
    answer(later, "Four.")

    history = client.get(f"/api/conversations/{conversation_id}", headers=auth).get_json()
    texts = [m["text"] for m in history["history"]]
    assert texts == ["First?", "One.", "second?", "Two.", "third?", "Two.", "Fourth?", "Four."]


def test_json_lines_and_a_multipart_upload_are_accepted(client, auth, data_set_id):
    lines = "\n".join(json.dumps({"custom_id": f"l{n}", "data_set_id": data_set_id,
                                  "question_message": "What does it cost?"})
                      for n in range(3)) + "\n"
    as_lines = client.post("/api/batches", data=lines, headers={
        **auth, "Content-Type": "application/x-ndjson"})
    import io
    as_upload = client.post("/api/batches", headers=auth, data={
        "file": (io.BytesIO(lines.encode()), "requests.jsonl"),
        "metadata": json.dumps({"source": "crm"})}, content_type="multipart/form-data")

    assert as_lines.status_code == 202, as_lines.get_json()
    assert as_lines.get_json()["request_counts"]["total"] == 3
    assert as_upload.status_code == 202, as_upload.get_json()
    assert as_upload.get_json()["metadata"] == {"source": "crm"}


def test_bad_lines_are_all_reported_and_nothing_is_stored(client, auth, data_set_id,
                                                          other_auth):
    foreign = client.post("/api/data_sets", json={"name": "Theirs"},
                          headers=other_auth).get_json()["id"]
    requests = [
        {"custom_id": "ok", "data_set_id": data_set_id, "question_message": "Fine?"},
        {"custom_id": "blank", "data_set_id": data_set_id, "question_message": "  "},
        {"custom_id": "both", "data_set_id": data_set_id, "conversation_id": 1,
         "question_message": "Two targets?"},
        {"custom_id": "ok", "data_set_id": data_set_id, "question_message": "Again?"},
        {"custom_id": "extra", "data_set_id": data_set_id, "question_message": "x",
         "colour": "red"},
        "not an object",
        {"custom_id": "theirs", "data_set_id": foreign, "question_message": "Yours?"},
    ]
    before = rows()

    response = submit(client, auth, requests)

    assert response.status_code == 422
    body = response.get_json()
    found = {(line["index"], line["custom_id"], line["field"])
             for line in body["errors"]["lines"]}
    assert found == {(1, "blank", "question_message"), (2, "both", "conversation_id"),
                     (3, "ok", "custom_id"), (4, "extra", "colour"), (5, None, "line"),
                     (6, "theirs", "data_set_id")}
    assert body["errors"]["failed_lines"] == 6
    assert "line 1" in body["message"]
    assert rows() == before


def test_only_the_first_hundred_bad_lines_are_listed(client, auth):
    requests = [{"custom_id": f"b{n}", "question_message": "No target?"} for n in range(150)]

    body = submit(client, auth, requests).get_json()

    assert len(body["errors"]["lines"]) == 100
    assert body["errors"]["failed_lines"] == 150


def test_a_batch_over_the_limit_or_empty_is_refused(app, client, auth, data_set_id):
    app.config["BATCH_MAX_REQUESTS"] = 3
    request = {"data_set_id": data_set_id, "question_message": "Hi?"}
    over = submit(client, auth, [{**request, "custom_id": str(n)} for n in range(4)])
    empty = submit(client, auth, [])
    missing = client.post("/api/batches", json={"metadata": {}}, headers=auth)
    not_json = client.post("/api/batches", data="{", headers={
        **auth, "Content-Type": "application/json"})

    assert over.status_code == 422 and "at most 3" in over.get_json()["message"]
    assert empty.status_code == 422
    assert missing.status_code == 422
    assert not_json.status_code == 400


def test_results_filter_by_state_and_cancel_ends_the_queued(client, auth, data_set_id):
    batch = submit(client, auth, [
        {"custom_id": f"c{n}", "data_set_id": data_set_id, "question_message": "Hi?"}
        for n in range(4)]).get_json()
    first = results(client, auth, batch["id"])[0]["task_id"]
    answer(first, kind=batches.KIND)

    canceled = client.post(f"/api/batches/{batch['id']}/cancel", headers=auth)

    assert canceled.status_code == 200, canceled.get_json()
    body = canceled.get_json()
    assert body["status"] == "canceled" and body["request_counts"]["canceled"] == 3
    assert body["request_counts"]["succeeded"] == 1
    only_canceled = results(client, auth, batch["id"], "?state=canceled")
    assert [line["custom_id"] for line in only_canceled] == ["c1", "c2", "c3"]
    assert all(line["reply"] is None and "canceled" in line["error"]
               for line in only_canceled)
    assert [line["custom_id"] for line in results(client, auth, batch["id"],
                                                  "?state=succeeded")] == ["c0"]
    assert client.post(f"/api/batches/{batch['id']}/cancel", headers=auth).status_code == 200


def test_a_completed_batch_cannot_be_canceled(client, auth, data_set_id):
    batch = submit(client, auth, [{"custom_id": "only", "data_set_id": data_set_id,
                                   "question_message": "Hi?"}]).get_json()
    run_all(batch["id"])

    response = client.post(f"/api/batches/{batch['id']}/cancel", headers=auth)

    assert response.status_code == 409


def test_batches_are_listed_newest_first_by_cursor(client, auth, other_auth, data_set_id):
    made = [submit(client, auth, [{"custom_id": "x", "data_set_id": data_set_id,
                                   "question_message": "Hi?"}]).get_json()["id"]
            for _ in range(3)]

    first = client.get("/api/batches?limit=2", headers=auth).get_json()
    second = client.get(f"/api/batches?limit=2&after={first['next_cursor']}",
                        headers=auth).get_json()

    assert [b["id"] for b in first["data"]] == made[::-1][:2] and first["has_more"]
    assert [b["id"] for b in second["data"]] == made[:1] and not second["has_more"]
    assert client.get("/api/batches", headers=other_auth).get_json()["data"] == []
    assert client.get(f"/api/batches/{made[0]}", headers=other_auth).status_code == 404
    assert client.get(f"/api/batches/{made[0]}/results",
                      headers=other_auth).status_code == 404


def test_a_batch_submitted_twice_with_one_idempotency_key_is_stored_once(client, auth,
                                                                          data_set_id):
    requests = [{"custom_id": f"i{n}", "data_set_id": data_set_id,
                 "question_message": "Hi?"} for n in range(3)]
    keyed = {**auth, "Idempotency-Key": "nightly-2026-11-28"}
    first = client.post("/api/batches", json={"requests": requests}, headers=keyed)
    before = rows()

    again = client.post("/api/batches", json={"requests": requests}, headers=keyed)
    other = client.post("/api/batches", json={"requests": requests[:1]}, headers=keyed)

    assert first.status_code == again.status_code == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    assert other.status_code == 422
    assert rows() == before

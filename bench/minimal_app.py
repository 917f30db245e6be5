"""The hand-written baselines of the enqueue and status benchmarks: a bare WSGI app
doing the same database and broker work as Parley's endpoints, with no framework, no
validation, no authentication: the database driver directly, then send_task.

  POST /enqueue/<conversation_id>  {"question_message": ...}
      one transaction: take the conversation's next positions, insert the message row
      and the task row; then publish the task. Answers {"task_id"} (202).
  GET /status/<task_id>            one indexed select. Answers {"state"}.

`flask_app` serves the same two routes, doing the same work, through bare Flask (no
extension, no hook, no validation): the share of the gap that is the web framework
itself, which Parley's stack fixes.
"""

import json
import os
import threading
import uuid
from datetime import datetime, timezone

import psycopg
from celery import Celery
from flask import Flask, request

DATABASE_URL = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
celery = Celery("minimal", broker=os.environ["REDIS_URL"])
celery.conf.task_routes = {"parley.reply": {"queue": "replies"}}
local = threading.local()


def connection() -> psycopg.Connection:
    if not hasattr(local, "connection"):
        local.connection = psycopg.connect(DATABASE_URL)
    return local.connection


def enqueue(conversation_id: int, body: dict) -> dict:
    now = datetime.now(timezone.utc)
    task_id = str(uuid.uuid4())
    conn = connection()
    with conn.transaction():
        org_id, seq = conn.execute(
            "UPDATE conversations SET last_seq = last_seq + 2 WHERE id = %s "
            "RETURNING org_id, last_seq", (conversation_id,)).fetchone()
        message_id = conn.execute(
            "INSERT INTO messages (conversation_id, seq, role, text, created_at, public_id) "
            "VALUES (%s, %s, 'user', %s, %s, %s) RETURNING id",
            (conversation_id, seq - 1, body["question_message"], now,
             f"msg_{uuid.uuid4().hex[:16]}")).fetchone()[0]
        conn.execute(
            "INSERT INTO tasks (id, org_id, kind, conversation_id, message_id, state, "
            "attempts, published_at, created_at, updated_at) "
            "VALUES (%s, %s, 'reply', %s, %s, 'PENDING', 0, %s, %s, %s)",
            (task_id, org_id, conversation_id, message_id, now, now, now))
    celery.send_task("parley.reply", args=[task_id], task_id=task_id)
    return {"task_id": task_id}


def status(task_id: str) -> dict:
    row = connection().execute("SELECT state FROM tasks WHERE id = %s", (task_id,)).fetchone()
    connection().rollback()
    return {"state": row[0]}


def app(environ, start_response):
    path = environ["PATH_INFO"].strip("/").split("/")
    if environ["REQUEST_METHOD"] == "POST" and path[0] == "enqueue":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(length))
        result, code = enqueue(int(path[1]), body), "202 Accepted"
    elif path[0] == "status":
        result, code = status(path[1]), "200 OK"
    else:
        result, code = {}, "200 OK"
    payload = json.dumps(result).encode()
    start_response(code, [("Content-Type", "application/json"),
                          ("Content-Length", str(len(payload)))])
    return [payload]


flask_app = Flask("minimal")


@flask_app.post("/enqueue/<int:conversation_id>")
def flask_enqueue(conversation_id: int):
    return enqueue(conversation_id, request.get_json()), 202


@flask_app.get("/status/<task_id>")
def flask_status(task_id: str):
    return status(task_id)

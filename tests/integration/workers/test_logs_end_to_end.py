"""Logs that follow a request into its task, on the real path: a gunicorn web process and
a Celery worker logging JSON (PARLEY_LOG_FORMAT=json), PostgreSQL and Redis. A question
sent with an X-Request-Id is found in the worker's JSON line for its task, with the
task's id and kind; and what users wrote, and their key, are in no line of either log."""

import json
import secrets
from pathlib import Path

import httpx
import pytest
import redis

from tests.support.environment import REDIS_DB
from tests.support.stacks import stack_on, web_of

pytestmark = pytest.mark.integration

# Words no log line has any business holding: in a document, in the question, and so in
# the reply the offline model quotes from the document.
SECRET = f"Marmalade protocol {secrets.token_hex(4)} unlocks the vault"
REQUEST_ID = f"req-follow-me-{secrets.token_hex(4)}"
JSON_LOGS = {"PARLEY_LOG_FORMAT": "json", "PARLEY_LLM": "offline"}


@pytest.fixture(scope="module")
def stack(postgres_url, redis_server, tmp_path_factory):
    redis_url = f"{redis_server}/{REDIS_DB['offline']}"
    redis.Redis.from_url(redis_url).flushdb()
    with stack_on(postgres_url, redis_url, tmp_path_factory.mktemp("worker-json"),
                  JSON_LOGS) as running:
        yield running


@pytest.fixture(scope="module")
def web(stack, tmp_path_factory):
    """A gunicorn process of the app, on the stack's database and Redis, logging JSON
    (its access log included); (its URL, its log file)."""
    log_path = tmp_path_factory.mktemp("gunicorn-json") / "gunicorn.log"
    with web_of(stack, log_path, JSON_LOGS) as url:
        yield url, log_path


def json_lines(path: Path) -> list[dict]:
    """Every line of the log, each of which must be one JSON object."""
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON line in {path.name}: {line!r}")
    assert all(isinstance(line, dict) for line in parsed)
    return parsed


@pytest.fixture(scope="module")
def scenario(stack, web):
    """A document and a question holding SECRET, asked through gunicorn with an API key
    and an X-Request-Id, answered by the worker: (auth, task id, the reply)."""
    url, _ = web
    auth = stack.new_org()
    with httpx.Client(base_url=url, headers=auth, timeout=10) as http:
        data_set = http.post("/api/data_sets", json={"name": "Vault"}).json()
        document = http.post(f"/api/data_sets/{data_set['id']}/documents",
                             json={"title": "Vault access", "content": f"{SECRET}. Nothing "
                                   "else opens it, and the protocol is changed every week."})
        assert document.status_code == 201, document.text
        conversation = http.post("/api/conversations", json={"data_set_id": data_set["id"]})
        asked = http.post(f"/api/conversations/{conversation.json()['id']}",
                          json={"question_message": f"What does {SECRET} mean?"},
                          headers={"X-Request-Id": REQUEST_ID})
        assert asked.status_code == 202, asked.text
        assert asked.headers["X-Request-Id"] == REQUEST_ID
        task_id = asked.json()["task_id"]
        status = stack.wait_for_task(auth, task_id)
        assert status["state"] == "SUCCESS", status
        history = http.get(f"/api/conversations/{conversation.json()['id']}").json()["history"]
    return auth, task_id, history


def test_the_workers_json_line_for_the_task_carries_the_request_id(stack, scenario):
    auth, task_id, _ = scenario

    lines = [line for line in json_lines(stack.log_path) if line.get("task_id") == task_id]

    assert lines, stack.log_path.read_text()[-3000:]
    for line in lines:
        assert {"time", "level", "logger", "message"} <= set(line)
        assert (line["request_id"], line["task_kind"]) == (REQUEST_ID, "reply"), line
    # Celery's own line of the task's end, written inside the claimed task.
    [succeeded] = [line for line in lines if "succeeded in" in line["message"]]
    assert succeeded["attempt"] == 1 and succeeded["org_id"].startswith("org_")


def test_the_web_processs_lines_are_json_and_its_access_line_names_the_request(web,
                                                                               scenario):
    _, log_path = web

    lines = json_lines(log_path)

    accessed = [line for line in lines if REQUEST_ID in line["message"]]
    assert [line["logger"] for line in accessed] == ["gunicorn.access"], accessed
    assert "POST /api/conversations/" in accessed[0]["message"]


def test_no_log_line_holds_what_users_wrote_or_their_key(stack, web, scenario):
    auth, _, history = scenario
    # The reply quotes the document: the secret went through the whole path.
    assert SECRET in str(history[-1]), history
    [key] = auth.values()

    for path in (stack.log_path, web[1]):
        text = path.read_text()
        assert SECRET not in text and "Marmalade" not in text, path.name
        assert key not in text, path.name

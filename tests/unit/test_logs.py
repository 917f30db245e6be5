"""app/logs.py: the two formats, the context on every line, and the choice of format."""

import io
import json
import logging
import threading
from datetime import datetime

import pytest

from app import logs


@pytest.fixture(autouse=True)
def _no_context():
    logs.clear()
    yield
    logs.clear()


def record(message="task %s done", *args, **extra) -> logging.LogRecord:
    made = logging.LogRecord("app.services.lifecycle", logging.INFO, __file__, 1, message,
                             args or ("t-1",), None)
    made.__dict__.update(extra)
    logs.ContextFilter().filter(made)
    return made


def as_json(made: logging.LogRecord) -> dict:
    line = logs.JsonLineFormatter().format(made)
    assert "\n" not in line
    return json.loads(line)


def test_a_json_line_has_time_level_logger_message_and_the_context():
    logs.bind(request_id="req_1", task_id="t-1", task_kind="reply")
    logs.bind(org_id="org_1", attempt=2)

    line = as_json(record())

    assert list(line)[:4] == ["time", "level", "logger", "message"]
    assert line["level"] == "INFO" and line["logger"] == "app.services.lifecycle"
    assert line["message"] == "task t-1 done"
    assert datetime.fromisoformat(line["time"]).utcoffset().total_seconds() == 0
    assert {name: line[name] for name in logs.CONTEXT_FIELDS} == {
        "request_id": "req_1", "org_id": "org_1", "task_id": "t-1", "task_kind": "reply",
        "attempt": 2}


def test_a_json_line_names_only_the_context_that_is_known():
    logs.bind(request_id="req_1", org_id=None)

    line = as_json(record())

    assert line["request_id"] == "req_1"
    assert not {"org_id", "task_id", "task_kind", "attempt"} & set(line)


def test_a_field_passed_with_the_call_wins_over_the_context():
    logs.bind(request_id="req_running", task_id="sweep-1")

    line = as_json(record(task_id="t-9", request_id="req_other"))

    assert (line["task_id"], line["request_id"]) == ("t-9", "req_other")


def test_a_json_line_leaves_out_celerys_copy_of_its_values():
    line = as_json(record("Task %(name)s succeeded", {"name": "parley.reply"},
                          data={"args": "['t-1']", "return_value": "None"}))

    assert line["message"] == "Task parley.reply succeeded" and "data" not in line


def test_a_json_line_carries_the_traceback():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        made = logging.LogRecord("app", logging.ERROR, __file__, 1, "failed", (),
                                 __import__("sys").exc_info())

    line = as_json(made)

    assert "RuntimeError: boom" in line["exc_info"]


def test_a_text_line_shows_the_context_before_the_message():
    logs.bind(request_id="req_1", task_id="t-1", task_kind="reply", attempt=1)

    line = logs.TextFormatter().format(record())

    assert line == ("INFO:app.services.lifecycle:[req_1 task=t-1 kind=reply attempt=1] "
                    "task t-1 done")


def test_a_text_line_without_context_has_no_brackets():
    assert logs.TextFormatter().format(record()) == "INFO:app.services.lifecycle:task t-1 done"


def test_the_context_is_the_threads_own():
    logs.bind(request_id="req_main")
    seen = []
    thread = threading.Thread(target=lambda: seen.append(logs.context()))
    thread.start()
    thread.join()

    assert seen == [{}] and logs.context() == {"request_id": "req_main"}


def test_clear_forgets_the_context():
    logs.bind(task_id="t-1")
    logs.clear()

    assert logs.context() == {}


def test_only_context_fields_can_be_bound():
    with pytest.raises(ValueError, match="question"):
        logs.bind(question="what did the user write")


class Stream(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize("setting, tty, chosen", [
    (None, True, "text"), (None, False, "json"), ("json", True, "json"),
    ("text", False, "text"), (" JSON ", True, "json")])
def test_the_format_is_the_settings_or_text_on_a_terminal(setting, tty, chosen):
    assert logs.chosen_format(setting, Stream(tty)) == chosen


def test_an_unknown_format_is_refused_by_name():
    with pytest.raises(ValueError, match="PARLEY_LOG_FORMAT must be one of json, text"):
        logs.chosen_format("xml")


def test_adopted_handlers_write_parleys_json_lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logs.adopt([handler], logs.JSON)
    logs.bind(request_id="req_gunicorn")

    handler.handle(logging.LogRecord("gunicorn.error", logging.INFO, __file__, 1,
                                     "Booting worker with pid: %s", (42,), None))

    line = json.loads(stream.getvalue())
    assert line["message"] == "Booting worker with pid: 42"
    assert line["request_id"] == "req_gunicorn"


def test_a_request_is_logged_with_its_request_id(client, auth, caplog):
    """The web side: a line written while a request is served carries its id."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logs.adopt([handler], logs.JSON)
    logger = logging.getLogger("app.api.dialogues.routes")  # logs every request it serves
    logger.addHandler(handler)
    caplog.set_level(logging.INFO, logger="app.api.dialogues.routes")
    try:
        response = client.get("/dialogue", headers={**auth, "X-Request-Id": "req-web-1"})
    finally:
        logger.removeHandler(handler)

    assert response.headers["X-Request-Id"] == "req-web-1"
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines and all(line["request_id"] == "req-web-1" for line in lines)
    assert logs.context() == {}  # forgotten once the request ends


def test_a_database_error_names_no_parameters(db):
    """What users wrote reaches the database as parameters: an error's text (logged with
    its traceback) must not quote them."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError) as raised:
        db.session.execute(text("SELECT no_such_column FROM tasks WHERE id = :id"),
                           {"id": "what a user wrote"})
    db.session.rollback()

    assert "what a user wrote" not in str(raised.value)
    assert "hidden" in str(raised.value)

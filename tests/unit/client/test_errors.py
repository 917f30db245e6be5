"""The Python client's typed errors, read from each face's own error body."""

import httpx
import pytest

from parley_client import (Conflict, Gone, InvalidRequest, NotFound, ParleyError,
                           RateLimited, ServerError, Unauthorized, Unavailable)
from parley_client.errors import error_from_response
from tests.support.python_client import polling_error


def response(status: int, body=None, headers: dict | None = None, text: str | None = None):
    request = httpx.Request("GET", "http://parley.test/x")
    if text is not None:
        return httpx.Response(status, text=text, headers=headers, request=request)
    return httpx.Response(status, json=body, headers=headers, request=request)


def test_the_polling_faces_body_gives_the_class_its_reason_as_code_and_the_fields():
    body = polling_error(422, "Invalid request: question_message: Missing data.",
                         errors={"json": {"question_message": ["Missing data."]}})

    error = error_from_response(response(422, body, {"X-Request-Id": "req_1"}))

    assert type(error) is InvalidRequest
    assert (error.status, error.code, error.request_id) == (422, "unprocessable_entity",
                                                             "req_1")
    assert error.message == "Invalid request: question_message: Missing data."
    assert error.details == {"json": {"question_message": ["Missing data."]}}


def test_the_dialogue_stores_body_gives_its_own_code_and_request_id():
    body = {"code": "DIALOGUE_NOT_FOUND", "message": "Dialogue x not found.",
            "requestId": "req_body"}

    error = error_from_response(response(404, body))

    assert type(error) is NotFound
    assert (error.code, error.message, error.request_id) == (
        "DIALOGUE_NOT_FOUND", "Dialogue x not found.", "req_body")


def test_the_request_id_header_wins_over_a_replayed_bodys():
    body = {"code": "INVALID_INPUT", "message": "Bad.", "requestId": "req_first"}

    error = error_from_response(response(400, body, {"X-Request-Id": "req_replay"}))

    assert error.request_id == "req_replay"


def test_the_dialog_sessions_body_gives_its_code_and_details():
    body = {"error": {"status": 422, "code": "briefing_incomplete", "message": "Missing.",
                      "details": {"missing_fields": ["domain", "tone"]}}}

    error = error_from_response(response(422, body))

    assert type(error) is InvalidRequest
    assert error.code == "briefing_incomplete"
    assert error.details["missing_fields"] == ["domain", "tone"]


@pytest.mark.parametrize("status, cls", [
    (400, InvalidRequest), (401, Unauthorized), (404, NotFound), (409, Conflict),
    (410, Gone), (413, InvalidRequest), (415, InvalidRequest), (429, RateLimited),
    (503, Unavailable), (500, ServerError), (502, ServerError), (418, ParleyError)])
def test_each_status_has_its_class(status, cls):
    error = error_from_response(response(status, polling_error(status, "m")))

    assert type(error) is cls and isinstance(error, ParleyError)
    assert error.status == status


def test_a_429_carries_the_wait_it_was_given():
    error = error_from_response(response(429, polling_error(429, "Too many."),
                                         {"Retry-After": "7"}), retry_after=7.0)

    assert type(error) is RateLimited and error.retry_after == 7.0


def test_a_page_that_is_not_json_gives_its_text_as_the_message():
    error = error_from_response(response(502, text="<html>Bad gateway</html>"))

    assert type(error) is ServerError
    assert (error.code, error.message) == ("bad_gateway", "<html>Bad gateway</html>")


def test_an_empty_error_answer_is_named_by_its_status():
    error = error_from_response(response(503, text=""))

    assert (error.code, error.message) == ("service_unavailable", "service unavailable")


def test_str_names_the_status_the_code_and_the_request():
    error = error_from_response(response(404, polling_error(404, "Task x not found."),
                                         {"X-Request-Id": "req_9"}))

    assert str(error) == "HTTP 404 not_found: Task x not found. (request req_9)"


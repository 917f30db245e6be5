"""A real gunicorn, run with Parley's config (app/gunicorn_conf.py) as every command line
runs it: the errors gunicorn answers itself, before the app sees the request, are JSON
like the app's."""

import json
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.processes import free_port, start_gunicorn, stop_process

START_SECONDS = 30


def exchange(port: int, request: bytes) -> tuple[str, dict, bytes]:
    """Send raw bytes (no client library would send these requests); the status line,
    headers and body of the answer, read until gunicorn closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip()
               for name, _, value in (line.partition(":") for line in lines)}
    return status, headers, body


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory):
    home = tmp_path_factory.mktemp("gunicorn")
    port = free_port()
    env = {"DATABASE_URL": f"sqlite:///{home / 'parley.db'}", "REDIS_URL": "memory://"}
    process = start_gunicorn(env, port, home / "gunicorn.log", threads=4)
    try:
        _wait_until_serving(port, process, home / "gunicorn.log")
        yield port
    finally:
        stop_process(process)


def _wait_until_serving(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            status, _, _ = exchange(port, b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n"
                                          b"Connection: close\r\n\r\n")
            if " 200 " in status:
                return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"gunicorn did not start: {log.read_text()}")


def assert_json_error(answer, status: int) -> None:
    line, headers, body = answer
    assert line.startswith(f"HTTP/1.1 {status} "), line
    assert headers["content-type"] == "application/json"
    error = json.loads(body)
    assert error["code"] == status and error["status"] and error["message"], error


def test_an_over_long_request_line_is_a_json_414(gunicorn):
    path = "/api/data_sets?q=" + "a" * 5000
    answer = exchange(gunicorn, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())

    assert_json_error(answer, 414)


def test_an_over_large_header_is_a_json_431(gunicorn):
    answer = exchange(gunicorn, b"GET /api/data_sets HTTP/1.1\r\nHost: x\r\n"
                                b"X-Big: " + b"a" * 9000 + b"\r\n\r\n")

    assert_json_error(answer, 431)


def test_too_many_headers_is_a_json_431(gunicorn):
    headers = b"".join(b"X-H%d: 1\r\n" % n for n in range(150))
    answer = exchange(gunicorn, b"GET /api/data_sets HTTP/1.1\r\nHost: x\r\n" + headers
                      + b"\r\n")

    assert_json_error(answer, 431)


def test_a_malformed_request_line_is_a_json_400(gunicorn):
    answer = exchange(gunicorn, b"NOT A REQUEST\r\n\r\n")

    assert_json_error(answer, 400)


def test_the_app_still_answers_through_the_config(gunicorn):
    answer = exchange(gunicorn, b"GET /api/data_sets HTTP/1.1\r\nHost: x\r\n"
                                b"Connection: close\r\n\r\n")

    assert_json_error(answer, 401)  # the app's own error, past gunicorn

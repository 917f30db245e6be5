"""The README's first command, as a user runs it: `parley up` on an empty machine
(SQLite, the embedded Valkey server, the offline model), then Ctrl-C. And the
`parley keys` commands."""

import base64
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.data import SLA_QUESTION
from tests.support.processes import ROOT, free_port

pytestmark = pytest.mark.integration
QUESTION = SLA_QUESTION


def embedded_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "ANTHROPIC_API_KEY", "PARLEY_LLM",
                        "FLOWER_BASIC_AUTH")}
    return {**env, "PARLEY_HOME": str(home), "PARLEY_WORKER_CONCURRENCY": "8"}


def call(base: str, method: str, path: str, key: str, body=None, parse=json.loads):
    request = urllib.request.Request(
        base + path, method=method, headers={"X-API-Key": key,
                                             "Content-Type": "application/json"},
        data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, parse(response.read())


def event_names(raw: bytes) -> list[str]:
    return [line.split(": ", 1)[1] for line in raw.decode().splitlines()
            if line.startswith("event: ")]


def wait_for_line(process, marker: str, timeout: float) -> list[str]:
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if marker in line:
            return lines
    raise AssertionError("parley up printed:\n" + "".join(lines))


def wait_until_serving(base: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/openapi.json", timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{base} never answered")


def flower_status(url: str, login: str | None) -> int:
    """The status of Flower's GET url with that login (user:password); 0 while it does
    not listen yet."""
    headers = {"Authorization": "Basic " + base64.b64encode(login.encode()).decode()
               } if login else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                    timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def wait_for_flower(url: str, login: str, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while (status := flower_status(url, login)) == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    return status


def test_parley_up_runs_the_whole_flow_and_stops_on_ctrl_c(tmp_path):
    port, flower_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    up = subprocess.Popen([sys.executable, "-m", "app.cli", "up", "--port", str(port),
                           "--flower-port", str(flower_port)],
                          cwd=ROOT, env=embedded_env(tmp_path), text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        printed = "".join(wait_for_line(up, "Press Ctrl-C", timeout=60))
        assert base in printed
        key = json.loads(printed.split("shown only once:")[1].splitlines()[1])["api_key"]
        wait_until_serving(base)

        _, data_set = call(base, "POST", "/api/data_sets", key, {"name": "Plans"})
        call(base, "POST", f"/api/data_sets/{data_set['id']}/documents", key,
             {"title": "FiberUP Business Duplex",
              "content": "FiberUP Business Duplex includes an SLA with 99.9% uptime."})
        _, conversation = call(base, "POST", "/api/conversations", key,
                               {"data_set_id": data_set["id"]})
        status, accepted = call(base, "POST", f"/api/conversations/{conversation['id']}",
                                key, {"question_message": QUESTION})
        assert status == 202
        deadline, state = time.monotonic() + 30, "PENDING"
        while state == "PENDING" and time.monotonic() < deadline:
            time.sleep(0.2)
            state = call(base, "GET", f"/api/task_status/{accepted['task_id']}", key)[1]["state"]
        assert state == "SUCCESS"
        _, full = call(base, "GET", f"/api/conversations/{conversation['id']}", key)
        assert "includes an SLA" in full["history"][1]["text"]

        # The conversation service face streams a reply through the embedded Redis.
        org = f"?org_id={json.loads(printed.split('shown only once:')[1].splitlines()[1])['org_id']}"
        _, models = call(base, "GET", "/api/models" + org, key)
        _, chat = call(base, "POST", "/api/conversation/create" + org, key, {"title": "Chat"})
        _, session = call(base, "POST", "/api/conversation/create_session" + org, key,
                          {"conversation_id": chat["id"], "model_id": models[0]["id"]})
        _, streamed = call(base, "POST", "/api/conversation/stream_chat" + org, key,
                           {"chat_session_id": session["id"], "message": QUESTION},
                           parse=event_names)
        assert streamed[0] == "start" and streamed[-1] == "end" and "content" in streamed

        # Flower, behind the login printed once and kept in PARLEY_HOME.
        flower = f"http://127.0.0.1:{flower_port}"
        assert f"Flower:   {flower}" in printed
        login = json.loads(printed.split("Flower's login")[1].splitlines()[1])
        assert login["user"] == "admin"
        assert (tmp_path / "flower-password").read_text().strip() == login["password"]
        password = f"admin:{login['password']}"
        assert wait_for_flower(flower + "/api/workers", password) == 200
        assert flower_status(flower + "/api/workers", None) == 401

        # Metrics: the token kept in PARLEY_HOME; the workers' counts added to the API's.
        token = (tmp_path / "metrics-token").read_text().strip()
        assert f"metrics:  {base}/metrics  (bearer token in {tmp_path / 'metrics-token'})" \
            in printed
        request = urllib.request.Request(base + "/metrics",
                                         headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            scraped = answer.read().decode()
        # The polling question and the streamed chat: two replies, counted by the workers.
        assert 'parley_tasks_created_total{kind="reply"} 2.0' in scraped
        assert 'parley_tasks_succeeded_total{kind="reply"} 2.0' in scraped
    finally:
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=40) == 0
    with pytest.raises(OSError):
        urllib.request.urlopen(base + "/openapi.json", timeout=2)


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT,
                          env=embedded_env(home), capture_output=True, text=True,
                          timeout=60)


def test_keys_create_prints_one_json_object_and_revoke_revokes(tmp_path):
    created = run_cli(tmp_path, "keys", "create", "acme")
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)
    assert set(key) == {"org_id", "key_id", "api_key"}

    again = json.loads(run_cli(tmp_path, "keys", "create", "acme").stdout)
    assert again["org_id"] == key["org_id"] and again["key_id"] != key["key_id"]

    revoked = run_cli(tmp_path, "keys", "revoke", key["key_id"])
    assert revoked.returncode == 0 and json.loads(revoked.stdout)["revoked"] is True
    unknown = run_cli(tmp_path, "keys", "revoke", "key_missing")
    assert unknown.returncode == 1 and "does not exist" in unknown.stderr


def test_models_lists_adds_and_disables(tmp_path):
    assert run_cli(tmp_path, "migrate").returncode == 0
    listed = [json.loads(line) for line in run_cli(tmp_path, "models", "list").stdout.splitlines()]
    assert [(m["provider"], m["enabled"]) for m in listed] == [("offline", True)]

    added = json.loads(run_cli(tmp_path, "models", "add", "anthropic", "claude-x").stdout)
    assert (added["provider"], added["name"], added["enabled"]) == ("anthropic", "claude-x", True)
    disabled = json.loads(run_cli(tmp_path, "models", "disable", "claude-x").stdout)
    assert disabled == {**added, "enabled": False}

    unknown = run_cli(tmp_path, "models", "disable", "no-such-model")
    assert unknown.returncode == 1 and "not found" in unknown.stderr

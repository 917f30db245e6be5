"""The README's first command, as a user runs it: `parley up` on an empty machine
(SQLite, the embedded Valkey server, the offline model), then Ctrl-C as a terminal sends
it (to the whole foreground process group), and again later on the same PARLEY_HOME.
What it refuses: a second instance on that PARLEY_HOME, a busy port. And the
`parley keys` commands."""

import base64
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.data import SLA_QUESTION
from tests.support.processes import ROOT, first_api_key, free_port

pytestmark = pytest.mark.integration
QUESTION = SLA_QUESTION


def embedded_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "ANTHROPIC_API_KEY", "PARLEY_LLM",
                        "FLOWER_BASIC_AUTH", "PARLEY_BROKER_PORT")}
    # Text logs, as in a terminal (and a port of its own for the embedded broker: other
    # runs on this machine use the default).
    return {**env, "PARLEY_HOME": str(home), "PARLEY_WORKER_CONCURRENCY": "8",
            "PARLEY_LOG_FORMAT": "text", "PARLEY_BROKER_PORT": str(broker_port(home))}


def broker_port(home: Path) -> int:
    """One port per PARLEY_HOME, kept in it: a later run uses the same, as a user's does."""
    kept = home / "test-broker-port"
    if not kept.exists():
        home.mkdir(parents=True, exist_ok=True)
        kept.write_text(str(free_port()))
    return int(kept.read_text())


def start_up(home: Path, *arguments: str) -> tuple[subprocess.Popen, Path]:
    """`parley up` in a process group of its own, as a shell runs a command in the
    foreground, its output and its children's (both streams, as a terminal shows them)
    in a log file: (the process, the log)."""
    log = home.parent / f"{home.name}-up-{time.monotonic_ns()}.log"
    with log.open("w") as output:
        process = subprocess.Popen([sys.executable, "-m", "app.cli", "up", *arguments],
                                   cwd=ROOT, env=embedded_env(home), stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    return process, log


def ctrl_c(process: subprocess.Popen) -> int:
    """What the terminal does on Ctrl-C: SIGINT to every process of the foreground
    group (parley up and any child it did not put in a session of its own). Its exit
    code."""
    os.killpg(process.pid, signal.SIGINT)
    return process.wait(timeout=60)


def wait_for_box(process: subprocess.Popen, log: Path, timeout: float = 120) -> str:
    """The output until the box's last line, once it is printed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        printed = log.read_text(errors="replace")
        if "Press Ctrl-C to stop." in printed:
            return printed[:printed.index("Press Ctrl-C to stop.") + 200]
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError("parley up printed:\n" + log.read_text(errors="replace")[-5000:])


def box_of(printed: str) -> str:
    """The box: the lines between its two rules, frames removed."""
    rules = [m.start() for m in re.finditer(r"^\+-+\+$", printed, re.MULTILINE)]
    return "\n".join(line[2:-2].rstrip()
                     for line in printed[rules[-2]:].splitlines()[1:]
                     if line.startswith("| "))


def assert_quiet_stop(process: subprocess.Popen, log: Path) -> None:
    """Ctrl-C stops everything with exit code 0, no traceback from any process, and the
    broker up until the children have stopped (none lost its connection)."""
    assert ctrl_c(process) == 0
    printed = log.read_text(errors="replace")
    assert "Stopping Parley..." in printed
    assert "Traceback" not in printed, printed[-5000:]
    assert "Connection to broker lost" not in printed, printed[-5000:]


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
    home = tmp_path / "home"
    port, flower_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    up, log = start_up(home, "--port", str(port), "--flower-port", str(flower_port))
    try:
        printed = wait_for_box(up, log)
        # The box comes last: after every child's own start-up lines.
        box_starts = printed.rindex("Parley is ready on")
        for worker in ("parley-0@", "parley-batch@"):
            assert re.search(rf"{worker}\S+ ready\.", printed[:box_starts])
        assert "Visit me at" in printed[:box_starts]  # Flower's
        box = box_of(printed)
        assert f"Parley is ready on {base}" in box and f"API docs: {base}/docs" in box
        org_id = re.search(r"Your API key \(organization default, (org_\w+)\):", box)[1]
        key = first_api_key(printed)
        assert f"\n  {key}\n" in box
        assert "It is shown only once" in box
        # Now answering; a second parley up on this PARLEY_HOME is refused at once.
        urllib.request.urlopen(base + "/healthz", timeout=5)
        second = run_cli(home, "up", "--port", str(free_port()), "--flower-port", "0")
        assert second.returncode == 1
        assert second.stderr == (f"parley up: another parley up (pid {up.pid}) is running "
                                 f"with PARLEY_HOME={home}: stop it (Ctrl-C in its "
                                 "terminal), or give this one a PARLEY_HOME of its own.\n")

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
        org = f"?org_id={org_id}"
        _, models = call(base, "GET", "/api/models" + org, key)
        _, chat = call(base, "POST", "/api/conversation/create" + org, key, {"title": "Chat"})
        _, session = call(base, "POST", "/api/conversation/create_session" + org, key,
                          {"conversation_id": chat["id"], "model_id": models[0]["id"]})
        _, streamed = call(base, "POST", "/api/conversation/stream_chat" + org, key,
                           {"chat_session_id": session["id"], "message": QUESTION},
                           parse=event_names)
        assert streamed[0] == "start" and streamed[-1] == "end" and "content" in streamed

        # The embedded broker, on the port the banner names, for tools.
        broker = broker_port(home)
        assert (f"broker:   redis://127.0.0.1:{broker}/0  (embedded Valkey; redis-cli -p "
                f"{broker})") in printed
        with socket.create_connection(("127.0.0.1", broker), timeout=5) as redis:
            redis.sendall(b"PING\r\n")
            assert redis.recv(64) == b"+PONG\r\n"

        # Flower, behind the login printed once and kept in PARLEY_HOME.
        flower = f"http://127.0.0.1:{flower_port}"
        assert f"Flower:   {flower}" in printed
        login = json.loads(printed.split("Flower's login")[1].splitlines()[1])
        assert login["user"] == "admin"
        assert (home / "flower-password").read_text().strip() == login["password"]
        password = f"admin:{login['password']}"
        assert wait_for_flower(flower + "/api/workers", password) == 200
        assert flower_status(flower + "/api/workers", None) == 401

        # Metrics: the token kept in PARLEY_HOME; the workers' counts added to the API's.
        token = (home / "metrics-token").read_text().strip()
        assert f"metrics:  {base}/metrics  (bearer token in {home / 'metrics-token'})" \
            in printed
        request = urllib.request.Request(base + "/metrics",
                                         headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            scraped = answer.read().decode()
        # The polling question and the streamed chat: two replies, counted by the workers.
        assert 'parley_tasks_created_total{kind="reply"} 2.0' in scraped
        assert 'parley_tasks_succeeded_total{kind="reply"} 2.0' in scraped
    finally:
        if up.poll() is None:
            assert_quiet_stop(up, log)
    with pytest.raises(OSError):
        urllib.request.urlopen(base + "/openapi.json", timeout=2)

    # A later run on the same PARLEY_HOME: the lock went with the first; no new key, the
    # box says where it was shown; the same broker port, its data kept.
    again, log = start_up(home, "--port", str(port), "--flower-port", "0")
    try:
        box = box_of(wait_for_box(again, log))
        assert f"Parley is ready on {base}" in box
        assert "pk_" not in box
        assert f"API key: shown once, on the first run with this PARLEY_HOME\n  ({home})." \
            in box
        assert "Another one: parley keys create ORG" in box
        assert call(base, "GET", f"/api/conversations/{conversation['id']}", key)[0] == 200
    finally:
        if again.poll() is None:
            assert_quiet_stop(again, log)


def test_a_busy_port_stops_parley_up_at_once_before_anything_starts(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]

        refused = run_cli(tmp_path, "up", "--port", str(busy))

    assert refused.returncode == 1
    assert refused.stdout == ""
    assert refused.stderr.startswith(f"parley up: the API's port, 127.0.0.1:{busy}, is in "
                                     "use")
    assert "choose another with --port (or PORT" in refused.stderr
    assert not (tmp_path / "valkey").exists() and not (tmp_path / "parley.db").exists()


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

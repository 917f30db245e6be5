"""The project's processes, started for a test: Celery workers and beat, gunicorn; and
a free port to run them on."""

import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKER_READY_SECONDS = 60


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the time of asking)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def first_api_key(printed: str) -> str | None:
    """The API key in the box `parley up` prints on its first run (app/supervisor.py
    `_ready_box`), or None."""
    found = re.search(r"^\|   (pk_[\w-]+) ", printed, re.MULTILINE)
    return found[1] if found else None


def start_worker(env: dict, log_path: Path, concurrency: int = 8) -> subprocess.Popen:
    """A worker consuming every queue, as a worker does unless given --queues."""
    return start_celery(
        ["worker", "--pool", "threads", "--concurrency", str(concurrency),
         "--task-events", "--loglevel", "INFO",
         "--without-gossip", "--without-mingle",
         "--hostname", f"it-{secrets.token_hex(3)}@%h"], env, log_path, " ready.")


def start_beat(env: dict, log_path: Path) -> subprocess.Popen:
    schedule = log_path.with_name("celerybeat-schedule")
    return start_celery(["beat", "--loglevel", "INFO", "--schedule", str(schedule)],
                        env, log_path, "beat: Starting")


def start_flower(env: dict, port: int, log_path: Path, login: str) -> subprocess.Popen:
    """Flower on 127.0.0.1:port behind basic auth (`login`: user:password, given as
    `parley up` gives it: in FLOWER_BASIC_AUTH), once it listens."""
    return start_celery(["flower", "--address=127.0.0.1", f"--port={port}"],
                        {**env, "FLOWER_BASIC_AUTH": login}, log_path, "Visit me at",
                        app="workers.flower_app")


def start_celery(arguments: list[str], env: dict, log_path: Path, ready_marker: str,
                 app: str = "workers.celery_app") -> subprocess.Popen:
    """A celery process of the project, started and waited for until it says it is
    ready. Each process needs a log file of its own."""
    log = log_path.open("w")
    process = subprocess.Popen([sys.executable, "-m", "celery", "-A", app,
                                *arguments], cwd=ROOT, env={**os.environ, **env},
                               stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + WORKER_READY_SECONDS
    while ready_marker not in log_path.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"celery {arguments[0]} did not start:\n"
                               + log_path.read_text()[-3000:])
        time.sleep(0.1)
    return process


def start_gunicorn(env: dict, port: int, log_path: Path, threads: int = 20
                   ) -> subprocess.Popen:
    """The app under gunicorn with Parley's config (app/gunicorn_conf.py), as every
    command line runs it, with one worker process, on 127.0.0.1:port, logging to
    log_path; not waited for."""
    env = {**os.environ, "WEB_CONCURRENCY": "1", "PARLEY_WEB_THREADS": str(threads), **env}
    with log_path.open("w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:app.gunicorn_conf",
             "app.wsgi:app", "--bind", f"127.0.0.1:{port}", "--access-logfile", "-",
             "--error-logfile", "-"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_until_serving(process: subprocess.Popen, url: str, logs,
                       seconds: float = 30) -> None:
    """Until the web process at url answers GET /openapi.json; `logs()` says why not."""
    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({process.returncode}){logs()}")
        try:
            with urllib.request.urlopen(f"{url}/openapi.json", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn did not answer in {seconds:g}s{logs()}")
        time.sleep(0.1)


def stop_process(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 15 seconds: a worker, beat or gunicorn."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()

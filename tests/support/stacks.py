"""The real path: the API in-process (the Flask test client) and a real Celery worker
process sharing PostgreSQL and Redis."""

import secrets
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import redis

from app.extensions import db
from app.services import organizations
from tests.support.apps import make_real_app
from tests.support.environment import REDIS_DB
from tests.support.processes import (free_port, start_gunicorn, start_worker,
                                     stop_process, wait_until_serving)

WORKER_ENV = {
    "PARLEY_RETRY_BACKOFF": "0.1",
    "PARLEY_RETRY_BACKOFF_MAX": "0.5",
    "PARLEY_REPLY_MAX_RETRIES": "4",
    "PARLEY_LLM_TIMEOUT": "1.5",
    "ANTHROPIC_MODEL": "claude-fake-1",
}


class Stack:
    """The API (in-process) and a real worker process sharing PostgreSQL and Redis."""

    def __init__(self, app, worker: subprocess.Popen, log_path: Path):
        self.app = app
        self.client = app.test_client()
        self.worker = worker
        self.log_path = log_path

    def new_org(self) -> dict:
        with self.app.app_context():
            key = organizations.create_key(f"org-{secrets.token_hex(4)}")
        return {"X-API-Key": key["api_key"]}

    def wait_for_task(self, auth: dict, task_id: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.client.get(f"/api/task_status/{task_id}", headers=auth).get_json()
            if status["state"] in ("SUCCESS", "FAILURE"):
                return status
            time.sleep(0.05)
        raise AssertionError(f"task {task_id} still {status} after {timeout}s; worker log:\n"
                             + self.log_path.read_text()[-3000:])


@contextmanager
def real_stack(kind: str, postgres_url: str, redis_server: str, folder: Path,
               fake_model=None):
    """A Stack whose worker answers with `kind` ("anthropic": the fake model at
    fake_model.url; "offline"), on that kind's own Redis database (flushed first),
    logging into folder; the app context pushed while it runs."""
    redis_url = f"{redis_server}/{REDIS_DB[kind]}"
    redis.Redis.from_url(redis_url).flushdb()
    env = {"PARLEY_LLM": kind}
    if fake_model is not None:
        env.update(ANTHROPIC_API_KEY="test-key", ANTHROPIC_BASE_URL=fake_model.url)
    with stack_on(postgres_url, redis_url, folder, env) as stack:
        yield stack


@contextmanager
def stack_on(postgres_url: str, redis_url: str, folder: Path, env: dict,
             concurrency: int = 8):
    """A Stack on that database and that Redis, its worker run with WORKER_ENV and
    `env`, logging into folder; the app context pushed while it runs."""
    env = {**WORKER_ENV, "DATABASE_URL": postgres_url, "REDIS_URL": redis_url, **env}
    log_path = folder / "worker.log"
    worker = start_worker(env, log_path, concurrency)
    app = make_real_app(postgres_url, redis_url)
    try:
        with app.app_context():
            yield Stack(app, worker, log_path)
            db.session.remove()
            db.engine.dispose()
    finally:
        stop_process(worker)


@contextmanager
def web_of(stack: Stack, log_path: Path, env: dict | None = None):
    """A gunicorn process of the app on the stack's database and Redis (and `env`),
    logging to log_path, once it answers; its URL."""
    config = stack.app.config
    port = free_port()
    process = start_gunicorn({"DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
                              "REDIS_URL": config["REDIS_URL"], **(env or {})}, port, log_path)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(process, url, lambda: "\n" + log_path.read_text()[-3000:])
        yield url
    finally:
        stop_process(process)

"""GET /readyz under gunicorn, as a load balancer or orchestrator probes it: 503 naming
the check that fails while the database, Redis or every worker is gone, and 200 again
once it is back, by itself. Each test stops services of its own (a PostgreSQL cluster,
a Valkey server), never the machine's; /healthz answers all along."""

import json
import time
import urllib.error
import urllib.request

import pytest
import redis
from flask_migrate import upgrade

from app.extensions import db
from tests.support.apps import make_real_app
from tests.support.environment import REDIS_DB
from tests.support.processes import (free_port, start_gunicorn, start_worker, stop_process,
                                     wait_until_serving)
from tests.support.stacks import WORKER_ENV

pytestmark = pytest.mark.integration
SETTLE_SECONDS = 60


class Probe:
    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path: str) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(self.base + path, timeout=10) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def until(self, status: int, failing: set[str]) -> dict:
        """/readyz's report once it answers `status` with exactly these checks failing."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            code, report = self.get("/readyz")
            if code == status and _failing(report) == failing:
                return report
            if time.monotonic() > deadline:
                raise AssertionError(f"/readyz still answers {code}: {report}")
            time.sleep(0.2)


def _failing(report: dict) -> set[str]:
    return {name for name, check in report["checks"].items() if check["state"] == "failing"}


def _web(env: dict, tmp_path):
    port = free_port()
    log_path = tmp_path / "gunicorn.log"
    web = start_gunicorn(env, port, log_path)
    wait_until_serving(web, f"http://127.0.0.1:{port}",
                       lambda: ":\n" + log_path.read_text()[-3000:])
    return web, Probe(port)


def test_readyz_follows_the_workers_and_the_database(cluster, redis_server, tmp_path):
    app = make_real_app(cluster.url, "memory://")
    with app.app_context():
        upgrade()
        db.engine.dispose()
    redis_url = f"{redis_server}/{REDIS_DB['broker']}"
    redis.Redis.from_url(redis_url).flushdb()
    env = {**WORKER_ENV, "DATABASE_URL": cluster.url, "REDIS_URL": redis_url,
           "PARLEY_LLM": "offline"}
    web, probe = _web(env, tmp_path)
    worker = None
    try:
        no_worker = probe.until(503, {"workers"})
        assert no_worker["status"] == "not ready"
        assert "heartbeat" in no_worker["checks"]["workers"]["reason"]

        worker = start_worker(env, tmp_path / "worker.log")
        ready = probe.until(200, set())
        assert ready["checks"]["workers"]["alive"] == 1

        cluster.stop()
        down = probe.until(503, {"database"})
        assert down["checks"]["database"]["reason"] == "unreachable"
        assert probe.get("/healthz") == (200, {"status": "ok"})
        assert str(cluster.port) not in json.dumps(down)
        cluster.start()
        probe.until(200, set())

        stop_process(worker)  # a worker that stops leaves the heartbeats at once
        worker = None
        probe.until(503, {"workers"})
    finally:
        if worker is not None:
            stop_process(worker)
        stop_process(web)


def test_readyz_names_redis_while_it_is_stopped_and_recovers(fault_stack, tmp_path):
    web, probe = _web(fault_stack.env, tmp_path)
    try:
        probe.until(200, set())

        fault_stack.broker.stop()
        down = probe.until(503, {"redis", "workers"})
        assert down["checks"]["redis"]["reason"] == "unreachable"
        assert down["checks"]["database"]["state"] == "ok"
        assert str(fault_stack.broker_port) not in json.dumps(down)
        assert probe.get("/healthz") == (200, {"status": "ok"})

        fault_stack.broker = fault_stack.start_broker()
        probe.until(200, set())
    finally:
        stop_process(web)

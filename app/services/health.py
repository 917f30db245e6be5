"""Health and readiness, for load balancers, orchestrators and operators.

Liveness is the process answering, and touches nothing. Readiness is whether this
installation can serve now: the checks `database` (a round trip), `redis` (a PING) and
`workers` (at least one worker process beat its heartbeat within
WORKER_HEARTBEAT_TTL: app/services/presence.py), each with its state and latency.

The checks run at once, each on a thread of its own, and the answer comes by
READY_TIMEOUT_SECONDS whatever they do: a dependency that hangs fails its check with
"timeout", and the thread it holds ends with its driver's own timeout. A failing check
says why in a few fixed words (unreachable, timeout, no heartbeat...), never with a
driver's message, which may name hosts, users or URLs; the log has the details.
"""

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as CheckTimedOut

import redis
from flask import current_app
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.extensions import db
from app.services import events, presence

log = logging.getLogger(__name__)

OK, FAILING = "ok", "failing"


class CheckFailed(Exception):
    """A check's verdict, in words safe to show anyone."""


def liveness() -> dict:
    return {"status": "ok"}


def readiness() -> tuple[bool, dict]:
    """(ready, the report): every check's state and latency, and why a failing one
    fails."""
    config = current_app.config
    engine, client = db.engine, events.task_events().client
    ttl = config["WORKER_HEARTBEAT_TTL"]
    checks = {"database": lambda: _database(engine),
              "redis": lambda: _redis(client),
              "workers": lambda: _workers(client, ttl)}
    timeout = config["READY_TIMEOUT_SECONDS"]
    pool = ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="parley-ready")
    try:
        deadline = time.monotonic() + timeout
        running = {name: pool.submit(_run, name, check) for name, check in checks.items()}
        report = {name: _wait(future, deadline, timeout) for name, future in running.items()}
    finally:
        pool.shutdown(wait=False)  # a hung check must not hold the answer
    ready = all(check["state"] == OK for check in report.values())
    return ready, {"status": "ready" if ready else "not ready", "checks": report}


def _run(name: str, check) -> dict:
    started = time.perf_counter()
    try:
        details = check()
    except CheckFailed as exc:
        return _failing(started, str(exc))
    except Exception as exc:
        log.warning("readiness: %s is unreachable: %s", name, exc)
        return _failing(started, "unreachable")
    return {"state": OK, "latency_ms": _since(started), **details}


def _wait(future, deadline: float, timeout: float) -> dict:
    try:
        return future.result(timeout=max(0.0, deadline - time.monotonic()))
    except CheckTimedOut:
        return {"state": FAILING, "latency_ms": round(timeout * 1000, 1),
                "reason": "timeout"}


def _failing(started: float, reason: str) -> dict:
    return {"state": FAILING, "latency_ms": _since(started), "reason": reason}


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _database(engine) -> dict:
    """One round trip. A pooled connection the database dropped (it restarted) fails
    once and invalidates the pool, so the check tries once more on a new connection:
    it reports the database, not a stale connection."""
    try:
        _select_one(engine)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        _select_one(engine)
    return {}


def _select_one(engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def _redis(client: redis.Redis | None) -> dict:
    if client is None:
        raise CheckFailed("not configured")
    client.ping()
    return {}


def _workers(client: redis.Redis | None, ttl: float) -> dict:
    if client is None:
        raise CheckFailed("not configured")
    try:
        alive = presence.workers_alive(client, ttl)
    except redis.RedisError as exc:
        log.warning("readiness: the workers' heartbeats are unreadable: %s", exc)
        raise CheckFailed("heartbeats unreadable (redis unreachable)") from exc
    if not alive:
        raise CheckFailed(f"no worker heartbeat in the last {ttl:g} s")
    return {"alive": alive}

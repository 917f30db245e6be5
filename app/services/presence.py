"""Which worker processes are alive, so the sweep can take back a dead worker's tasks
in seconds rather than after a time limit.

Each worker process has an id of its own (host, pid and a random part: a restarted
process is a new worker) and beats a heartbeat: its time, in a Redis sorted set of the
workers, every WORKER_HEARTBEAT_INTERVAL seconds. A claim records its worker's id
(app/services/tasks.py); a worker whose last beat is older than WORKER_HEARTBEAT_TTL,
or that has none, is dead. One that stops cleanly leaves the set.

A Redis that restarted empty has lost the set, until each live worker beats again. So
heartbeats are judged only in a Redis that has held its data longer than a heartbeat
lives: an epoch key, written once, says since when. A missing epoch also tells the
sweep that the broker's queued messages are gone; the sweep writes it once it has
published them again.
"""

import logging
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass

import redis

log = logging.getLogger(__name__)

_WORKERS_KEY = "parley:workers"
_EPOCH_KEY = "parley:epoch"
# A worker whose last beat is this much older than the heartbeat's lifetime died long
# ago: its entry is dropped, and it no longer counts as a recent death.
FORGET_AFTER_SECONDS = 600

_this_worker: tuple[int, str] | None = None


def this_worker() -> str:
    """This process's worker id (a new one after a fork)."""
    global _this_worker
    pid = os.getpid()
    if _this_worker is None or _this_worker[0] != pid:
        _this_worker = (pid, f"{socket.gethostname()}:{pid}:{secrets.token_hex(3)}")
    return _this_worker[1]


class Heartbeat:
    """Beats this process's heartbeat every `interval` seconds from a daemon thread.
    A beat Redis refuses is logged and tried again at the next interval."""

    def __init__(self, client: redis.Redis, interval: float):
        self.client, self.interval = client, interval
        self.worker = this_worker()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="parley-heartbeat",
                                        daemon=True)
        self._failing = False

    def start(self) -> "Heartbeat":
        self.beat()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop beating and leave the set: the worker has finished its tasks (call it
        then), and its queued hand-overs are taken back at once."""
        self._stop.set()
        self._thread.join(timeout=self.interval + 1)
        try:
            self.client.zrem(_WORKERS_KEY, self.worker)
        except redis.RedisError:
            pass  # it is judged dead by its last beat

    def beat(self) -> None:
        try:
            self.client.zadd(_WORKERS_KEY, {self.worker: time.time()})
        except redis.RedisError as exc:
            if not self._failing:
                log.warning("worker heartbeat failed, retrying every %gs: %s",
                            self.interval, exc)
            self._failing = True
            return
        if self._failing:
            log.info("worker heartbeat restored")
        self._failing = False

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()


def workers_alive(client: redis.Redis, ttl: float) -> int:
    """How many worker processes beat within the last `ttl` seconds: one count of a
    sorted set's range, cheap enough for every readiness probe. Raises RedisError."""
    return client.zcount(_WORKERS_KEY, time.time() - ttl, "+inf")


@dataclass(frozen=True)
class Census:
    """What Redis says of the workers, as the sweep sees it."""

    client: redis.Redis | None
    # Redis held no epoch: it restarted empty (or is new), so every queued message
    # it held is gone.
    redis_was_reset: bool = False
    # Heartbeats can be trusted: Redis has held its data longer than one lives.
    judges_heartbeats: bool = False
    last_beats: dict[str, float] | None = None  # worker -> time of its last beat
    # A worker died in the last FORGET_AFTER_SECONDS (its messages may be stranded).
    a_worker_died: bool = False
    ttl: float = 0.0

    def dead(self, workers: set[str]) -> set[str]:
        """The workers among these whose heartbeat has stopped; none when heartbeats
        cannot be judged."""
        if not self.judges_heartbeats:
            return set()
        alive_since = time.time() - self.ttl
        return {w for w in workers if self.last_beats.get(w, 0) < alive_since}

    def mark_epoch(self) -> None:
        """Record that Redis holds its data from now on (after the sweep has made up
        for what an empty Redis lost)."""
        try:
            self.client.set(_EPOCH_KEY, repr(time.time()), nx=True)
        except redis.RedisError as exc:
            log.warning("cannot write the Redis epoch: %s", exc)


def census(client: redis.Redis | None, ttl: float) -> Census:
    """Read the epoch and the workers' last beats (dropping those long dead)."""
    if client is None:
        return Census(None)
    now = time.time()
    try:
        epoch = client.get(_EPOCH_KEY)
        client.zremrangebyscore(_WORKERS_KEY, "-inf", now - ttl - FORGET_AFTER_SECONDS)
        last_beats = dict(client.zrange(_WORKERS_KEY, 0, -1, withscores=True))
    except redis.RedisError as exc:
        log.warning("cannot read the workers' heartbeats: %s", exc)
        return Census(client)
    if epoch is None:
        log.warning("Redis holds no epoch: it started empty; queued tasks are published "
                    "again")
        return Census(client, redis_was_reset=True)
    try:
        judges = now - float(epoch) > ttl
    except ValueError:
        judges = False
    return Census(client, judges_heartbeats=judges, last_beats=last_beats, ttl=ttl,
                  a_worker_died=judges and any(beat < now - ttl
                                               for beat in last_beats.values()))

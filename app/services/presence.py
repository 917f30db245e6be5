"""Which worker processes are alive, so the sweep can take back a dead worker's tasks
in seconds rather than after a time limit.

Each worker process has an id of its own (host, pid and a random part: a restarted
process is a new worker) and beats a heartbeat: a Redis key that expires
WORKER_HEARTBEAT_TTL seconds after its latest beat. A claim records its worker's id
(app/services/tasks.py); a claim whose worker's key has expired belongs to a dead
worker.

A Redis that restarted empty has lost every key, heartbeats included, until each live
worker beats again. So the sweep judges heartbeats only in a Redis that has held its
data longer than a heartbeat lives: an epoch key, written once, says since when. A
missing epoch also tells the sweep that the broker's queued messages are gone.
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

_HEARTBEAT_KEY = "parley:worker:{}"
_EPOCH_KEY = "parley:epoch"

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

    def __init__(self, client: redis.Redis, interval: float, ttl: float):
        self.client, self.interval, self.ttl = client, interval, ttl
        self.key = _HEARTBEAT_KEY.format(this_worker())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="parley-heartbeat",
                                        daemon=True)
        self._failing = False

    def start(self) -> "Heartbeat":
        self.beat()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop beating and say so at once: the worker's tasks are taken back without
        waiting for the key to expire (call once the worker has finished its tasks)."""
        self._stop.set()
        self._thread.join(timeout=self.interval + 1)
        try:
            self.client.delete(self.key)
        except redis.RedisError:
            pass  # it expires by itself

    def beat(self) -> None:
        try:
            self.client.set(self.key, "1", px=int(self.ttl * 1000))
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


@dataclass(frozen=True)
class Census:
    """What Redis says of the workers, as the sweep sees it."""

    # Redis held no epoch: it restarted empty (or is new), so every queued message
    # it held is gone.
    redis_was_reset: bool
    # Heartbeats can be trusted: Redis has held its data longer than one lives.
    judges_heartbeats: bool
    client: redis.Redis | None

    def dead(self, workers: set[str]) -> set[str]:
        """The workers among these whose heartbeat has stopped; none when heartbeats
        cannot be judged."""
        if not self.judges_heartbeats or not workers:
            return set()
        ordered = sorted(workers)
        try:
            beats = self.client.mget([_HEARTBEAT_KEY.format(w) for w in ordered])
        except redis.RedisError as exc:
            log.warning("cannot read worker heartbeats: %s", exc)
            return set()
        return {worker for worker, beat in zip(ordered, beats) if beat is None}


def census(client: redis.Redis | None, heartbeat_ttl: float) -> Census:
    """Read (and, when missing, write) the epoch: how long Redis has held its data."""
    if client is None:
        return Census(False, False, None)
    try:
        now = time.time()
        created = client.set(_EPOCH_KEY, repr(now), nx=True)
        since = now if created else float(client.get(_EPOCH_KEY) or now)
    except (redis.RedisError, ValueError) as exc:
        log.warning("cannot read the Redis epoch: %s", exc)
        return Census(False, False, client)
    if created:
        log.warning("Redis holds no epoch: it started empty; queued tasks are published "
                    "again")
    return Census(bool(created), now - since > heartbeat_ttl, client)

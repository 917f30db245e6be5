"""kombu's Redis transport, keeping one redis-py client per channel.

kombu builds a new redis-py client for every publish, acknowledgement and event it
sends, and redis-py's constructor builds its table of response callbacks each time:
about a tenth of a worker's CPU per reply, and of the API's per question. A redis-py
client is safe to share between threads (each command takes a connection from the
pool), so the channel keeps one, and builds a new one only when its pool is replaced
(after a fork or a reconnection).

The channel also closes cleanly when its Redis server has gone away (see
`Channel.close`), so a worker survives a Redis restart and reconnects by itself.

Celery uses this transport for redis:// and rediss:// broker URLs (app/config.py).

Below it, what the sweep asks of the broker: the messages a worker received and never
acknowledged, and putting them back in their queues.
"""

import json
import time
from contextlib import suppress
from datetime import datetime, timezone

from celery import current_app as current_celery
from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    _shared_client = None

    def _create_client(self, asynchronous=False):
        if asynchronous:
            return super()._create_client(asynchronous=True)
        client = self._shared_client
        if client is None or client.connection_pool is not self.pool:
            client = self._shared_client = super()._create_client()
        return client

    def close(self):
        """Close the channel even when its server is gone.

        kombu's close reads the reply of a BRPOP in flight, deletes the auto-delete
        queues, then restores the unacknowledged messages; on a dead connection the
        first of these raises and the rest never runs. On a lost connection Celery's
        consumer calls `collect()`, which closes the channels (stopping at the first
        that raises) and detaches the transport, then `close()`, which closed the task
        channel again: it still had messages to restore, built a pool from the
        detached transport and raised AttributeError (no `hostname` on None), which
        Celery treats as unrecoverable: the worker exited with every task it was
        running. So a connection error finishes the close without the server: its
        auto-delete queues cannot be deleted there anyway, and the tasks of messages it
        could not restore still run here and acknowledge them when they end."""
        try:
            super().close()
        except self.connection_errors:
            self.auto_delete_queues.clear()
            with suppress(*self.connection_errors):
                super().close()  # picks up where the first attempt stopped


class Transport(kombu_redis.Transport):
    Channel = Channel


TRANSPORT = f"{__name__}:Transport"


def stranded_messages(older_than: float) -> dict[str, str]:
    """The messages workers received more than `older_than` seconds ago and have not
    acknowledged, that are not waiting for a later time (a retry's countdown): task id
    -> delivery tag. kombu's Redis transport keeps each in a hash until it is
    acknowledged, and puts it back in its queue only after the visibility timeout (for
    Parley, minutes): the sweep asks which of these a dead worker held."""
    with current_celery.connection_for_write() as connection:
        channel = connection.default_channel
        if not hasattr(channel, "unacked_index_key"):
            return {}  # not a Redis broker (memory:// in tests)
        client = channel.client
        tags = client.zrangebyscore(channel.unacked_index_key, 0, time.time() - older_than)
        payloads = client.hmget(channel.unacked_key, tags) if tags else []
    stranded = {}
    for tag, payload in zip(tags, payloads):
        headers = _headers(payload)
        if headers.get("id") and not _waits(headers.get("eta")):
            stranded[headers["id"]] = tag.decode() if isinstance(tag, bytes) else tag
    return stranded


def restore(tags) -> None:
    """Put these received, unacknowledged messages back in their queues, as kombu does
    after its visibility timeout."""
    with current_celery.connection_for_write() as connection:
        channel = connection.default_channel
        for tag in tags:
            channel.qos.restore_by_tag(tag, channel.client)


def _headers(payload) -> dict:
    try:
        message = json.loads(payload)[0]
        return message.get("headers") or {}
    except (TypeError, ValueError, IndexError, AttributeError):
        return {}


def _waits(eta: str | None) -> bool:
    if not eta:
        return False
    try:
        return datetime.fromisoformat(eta) > datetime.now(timezone.utc)
    except (TypeError, ValueError):
        return False

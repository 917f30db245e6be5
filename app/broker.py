"""kombu's Redis transport, keeping one redis-py client per channel.

kombu builds a new redis-py client for every publish, acknowledgement and event it
sends, and redis-py's constructor builds its table of response callbacks each time:
about a tenth of a worker's CPU per reply, and of the API's per question. A redis-py
client is safe to share between threads (each command takes a connection from the
pool), so the channel keeps one, and builds a new one only when its pool is replaced
(after a fork or a reconnection).

Celery uses this transport for redis:// and rediss:// broker URLs (app/config.py).
"""

import time

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


class Transport(kombu_redis.Transport):
    Channel = Channel


TRANSPORT = f"{__name__}:Transport"


def restore_unacknowledged(older_than: float) -> int:
    """Put back in their queues the messages workers received more than `older_than`
    seconds ago and have not acknowledged, as kombu does after its visibility timeout:
    for the sweep, once it has found a dead worker, whose messages would otherwise wait
    that long. A live worker's message put back is delivered again and does nothing
    (its task is held, or done: the claim decides). Returns how many were put back."""
    restored = 0
    with current_celery.connection_for_write() as connection:
        channel = connection.default_channel
        if not hasattr(channel, "unacked_index_key"):
            return 0  # not a Redis broker (memory:// in tests)
        client = channel.client
        ceiling = time.time() - older_than
        for tag in client.zrangebyscore(channel.unacked_index_key, 0, ceiling):
            channel.qos.restore_by_tag(tag, client)
            restored += 1
    return restored

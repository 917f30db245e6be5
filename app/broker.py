"""kombu's Redis transport, keeping one redis-py client per channel.

kombu builds a new redis-py client for every publish, acknowledgement and event it
sends, and redis-py's constructor builds its table of response callbacks each time:
about a tenth of a worker's CPU per reply, and of the API's per question. A redis-py
client is safe to share between threads (each command takes a connection from the
pool), so the channel keeps one, and builds a new one only when its pool is replaced
(after a fork or a reconnection).

Celery uses this transport for redis:// and rediss:// broker URLs (app/config.py).
"""

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

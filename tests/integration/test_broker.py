"""app/broker.py on a real Redis: Celery uses it for Redis URLs, a channel keeps one
redis-py client, and a replaced pool gets a new one that works."""

from kombu import Connection

from app.broker import TRANSPORT, Transport
from app.config import celery_settings
from app.services import task_kinds
from tests.support.environment import REDIS_DB

DB = REDIS_DB["broker"]  # a database of its own on the shared Redis


def test_celery_uses_the_shared_client_transport_for_redis_urls(app):
    settings = {**app.config, "REDIS_URL": "redis://127.0.0.1:6379/0"}
    assert celery_settings(settings, task_kinds)["broker_transport"] == TRANSPORT
    settings["REDIS_URL"] = "memory://"
    assert celery_settings(settings, task_kinds)["broker_transport"] is None


def test_a_channel_keeps_one_client_until_its_pool_is_replaced(redis_server):
    with Connection(f"{redis_server}/{DB}", transport=TRANSPORT) as connection:
        assert isinstance(connection.transport, Transport)
        channel = connection.default_channel
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
            assert first is second
            first.set("parley:broker-test", "1")

        channel._disconnect_pools()  # what kombu does after a fork or a reconnection
        with channel.conn_or_acquire() as renewed:
            assert renewed is not first
            assert renewed.get("parley:broker-test") == b"1"
            renewed.delete("parley:broker-test")


def test_messages_go_through_the_shared_client(redis_server):
    with Connection(f"{redis_server}/{DB}", transport=TRANSPORT) as connection:
        queue = connection.SimpleQueue("parley-broker-test")
        try:
            for n in range(3):
                queue.put({"n": n})
            received = [queue.get(timeout=5) for _ in range(3)]
            for message in received:
                message.ack()
            assert [m.payload["n"] for m in received] == [0, 1, 2]
        finally:
            queue.clear()
            queue.close()

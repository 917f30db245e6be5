"""app/services/presence.py: worker heartbeats and the Redis epoch, on a fake Redis."""

import time

import fakeredis
import pytest

from app.services import presence

TTL = 8.0


@pytest.fixture
def redis():
    return fakeredis.FakeRedis(decode_responses=True)


def test_a_worker_id_names_the_process_and_is_stable():
    assert presence.this_worker() == presence.this_worker()
    host, pid, _ = presence.this_worker().split(":")
    assert pid.isdigit() and host


def test_a_heartbeat_is_a_key_that_expires(redis):
    beat = presence.Heartbeat(redis, interval=60, ttl=TTL).start()

    assert 0 < redis.pttl(beat.key) <= TTL * 1000
    beat.stop()
    assert not redis.exists(beat.key)


def test_an_empty_redis_was_reset_and_cannot_judge_heartbeats_yet(redis):
    census = presence.census(redis, TTL)

    assert census.redis_was_reset and not census.judges_heartbeats
    assert census.dead({"gone:1:aaa"}) == set()
    again = presence.census(redis, TTL)
    assert not again.redis_was_reset and not again.judges_heartbeats


def test_after_a_heartbeats_lifetime_a_silent_worker_is_dead(redis):
    redis.set("parley:epoch", repr(time.time() - TTL - 1))
    alive = presence.Heartbeat(redis, interval=60, ttl=TTL).start()

    census = presence.census(redis, TTL)

    assert census.judges_heartbeats and not census.redis_was_reset
    assert census.dead({presence.this_worker(), "gone:1:aaa"}) == {"gone:1:aaa"}
    alive.stop()


def test_without_redis_nothing_is_judged():
    census = presence.census(None, TTL)
    assert not census.redis_was_reset and census.dead({"gone:1:aaa"}) == set()


def test_a_redis_that_refuses_is_no_verdict(redis, monkeypatch):
    import redis as redis_module

    def refuse(*_, **__):
        raise redis_module.ConnectionError("refused")

    monkeypatch.setattr(redis, "set", refuse)
    census = presence.census(redis, TTL)
    assert not census.redis_was_reset and census.dead({"gone:1:aaa"}) == set()

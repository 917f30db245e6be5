"""app/services/presence.py: worker heartbeats and the Redis epoch, on a fake Redis."""

import time

import fakeredis
import pytest
import redis as redis_module

from app.services import presence

TTL = 8.0


@pytest.fixture
def redis():
    return fakeredis.FakeRedis(decode_responses=True)


def held_for_a_while(redis) -> None:
    redis.set("parley:epoch", repr(time.time() - TTL - 1))


def test_a_worker_id_names_the_process_and_is_stable():
    assert presence.this_worker() == presence.this_worker()
    host, pid, _ = presence.this_worker().split(":")
    assert pid.isdigit() and host


def test_a_heartbeat_is_the_workers_time_in_the_set_until_it_stops(redis):
    beat = presence.Heartbeat(redis, interval=60).start()

    assert time.time() - redis.zscore("parley:workers", presence.this_worker()) < 5
    beat.stop()
    assert redis.zscore("parley:workers", presence.this_worker()) is None


def test_an_empty_redis_was_reset_and_judges_no_heartbeat_until_the_epoch_is_written(redis):
    census = presence.census(redis, TTL)

    assert census.redis_was_reset and not census.judges_heartbeats
    assert census.dead({"gone:1:aaa"}) == set()
    # Until the sweep has made up for the reset, the next one sees it too.
    assert presence.census(redis, TTL).redis_was_reset
    census.mark_epoch()
    again = presence.census(redis, TTL)
    assert not again.redis_was_reset and not again.judges_heartbeats  # too recent


def test_after_a_heartbeats_lifetime_a_silent_worker_is_dead(redis):
    held_for_a_while(redis)
    alive = presence.Heartbeat(redis, interval=60).start()
    redis.zadd("parley:workers", {"stopped:2:bbb": time.time() - TTL - 1})

    census = presence.census(redis, TTL)

    assert census.judges_heartbeats and not census.redis_was_reset
    assert census.dead({presence.this_worker(), "stopped:2:bbb", "never:3:ccc"}) == {
        "stopped:2:bbb", "never:3:ccc"}
    assert census.a_worker_died
    alive.stop()


def test_a_worker_long_dead_is_forgotten(redis):
    held_for_a_while(redis)
    redis.zadd("parley:workers", {"old:4:ddd": time.time() - TTL - 2 * presence.FORGET_AFTER_SECONDS})

    census = presence.census(redis, TTL)

    assert not census.a_worker_died
    assert redis.zscore("parley:workers", "old:4:ddd") is None


def test_without_redis_nothing_is_judged():
    census = presence.census(None, TTL)
    assert not census.redis_was_reset and census.dead({"gone:1:aaa"}) == set()


def test_a_redis_that_refuses_is_no_verdict(redis, monkeypatch):
    def refuse(*_, **__):
        raise redis_module.ConnectionError("refused")

    monkeypatch.setattr(redis, "get", refuse)
    census = presence.census(redis, TTL)
    assert not census.redis_was_reset and census.dead({"gone:1:aaa"}) == set()

"""Task event streams for tests: one on an in-process fake Redis, one on a Redis that is
down, and the events of the SSE frames a relay sends."""

import json

import fakeredis
import redis

from app.services.events import TaskEventStreams

TASK = "00000000-0000-4000-8000-000000000001"


def fake_streams(maxlen: int = 1000, ttl_seconds: int = 60,
                 coalesce_seconds: float = 0.0) -> TaskEventStreams:
    """Task event streams on an in-process fake Redis."""
    return TaskEventStreams(fakeredis.FakeRedis(decode_responses=True), maxlen=maxlen,
                            ttl_seconds=ttl_seconds, coalesce_seconds=coalesce_seconds)


class BrokenRedis:
    """A client whose every command fails, counting the attempts."""

    def __init__(self):
        self.calls = 0

    def pipeline(self, transaction=False):
        self.calls += 1
        raise redis.ConnectionError("Redis is down")

    def xread(self, *args, **kwargs):
        raise redis.ConnectionError("Redis is down")


def parse_frames(frames: list[str]) -> list[dict]:
    """The events of SSE frames: {"id", "event", "data"}; comments and retry left out."""
    parsed = []
    for block in "".join(frames).split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines()
                      if line and not line.startswith((":", "retry:")))
        if fields:
            parsed.append({"id": fields["id"], "event": fields["event"],
                           "data": json.loads(fields["data"])})
    return parsed

"""The services the integration tests use, from the environment:

PARLEY_TEST_POSTGRES   an admin URL of PostgreSQL (default
                       postgresql://postgres@127.0.0.1:5432/test); each run creates a
                       database of its own there and drops it after
PARLEY_TEST_REDIS      the Redis server (default redis://127.0.0.1:6379)
PARLEY_TEST_REDIS_DBS  the Redis database numbers of the Claude stack, the offline
                       stack and, optionally, the broker tests (default 11,12,13); two
                       runs on one machine that give different numbers avoid each other
CI=true                a missing PostgreSQL or Redis fails the run instead of skipping
"""

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_ADMIN_URL = os.environ.get("PARLEY_TEST_POSTGRES",
                                    "postgresql://postgres@127.0.0.1:5432/test")
REDIS_SERVER_URL = os.environ.get("PARLEY_TEST_REDIS", "redis://127.0.0.1:6379")
DEFAULT_REDIS_DBS = "11,12,13"


def redis_dbs(setting: str | None) -> dict[str, int]:
    """{"anthropic", "offline", "broker"} database numbers from "11,12" or "11,12,13"
    (the broker's defaults to 13); each stack gets its own, so no worker takes
    another's tasks."""
    try:
        numbers = [int(part) for part in (setting or DEFAULT_REDIS_DBS).split(",")]
    except ValueError:
        numbers = []
    if len(numbers) == 2:
        numbers.append(int(DEFAULT_REDIS_DBS.rsplit(",", 1)[1]))
    if len(numbers) != 3 or len(set(numbers)) != 3 or min(numbers) < 0:
        raise ValueError(f"PARLEY_TEST_REDIS_DBS={setting!r}: give two or three different "
                         "database numbers, such as 11,12 or 11,12,13")
    return dict(zip(("anthropic", "offline", "broker"), numbers))


REDIS_DB = redis_dbs(os.environ.get("PARLEY_TEST_REDIS_DBS"))


def unavailable(what: str, exc: Exception):
    """Fail the test under CI=true, otherwise skip it, saying what is missing."""
    message = f"{what} is not reachable ({exc})"
    if IN_CI:
        pytest.fail(f"{message}; with CI=true the integration tests must run", pytrace=False)
    pytest.skip(f"{message}; integration test skipped")

"""The per-organization cap on model work in flight on the real path: a worker with
many slots, PostgreSQL, Redis and a slow fake model. Organization A asks many questions
at once, B a few: A never runs more than its share, B's questions run while A's wait
their turn (PENDING, queued), and every question is answered once."""

import time
from collections import Counter, defaultdict

import pytest
import redis
from sqlalchemy import func, select

from app.extensions import db
from app.models import Task
from tests.support.data import ask, new_org, setup_conversation
from tests.support.environment import REDIS_DB
from tests.support.faults import replies_per_question
from tests.support.stacks import stack_on

pytestmark = pytest.mark.integration

CAP, SLOTS = 3, 16


@pytest.fixture(scope="module")
def capped_stack(postgres_url, redis_server, fake_model, tmp_path_factory):
    redis_url = f"{redis_server}/{REDIS_DB['anthropic']}"
    redis.Redis.from_url(redis_url).flushdb()
    env = {"PARLEY_LLM": "anthropic", "ANTHROPIC_API_KEY": "test-key",
           "ANTHROPIC_BASE_URL": fake_model.url, "PARLEY_ORG_MAX_IN_FLIGHT": str(CAP)}
    with stack_on(postgres_url, redis_url, tmp_path_factory.mktemp("worker-capped"), env,
                  concurrency=SLOTS) as stack:
        yield stack


def census(org_ids) -> dict:
    """{(org, "running" | "held" | "unfinished"): count}, read in one statement."""
    held = Task.held_since.is_not(None) & (Task.state == "PENDING")
    rows = db.session.execute(
        select(Task.org_id, Task.state, held.label("held"), func.count())
        .where(Task.org_id.in_(org_ids)).group_by(Task.org_id, Task.state, held)).all()
    db.session.rollback()
    counts = Counter()
    for org_id, state, is_held, count in rows:
        if state == "STARTED":
            counts[org_id, "running"] += count
        if is_held:
            counts[org_id, "held"] += count
        if state in ("PENDING", "STARTED"):
            counts[org_id, "unfinished"] += count
    return counts


def test_one_organization_cannot_take_every_slot(capped_stack, fake_model):
    fake_model.configure(latency=0.5)
    client = capped_stack.client
    a, b = new_org(), new_org()
    auth_a, auth_b = ({"X-API-Key": org["api_key"]} for org in (a, b))
    conversations_a = [setup_conversation(client, auth_a) for _ in range(4 * CAP)]
    conversations_b = [setup_conversation(client, auth_b) for _ in range(CAP)]

    tasks_a = [ask(client, auth_a, c, f"A{n}: is there an SLA?")
               for n, c in enumerate(conversations_a)]
    tasks_b = [ask(client, auth_b, c, f"B{n}: is there an SLA?")
               for n, c in enumerate(conversations_b)]
    most = defaultdict(int)
    b_ran_while_a_waited = False
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        counts = census([a["org_id"], b["org_id"]])
        for (org_id, what), count in counts.items():
            most[org_id, what] = max(most[org_id, what], count)
        b_ran_while_a_waited |= bool(counts[b["org_id"], "running"]
                                     and counts[a["org_id"], "held"])
        if not counts[a["org_id"], "unfinished"] + counts[b["org_id"], "unfinished"]:
            break
        time.sleep(0.01)

    statuses = [capped_stack.wait_for_task(auth_a, t) for t in tasks_a] + [
        capped_stack.wait_for_task(auth_b, t) for t in tasks_b]
    assert {s["state"] for s in statuses} == {"SUCCESS"}
    assert set(replies_per_question(tasks_a + tasks_b).values()) == {1}
    assert most[a["org_id"], "running"] == CAP  # its share, used, never more
    assert most[a["org_id"], "held"] > 0
    assert most[b["org_id"], "running"] <= CAP
    assert b_ran_while_a_waited


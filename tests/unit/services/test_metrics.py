"""What the core counts for /metrics (app/metrics.py): tasks created, ended and retried
by kind, each counted once its transaction commits; a task's waits and run; its model's
time, tokens and cost; and the gauges read when /metrics is scraped."""

import fakeredis
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from app.extensions import db as _db
from app.services import pricing, tasks
from tests.support.data import ask
from tests.support.work import answer, fail

TOKEN = "metrics-token-for-tests"


def counted(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def scrape(app, client):
    """GET /metrics, parsed: {(sample name, sorted labels): value}."""
    app.config["METRICS_TOKEN"] = TOKEN

    def read() -> dict:
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200, response.get_data(as_text=True)
        return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
                for family in text_string_to_metric_families(response.get_data(as_text=True))
                for sample in family.samples}
    return read


def test_a_task_is_counted_created_once_its_transaction_commits(db, org_key):
    before = counted("parley_tasks_created_total", kind="compact")

    tasks.add_task(org_key["org_id"], "compact")
    db.session.rollback()
    after_rollback = counted("parley_tasks_created_total", kind="compact")
    tasks.add_task(org_key["org_id"], "compact")
    db.session.commit()

    assert after_rollback == before
    assert counted("parley_tasks_created_total", kind="compact") == before + 1


def test_a_question_answered_counts_its_wait_run_tokens_and_cost(client, auth, conversation_id,
                                                                 sent):
    model = "claude-sonnet-4-5-20250929"
    before = {name: counted(name, kind="reply") for name in (
        "parley_tasks_created_total", "parley_tasks_succeeded_total",
        "parley_task_queue_wait_seconds_count", "parley_task_run_seconds_count")}
    tokens_before = (counted("parley_model_input_tokens_total", model=model),
                     counted("parley_model_output_tokens_total", model=model),
                     counted("parley_model_cost_eur_total", model=model))
    model_calls = counted("parley_model_seconds_count", kind="reply", model=model)

    answer(ask(client, auth, conversation_id), model=model, input_tokens=1000,
           output_tokens=200)

    for name, value in before.items():
        assert counted(name, kind="reply") == value + 1, name
    input_price, output_price = pricing.price_of(model)
    assert input_price > 0  # a priced model, so the cost is a real sum
    assert (counted("parley_model_input_tokens_total", model=model),
            counted("parley_model_output_tokens_total", model=model)) == (
        tokens_before[0] + 1000, tokens_before[1] + 200)
    assert counted("parley_model_cost_eur_total", model=model) == pytest.approx(
        tokens_before[2] + (1000 * input_price + 200 * output_price) / 1e6)
    assert counted("parley_model_seconds_count", kind="reply", model=model) == model_calls + 1


def test_failed_and_canceled_tasks_are_counted_apart(client, auth, org_key, conversation_id,
                                                     sent):
    failed, canceled = (counted("parley_tasks_failed_total", kind="reply"),
                        counted("parley_tasks_canceled_total", kind="reply"))

    fail(ask(client, auth, conversation_id), "model error 400: no")
    tasks.cancel(org_key["org_id"], ask(client, auth, conversation_id))

    assert counted("parley_tasks_failed_total", kind="reply") == failed + 1
    assert counted("parley_tasks_canceled_total", kind="reply") == canceled + 1


def test_an_attempt_given_back_is_counted_retried(client, auth, conversation_id, sent):
    retried = counted("parley_tasks_retried_total", kind="reply")
    held = tasks.claim(ask(client, auth, conversation_id), "test-host:1:worker")

    assert tasks.release(held, "model error 529: overloaded")

    assert counted("parley_tasks_retried_total", kind="reply") == retried + 1


def test_the_scrape_reads_unfinished_tasks_by_kind_and_state(client, auth, conversation_id,
                                                             sent, scrape):
    first = ask(client, auth, conversation_id)
    ask(client, auth, conversation_id)  # waits for the first: not sent to the broker
    tasks.claim(first, "test-host:1:worker")

    gauges = scrape()

    def now(state: str) -> float:
        return gauges[("parley_tasks", (("kind", "reply"), ("state", state)))]
    assert (now("running"), now("waiting"), now("queued")) == (1, 1, 0)
    # Every kind is reported, at 0 when it has no unfinished task.
    assert gauges[("parley_tasks", (("kind", "compact"), ("state", "queued")))] == 0


def test_the_scrape_answers_without_the_database(app, client, scrape, monkeypatch):
    """The tasks' gauges are left out while the database is unreachable; the counted
    metrics are still served."""
    def unreachable(*_args, **_kwargs):
        from sqlalchemy.exc import OperationalError
        raise OperationalError("SELECT", {}, Exception("connection refused"))
    monkeypatch.setattr(_db.session, "execute", unreachable)

    gauges = scrape()

    assert not any(name == "parley_tasks" for name, _ in gauges)
    assert any(name == "parley_http_requests_total" for name, _ in gauges)



def test_the_scrape_reads_each_broker_queues_depth_across_priorities(app, scrape,
                                                                     monkeypatch):
    fake = fakeredis.FakeRedis(decode_responses=True)
    monkeypatch.setattr(app.extensions["task_events"], "client", fake)
    fake.rpush("replies", "m1", "m2", "m3")
    fake.rpush("replies\x06\x163", "m4")  # kombu's list of the queue's priority 3
    fake.rpush("batch", "m5")

    gauges = scrape()

    assert gauges[("parley_broker_queue_depth", (("queue", "replies"),))] == 4
    assert gauges[("parley_broker_queue_depth", (("queue", "batch"),))] == 1
    assert gauges[("parley_broker_queue_depth", (("queue", "maintenance"),))] == 0

"""GET /metrics on the real path: a gunicorn web process and a Celery worker counting
into one PROMETHEUS_MULTIPROC_DIR, PostgreSQL, Redis and the real SDK against the fake
Anthropic server. After a known scenario, the numbers (not only the names) are checked:

- question 1: the model answers 429, then cuts its stream, then answers (3 attempts);
- question 2: the model refuses it (400): FAILURE at once;
- question 3: answered after 0.6 s while a client reads its event stream, /metrics scraped
  meanwhile (an open stream, a task running) and after.
"""

import json
import time

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from app.extensions import db
from app.models import Message
from tests.support.environment import REDIS_DB
from tests.support.stacks import stack_on, web_of

pytestmark = pytest.mark.integration

TOKEN = "metrics-end-to-end"
MODEL = "claude-fake-1"  # WORKER_ENV's ANTHROPIC_MODEL; the fake answers under its name
PRICES = {"claude-fake": [3.0, 15.0]}  # EUR per million input and output tokens


@pytest.fixture(scope="module")
def stack(postgres_url, redis_server, fake_model, tmp_path_factory):
    redis_url = f"{redis_server}/{REDIS_DB['anthropic']}"
    redis.Redis.from_url(redis_url).flushdb()
    counted_in = tmp_path_factory.mktemp("prometheus-multiproc")
    env = {"PARLEY_LLM": "anthropic", "ANTHROPIC_API_KEY": "test-key",
           "ANTHROPIC_BASE_URL": fake_model.url, "PROMETHEUS_MULTIPROC_DIR": str(counted_in),
           "PARLEY_MODEL_PRICES_EUR": json.dumps(PRICES), "PARLEY_METRICS_TOKEN": TOKEN}
    with stack_on(postgres_url, redis_url, tmp_path_factory.mktemp("worker-metrics"),
                  env) as running:
        running.env = env
        yield running


@pytest.fixture(scope="module")
def web(stack, tmp_path_factory):
    with web_of(stack, tmp_path_factory.mktemp("gunicorn-metrics") / "gunicorn.log",
                stack.env) as url:
        yield url


def scrape(url: str) -> dict:
    """{(sample name, sorted labels): value} of one scrape."""
    answer = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"},
                       timeout=10)
    assert answer.status_code == 200, answer.text
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(answer.text)
            for sample in family.samples}


def value(scraped: dict, name: str, **labels) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


def wait_for(http: httpx.Client, task_id: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = http.get(f"/api/task_status/{task_id}").json()
        if status["state"] in ("SUCCESS", "FAILURE"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} unfinished: {status}")


@pytest.fixture(scope="module")
def scenario(stack, web, fake_model):
    """(the scrape before, the scrape while question 3 streams, the scrape after, the
    conversation's id). The tasks' gauges count every task of the database, which
    earlier tests share: the scrape before is their baseline."""
    # Module-scoped, so set up before the per-test reset: the last module's settings go.
    fake_model.reset()
    before = scrape(web)
    with httpx.Client(base_url=web, headers=stack.new_org(), timeout=10) as http:
        data_set = http.post("/api/data_sets", json={"name": "Plans"}).json()
        http.post(f"/api/data_sets/{data_set['id']}/documents",
                  json={"title": "SLA", "content": "The plan includes an SLA of 99.9%."})
        conversation = http.post("/api/conversations",
                                 json={"data_set_id": data_set["id"]}).json()["id"]

        def ask() -> str:
            asked = http.post(f"/api/conversations/{conversation}",
                              json={"question_message": "Does the plan include an SLA?"})
            assert asked.status_code == 202, asked.text
            return asked.json()["task_id"]

        fake_model.configure(faults=["429", "cut"])
        first = wait_for(http, ask())
        assert (first["state"], first["attempts"]) == ("SUCCESS", 3), first
        fake_model.configure(faults=["400"])
        assert wait_for(http, ask())["state"] == "FAILURE"

        fake_model.configure(latency=0.6)  # within PARLEY_LLM_TIMEOUT
        third = ask()
        with http.stream("GET", f"/api/tasks/{third}/events") as stream:
            lines = stream.iter_lines()
            assert next(lines).startswith("retry:")  # the stream is open
            during = scrape(web)
            for line in lines:
                if line.startswith("event: end"):
                    break
        assert wait_for(http, third)["state"] == "SUCCESS"
    # The worker records an attempt's run time just after its commit.
    deadline = time.monotonic() + 10
    while True:
        after = scrape(web)
        if value(after, "parley_task_run_seconds_count", kind="reply") >= 5 or \
                time.monotonic() > deadline:
            return before, during, after, conversation


def test_tasks_are_counted_by_how_they_ended(scenario):
    _, _, after, _ = scenario

    assert value(after, "parley_tasks_created_total", kind="reply") == 3
    assert value(after, "parley_tasks_succeeded_total", kind="reply") == 2
    assert value(after, "parley_tasks_failed_total", kind="reply") == 1
    assert value(after, "parley_tasks_canceled_total", kind="reply") == 0
    assert value(after, "parley_tasks_retried_total", kind="reply") == 2  # the 429, the cut


def test_waits_runs_and_model_times_are_observed_once_each(scenario):
    _, _, after, _ = scenario

    assert value(after, "parley_task_queue_wait_seconds_count", kind="reply") == 3
    assert value(after, "parley_task_run_seconds_count", kind="reply") == 5  # attempts
    assert value(after, "parley_model_seconds_count", kind="reply", model=MODEL) == 2
    assert value(after, "parley_model_first_token_seconds_count", kind="reply",
                 model=MODEL) == 2
    # Question 3's model took its 0.6 s latency (question 1's none): the times say so.
    assert value(after, "parley_model_seconds_sum", kind="reply", model=MODEL) >= 0.6
    assert value(after, "parley_model_first_token_seconds_bucket", kind="reply",
                 model=MODEL, le="0.5") == 1


def test_model_errors_are_counted_by_cause(scenario):
    _, _, after, _ = scenario

    for cause in ("rate_limited", "cut_stream", "client_error"):
        assert value(after, "parley_model_errors_total", model=MODEL, error=cause) == 1, cause
    assert value(after, "parley_model_errors_total", model=MODEL, error="timeout") == 0


def test_tokens_and_cost_are_the_stored_replies(stack, scenario):
    _, _, after, conversation = scenario
    input_tokens, output_tokens = db.session.execute(
        select(func.sum(Message.input_tokens), func.sum(Message.output_tokens))
        .where(Message.conversation_id == conversation, Message.role == "agent")).one()
    assert input_tokens > 0 and output_tokens > 0

    assert value(after, "parley_model_input_tokens_total", model=MODEL) == input_tokens
    assert value(after, "parley_model_output_tokens_total", model=MODEL) == output_tokens
    input_price, output_price = PRICES["claude-fake"]
    assert value(after, "parley_model_cost_eur_total", model=MODEL) == pytest.approx(
        (input_tokens * input_price + output_tokens * output_price) / 1e6)


def test_http_requests_are_counted_by_route_and_status(scenario):
    _, _, after, _ = scenario

    asked = {labels: count for (name, labels), count in after.items()
             if name == "parley_http_requests_total"
             and dict(labels)["route"].endswith(":conversation_id>")
             and dict(labels)["method"] == "POST"}
    assert [(dict(labels)["face"], dict(labels)["status"], count)
            for labels, count in asked.items()] == [("polling", "202", 3)]


def test_the_present_is_read_at_scrape_time(scenario):
    before, during, after, _ = scenario

    def unfinished(scraped: dict, *states: str) -> float:
        return sum(value(scraped, "parley_tasks", kind="reply", state=state)
                   for state in states)

    assert value(during, "parley_sse_streams_open") == 1
    # Question 3, running or about to.
    assert unfinished(during, "running", "queued") == unfinished(before, "running",
                                                                 "queued") + 1
    assert value(after, "parley_sse_streams_open") == 0
    for state in ("queued", "waiting", "running"):
        assert unfinished(after, state) == unfinished(before, state), state
    assert ("parley_broker_queue_depth", (("queue", "replies"),)) in after
    assert value(after, "parley_broker_queue_depth", queue="replies") == 0

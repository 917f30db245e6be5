"""Prometheus metrics (the official prometheus_client): every one named `parley_…`.

Counters and histograms are counted where the work happens: the HTTP ones in the web
processes (init_http_metrics), the task and model ones in the workers (the lifecycle,
app/services/lifecycle.py) and wherever tasks are added or ended (app/services). Gauges
of what is there now (tasks queued, waiting, running; the broker's queues) are read
from the database and Redis when /metrics is scraped (app/services/gauges.py), so
they cost nothing in between and are never stale.

Many processes, one answer: with PROMETHEUS_MULTIPROC_DIR set (a directory shared by
the web and worker processes of a node; `parley up` sets one under PARLEY_HOME),
prometheus_client keeps each process's values in a file there, and /metrics, served by
any web process, adds them all up (its multiprocess mode). Without it, /metrics shows
the values of the web process that answers.

A task's counts that depend on a transaction (created, ended, retried) are counted
only once it commits (count_on_commit): a rolled-back attempt counts nothing.
"""

import os
import time

from flask import g, request
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import event
from sqlalchemy.orm import Session

MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
if MULTIPROCESS_DIR:
    os.makedirs(MULTIPROCESS_DIR, exist_ok=True)

# Latencies from a status read (a millisecond) to a model's whole reply (a minute).
SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

HTTP_REQUESTS = Counter(
    "parley_http_requests", "HTTP requests answered, by face, route, method and status.",
    ["face", "route", "method", "status"])
HTTP_LATENCY = Histogram(
    "parley_http_request_duration_seconds",
    "Time to answer an HTTP request (to its first byte for an event stream), by face, "
    "route and method.", ["face", "route", "method"], buckets=SECONDS)
SSE_STREAMS_OPEN = Gauge(
    "parley_sse_streams_open", "Server-Sent Event streams open now.",
    multiprocess_mode="livesum")

TASKS_CREATED = Counter("parley_tasks_created", "Tasks added, by kind.", ["kind"])
TASKS_SUCCEEDED = Counter("parley_tasks_succeeded", "Tasks ended SUCCESS, by kind.",
                          ["kind"])
TASKS_FAILED = Counter("parley_tasks_failed", "Tasks ended FAILURE (not canceled), by kind.",
                       ["kind"])
TASKS_CANCELED = Counter("parley_tasks_canceled", "Tasks ended canceled, by kind.", ["kind"])
TASKS_RETRIED = Counter(
    "parley_tasks_retried",
    "Attempts given back to run again: a transient error, a worker that stopped, an "
    "operator's retry; by kind.", ["kind"])
QUEUE_WAIT = Histogram(
    "parley_task_queue_wait_seconds",
    "From a task's creation to its first attempt's start, by kind.", ["kind"],
    buckets=SECONDS)
RUN_TIME = Histogram(
    "parley_task_run_seconds", "From an attempt's start to its end, by kind.", ["kind"],
    buckets=SECONDS)
MODEL_FIRST_TOKEN = Histogram(
    "parley_model_first_token_seconds",
    "From asking the model to its first text, by kind and model.", ["kind", "model"],
    buckets=SECONDS)
MODEL_TIME = Histogram(
    "parley_model_seconds", "From asking the model to its whole answer, by kind and model.",
    ["kind", "model"], buckets=SECONDS)
MODEL_INPUT_TOKENS = Counter("parley_model_input_tokens", "Tokens sent to models, by model.",
                             ["model"])
MODEL_OUTPUT_TOKENS = Counter("parley_model_output_tokens",
                              "Tokens models answered with, by model.", ["model"])
MODEL_COST = Counter("parley_model_cost_eur",
                     "What model calls cost, in EUR (PARLEY_MODEL_PRICES_EUR), by model.",
                     ["model"])
MODEL_ERRORS = Counter(
    "parley_model_errors",
    "Failed model calls, by model and error: rate_limited (429), server_error (5xx, "
    "overloaded), timeout, cut_stream (the answer stopped midway), connection, "
    "client_error (another 4xx).", ["model", "error"])

_PENDING_KEY = "parley_metrics"


def count_on_commit(session, counter: Counter, kind: str, amount: float = 1) -> None:
    """Add `amount` to counter{kind} once `session`'s transaction commits (nothing if it
    rolls back)."""
    if amount:
        session.info.setdefault(_PENDING_KEY, []).append((counter, kind, amount))


@event.listens_for(Session, "after_commit")
def _count_committed(session) -> None:
    for counter, kind, amount in session.info.pop(_PENDING_KEY, ()):
        counter.labels(kind).inc(amount)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session) -> None:
    session.info.pop(_PENDING_KEY, None)


class Stopwatch:
    """Seconds since it was made, and when its first lap came (a model's first text)."""

    def __init__(self):
        self.started = time.monotonic()
        self.first: float | None = None

    def lap(self) -> None:
        if self.first is None:
            self.first = time.monotonic() - self.started

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def init_http_metrics(app) -> None:
    """Count and time every request the app answers. Registered before every other
    hook, so its clock starts first and an answer made by another hook (a 401, a 429)
    is counted too."""
    app.before_request(_start_clock)
    app.after_request(_count_answer)


def _start_clock() -> None:
    g.metrics_started = time.perf_counter()


def _count_answer(response):
    started = g.get("metrics_started")
    # The route's pattern, not its path: one series per route, whatever the ids.
    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    face = request.blueprint or "none"
    HTTP_REQUESTS.labels(face, route, request.method, str(response.status_code)).inc()
    if started is not None:
        HTTP_LATENCY.labels(face, route, request.method).observe(
            time.perf_counter() - started)
    return response

"""The baselines' Celery: the same broker, a threads pool, and a Redis counter or key the
benchmark watches to see the tasks finish. The tasks:

- bare.sleep and bare.noop only sleep or do nothing: the floor of Celery itself;
- bare.reply is the least a real reply needs: the fake model's answer streamed through
  the real `anthropic` SDK, one row inserted into PostgreSQL. It needs BARE_MODEL_URL
  (the fake model) and BARE_DATABASE_URL (a psycopg URL of a database holding the
  benchmark's `bare_replies` table).
"""

import os
import queue
import time

import anthropic
import psycopg
import redis
from celery import Celery

app = Celery("bare", broker=os.environ["REDIS_URL"])
# kombu's Redis channel holds at most 10 connections by default and raises, not waits,
# past them: 500 thread slots acknowledging at once on a busy machine ran out, their
# acknowledgements were lost and the round never finished. One per slot and then some.
app.conf.update(task_ignore_result=True, worker_prefetch_multiplier=1, task_acks_late=True,
                task_default_queue="bare", broker_connection_retry_on_startup=True,
                broker_transport_options={"max_connections": 1000})
marks = redis.Redis.from_url(os.environ["REDIS_URL"])

# As many connections as Parley's own pool may hold per process (PARLEY_DB_POOL_SIZE 8 +
# PARLEY_DB_MAX_OVERFLOW 12), shared by the thread slots: one per slot would exceed
# PostgreSQL's max_connections with 500 slots.
DATABASE_CONNECTIONS = 20


def _model() -> anthropic.Anthropic | None:
    # One client per process, as Parley's worker has: it pools the HTTP connections.
    # No SDK retries, as in Parley: the fake model answers every call.
    url = os.environ.get("BARE_MODEL_URL")
    if not url:  # the sleep and no-op baselines run without a model
        return None
    return anthropic.Anthropic(base_url=url, api_key="bench", max_retries=0)


def _connections() -> queue.Queue:
    """A pool in its simplest form: connections opened once, taken and given back."""
    free = queue.Queue()
    url = os.environ.get("BARE_DATABASE_URL")
    for _ in range(DATABASE_CONNECTIONS if url else 0):
        free.put(psycopg.connect(url, autocommit=True))
    return free


# Made at import, in the worker's main process, before its threads take tasks.
model = _model()
connections = _connections()


@app.task(name="bare.sleep")
def sleep(seconds: float, counter: str) -> None:
    time.sleep(seconds)
    marks.incr(counter)


@app.task(name="bare.noop")
def noop(key: str) -> None:
    marks.set(key, 1)


@app.task(name="bare.reply")
def reply(question: str, counter: str) -> None:
    """Stream one reply, store it, then count it (a key of its own counts one task)."""
    text = _stream_reply(question)
    conn = connections.get()
    try:
        conn.execute("INSERT INTO bare_replies (text) VALUES (%s)", (text,))
    finally:
        connections.put(conn)
    marks.incr(counter)


def _stream_reply(question: str) -> str:
    # The SDK's streamed events (its plain stream, not the stream helper that rebuilds
    # a snapshot of the message on every event), the text deltas joined.
    events = model.messages.create(model="claude-fake-1", max_tokens=1024,
                                   messages=[{"role": "user", "content": question}],
                                   stream=True)
    parts = []
    with events:
        for event in events:
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                parts.append(event.delta.text)
    return "".join(parts)

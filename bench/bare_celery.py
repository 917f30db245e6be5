"""The baselines' Celery: the same broker, a threads pool, tasks that only sleep or do
nothing, and a Redis counter or key the benchmark watches to see them finish."""

import os
import time

import redis
from celery import Celery

app = Celery("bare", broker=os.environ["REDIS_URL"])
app.conf.update(task_ignore_result=True, worker_prefetch_multiplier=1, task_acks_late=True,
                task_default_queue="bare", broker_connection_retry_on_startup=True)
marks = redis.Redis.from_url(os.environ["REDIS_URL"])


@app.task(name="bare.sleep")
def sleep(seconds: float, counter: str) -> None:
    time.sleep(seconds)
    marks.incr(counter)


@app.task(name="bare.noop")
def noop(key: str) -> None:
    marks.set(key, 1)

"""What /metrics reports of the present, read when it is scraped: tasks queued, waiting
their turn and running, by kind (one grouped read of the unfinished tasks, through
the state index), and each broker queue's depth (one pipelined round trip to Redis).
Read at scrape time, they are never stale and cost nothing between scrapes.

registry() gathers these with the counted metrics (app/metrics.py): from every
process's files in multiprocess mode, else from this process's own registry.
"""

import logging

import redis
from flask import current_app
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import case, func, select
from sqlalchemy.exc import SQLAlchemyError

from app import metrics
from app.extensions import db
from app.models import Task
from app.services import events, task_kinds
from app.services.tasks import PENDING, STARTED

log = logging.getLogger(__name__)

QUEUED, WAITING, RUNNING = "queued", "waiting", "running"
# kombu's Redis transport keeps a queue's messages of each priority step in a list of
# its own: the queue's name, then the name, this separator and the step.
PRIORITY_SEPARATOR, PRIORITY_STEPS = "\x06\x16", (0, 3, 6, 9)

_tasks = Task.__table__.c
# Queued: sent to the broker, waiting for a worker. Waiting: not sent yet, its turn not
# come (an earlier question of its conversation, its organization's share, a retry's
# delay, a broker outage).
_position = case((_tasks.state == STARTED, RUNNING),
                 (_tasks.published_at.is_(None), WAITING), else_=QUEUED)
_UNFINISHED_BY_KIND = (select(_tasks.kind, _position, func.count())
                       .where(_tasks.state.in_((PENDING, STARTED)))
                       .group_by(_tasks.kind, _position))


class _Present:
    """The collector of the gauges read at scrape time."""

    def collect(self):
        yield from _unfinished_tasks()
        yield from _queue_depths()


class _ThisProcess:
    """The counted metrics of this process alone (no multiprocess directory)."""

    def collect(self):
        yield from REGISTRY.collect()


def registry() -> CollectorRegistry:
    """Every metric, for one scrape."""
    scraped = CollectorRegistry(auto_describe=False)
    if metrics.MULTIPROCESS_DIR:
        MultiProcessCollector(scraped, metrics.MULTIPROCESS_DIR)
    else:
        scraped.register(_ThisProcess())
    scraped.register(_Present())
    return scraped


def _unfinished_tasks():
    try:
        rows = db.session.execute(_UNFINISHED_BY_KIND).all()
    except SQLAlchemyError as exc:  # the rest of the scrape still answers
        db.session.rollback()
        log.warning("metrics: tasks unreadable: %s", exc)
        return
    counts = {(kind, position): 0 for kind in task_kinds.KINDS
              for position in (QUEUED, WAITING, RUNNING)}
    counts.update({(kind, position): count for kind, position, count in rows})
    family = GaugeMetricFamily("parley_tasks",
                               "Unfinished tasks now, by kind and state: queued (sent to "
                               "the broker), waiting (their turn not come), running.",
                               labels=["kind", "state"])
    for (kind, position), count in sorted(counts.items()):
        family.add_metric([kind, position], count)
    yield family


def _queue_depths():
    client = events.task_events().client
    if client is None:
        return
    queues = current_app.extensions["celery"].conf.task_queues
    names = [queue.name for queue in queues]
    try:
        with client.pipeline(transaction=False) as pipe:
            for name in names:
                for step in PRIORITY_STEPS:
                    pipe.llen(name if step == 0 else f"{name}{PRIORITY_SEPARATOR}{step}")
            lengths = pipe.execute()
    except redis.RedisError as exc:
        log.warning("metrics: broker queues unreadable: %s", exc)
        return
    family = GaugeMetricFamily("parley_broker_queue_depth",
                               "Messages waiting in each broker queue.", labels=["queue"])
    for index, name in enumerate(names):
        steps = len(PRIORITY_STEPS)
        family.add_metric([name], sum(lengths[index * steps:(index + 1) * steps]))
    yield family

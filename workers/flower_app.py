"""Flower's entry point: `celery -A workers.flower_app flower`.

The project's Celery app (workers.celery_app), on kombu's own Redis transport rather
than Parley's shared-client one (app/broker.py). Flower's broker view and
/api/queues/length read the queues' lengths with a Redis client of their own, built
from the broker's URL, and know only the standard schemes (`redis://`, `rediss://`);
under the shared-client transport the URL's scheme is that transport's class path,
and those views answered "'redis' broker is not supported". The shared client saves
CPU in processes that publish and consume a lot; Flower does neither.
"""

from workers.celery_app import celery_app

if celery_app.conf.broker_url.split("://", 1)[0] in ("redis", "rediss"):
    celery_app.conf.broker_transport = None  # the URL's own: kombu's Redis transport

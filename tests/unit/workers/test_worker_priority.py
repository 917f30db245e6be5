"""How much lower than the API's a worker's CPU priority is: every worker by
PARLEY_WORKER_NICE, a worker of the batch queue alone by PARLEY_BATCH_NICE more."""

from app.services.batches import QUEUE as BATCH_QUEUE
from workers.celery_app import nice_increment

CONFIG = {"WORKER_NICE": 10, "BATCH_NICE": 7}


def test_an_interactive_worker_yields_to_the_api():
    assert nice_increment({"celery", "replies"}, CONFIG) == 10


def test_a_worker_that_also_takes_batches_is_an_interactive_worker():
    assert nice_increment({"celery", BATCH_QUEUE}, CONFIG) == 10


def test_a_batch_only_worker_yields_to_the_interactive_ones_too():
    assert nice_increment({BATCH_QUEUE}, CONFIG) == 17


def test_zero_keeps_the_priority():
    assert nice_increment({"celery"}, {"WORKER_NICE": 0, "BATCH_NICE": 0}) == 0

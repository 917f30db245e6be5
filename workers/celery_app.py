"""The worker's entry point: `celery -A workers.celery_app worker` (and beat; Flower's is
workers.flower_app)."""

import logging

import os

from celery.signals import celeryd_after_setup, worker_init, worker_shutdown

from app import create_app
from app.services import language_models
from app.services.batches import QUEUE as BATCH_QUEUE
from app.services.presence import Heartbeat
from workers import tasks
from workers.llm import get_provider

log = logging.getLogger(__name__)

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
_heartbeat: list[Heartbeat] = []


@worker_init.connect
def prepare_worker(**_) -> None:
    """Before the worker takes its first task: check that every kind has an entry
    point, beat its heartbeat (its claims are judged by it), build the model provider (importing its SDK takes about a second,
    better here than inside the first tasks while every other slot waits), and warn
    once of deprecated models."""
    tasks.check_every_kind_has_an_entry_point()
    config = flask_app.config
    client = flask_app.extensions["task_events"].client
    if client is not None:
        _heartbeat.append(Heartbeat(client, config["WORKER_HEARTBEAT_INTERVAL"]).start())
    get_provider(config)
    warn_of_deprecated_models(flask_app)


@celeryd_after_setup.connect
def yield_to_interactive_work(instance, **_) -> None:
    """A worker of the batch queue alone runs at a lower CPU priority
    (PARLEY_BATCH_NICE): on a node it shares with the API and the interactive workers,
    a batch takes the CPU they leave, so a question asked meanwhile is answered about as
    fast as on an idle node."""
    if set(instance.app.amqp.queues.consume_from) == {BATCH_QUEUE}:
        os.nice(flask_app.config["BATCH_NICE"])


@worker_shutdown.connect
def stop_heartbeat(**_) -> None:
    """The worker has finished its tasks: its heartbeat stops and is removed at once."""
    for heartbeat in _heartbeat:
        heartbeat.stop()


def warn_of_deprecated_models(app) -> None:
    """One warning per deprecated Claude model this installation may call (the SDK
    itself would warn on every call)."""
    # Here, not at the top: the SDK takes a second to import, and beat and Flower,
    # which import this module too, never call the model.
    from workers.llm.anthropic import deprecated_models

    with app.app_context():
        try:
            names = language_models.claude_models_in_use(app.config)
        except Exception as exc:  # the database may not be up yet; this is only advice
            log.warning("could not list the models in use: %s", exc)
            names = {name for provider, name in language_models.configured_models(app.config)
                     if provider == "anthropic"}
    for name, end_of_life in deprecated_models(names).items():
        log.warning("model %s is deprecated and reaches its end of life on %s: configure "
                    "a current one (ANTHROPIC_MODEL, PARLEY_CLAUDE_MODELS, parley models)",
                    name, end_of_life)

"""The worker's entry point: `celery -A workers.celery_app worker` (and beat; Flower's is
workers.flower_app)."""

import logging
import os

from celery.signals import (celeryd_after_setup, celeryd_init, setup_logging, task_postrun,
                            task_prerun, worker_init, worker_shutdown)

from app import create_app, logs
from app.services import language_models
from app.services.batches import QUEUE as BATCH_QUEUE
from app.services.task_kinds import PERIODIC_TASKS
from app.services.presence import Heartbeat
from app.services.tasks import TASK_NAME_PREFIX
from workers import tasks
from workers.llm import get_provider

log = logging.getLogger(__name__)

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
_heartbeat: list[Heartbeat] = []


@setup_logging.connect
def log_as_parley(loglevel=None, logfile=None, **_) -> None:
    """Celery's worker and beat log as the web processes do (app/logs.py), in the
    format of PARLEY_LOG_FORMAT, at the level and to the file of their command line.
    (A receiver of this signal stops Celery from installing handlers of its own on the
    root logger.)"""
    logs.configure(flask_app.config["LOG_FORMAT"], loglevel or logging.INFO, logfile)


class QuietPeriodicTasks(logging.Filter):
    """Celery's INFO lines of the periodic upkeep (a sweep every 2 s: "received",
    "succeeded") are dropped: they would bury every other line, and `parley up`'s
    banner. Their warnings and errors, and the sweep's own lines, stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, dict) else {}
        return record.levelno > logging.INFO or args.get("name") not in PERIODIC_TASKS


# The loggers of a task's "received" (the worker's strategy) and "succeeded" (its trace).
for _name in ("celery.worker.strategy", "celery.app.trace"):
    logging.getLogger(_name).addFilter(QuietPeriodicTasks())


@celeryd_init.connect
def no_banner_in_json(instance, **_) -> None:
    """A worker logging JSON prints no start banner (its --quiet): every line it writes
    is then one JSON object."""
    if logs.chosen_format(flask_app.config["LOG_FORMAT"]) == logs.JSON:
        instance.quiet = True


@task_prerun.connect
def bind_task_to_logs(task_id, task, **_) -> None:
    """Every line written while a task runs carries its id, its kind and the id of the
    request that caused it, from its message's headers (the lifecycle adds the
    organization and the attempt once it has claimed the task)."""
    logs.clear()
    logs.bind(task_id=task_id, task_kind=task.name.removeprefix(TASK_NAME_PREFIX),
              request_id=tasks.request_id_of(task.request))


@task_postrun.connect
def unbind_task_from_logs(**_) -> None:
    logs.clear()


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
def yield_to_the_api(instance, **_) -> None:
    """A worker runs at a lower CPU priority than the API (PARLEY_WORKER_NICE); a
    worker of the batch queue alone lower still (PARLEY_BATCH_NICE more)."""
    increment = nice_increment(set(instance.app.amqp.queues.consume_from), flask_app.config)
    if increment:
        os.nice(increment)


def nice_increment(queues: set[str], config) -> int:
    """How much lower than the API a worker consuming `queues` runs. On a node they
    share, the CPU goes to the API first: a question is stored and its task_id answered
    while replies run (the workers get what the API leaves, and replies are waited for
    anyway), about a quarter sooner under a full load (bench/README.md). A batch takes
    what the interactive workers leave in turn, so a question asked meanwhile is
    answered about as fast as on an idle node."""
    return config["WORKER_NICE"] + (config["BATCH_NICE"] if queues == {BATCH_QUEUE} else 0)


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

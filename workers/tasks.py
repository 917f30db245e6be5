"""Celery task entry points: thin, named, ids in, the work done by services and agents.

Arguments are ids only, so Flower shows what runs without showing what users wrote.
"""

import logging

from celery import shared_task
from flask import current_app
from sqlalchemy.exc import OperationalError

from app.services import dialogues, events, replies, summaries, tasks
from workers.agents import data_set_qa, summariser
from workers.llm import PermanentLLMError, TransientLLMError, get_provider

log = logging.getLogger(__name__)


@shared_task(bind=True, name=tasks.REPLY_TASK, max_retries=None)
def reply(self, task_id: str) -> None:
    _run_claimed(self, task_id, replies.prepare, replies.complete,
                 lambda job, provider, config, on_text: data_set_qa.answer(
                     job, provider, config["LLM_MAX_TOKENS"], on_text))


@shared_task(bind=True, name=dialogues.COMPACT_TASK, max_retries=None)
def compact(self, task_id: str) -> None:
    _run_claimed(self, task_id, summaries.prepare, summaries.complete,
                 lambda job, provider, config, on_text: summariser.summarize(
                     job, provider, config["LLM_MAX_TOKENS"], on_text))


def _run_claimed(task, task_id: str, prepare, complete, produce) -> None:
    """Claim the task's row (prepare), ask the model (produce), streaming each chunk to
    the task's events, store the result and finish the task (complete); model errors
    retried with backoff or failed."""
    config = current_app.config
    try:
        job = prepare(task_id)
    except OperationalError as exc:
        # The database is unreachable (a claim made before it went is given back):
        # try the message again.
        raise task.retry(exc=exc, countdown=retry_delay(config, task.request.retries))
    if job is None:
        log.info("task %s has nothing to do (finished, unknown, waiting or held)", task_id)
        return
    try:
        provider = get_provider(config, job.model)
        on_text = events.task_events().content_writer(task_id)
        complete(job, produce(job, provider, config, on_text))
    except TransientLLMError as exc:
        if job.attempt > config["REPLY_MAX_RETRIES"]:
            tasks.fail(task_id, f"gave up after {job.attempt} attempts: {exc}", job.attempt)
        elif tasks.release_for_retry(task_id, job.attempt, str(exc)):
            raise task.retry(exc=exc, countdown=retry_delay(config, job.attempt - 1,
                                                            exc.retry_after))
    except PermanentLLMError as exc:
        tasks.fail(task_id, str(exc), job.attempt)
    except Exception as exc:
        # Neither the model's fault nor a passing one: end the task readably rather than
        # leave it STARTED for the sweep to retry. (If the database is what failed, this
        # fails too, and the sweep re-queues the task.)
        log.exception("task %s failed", task_id)
        tasks.fail(task_id, f"internal error: {type(exc).__name__}", job.attempt)


@shared_task(name="parley.sweep")
def sweep() -> dict:
    return tasks.sweep()


def retry_delay(config, retries: int, retry_after: float | None = None) -> float:
    """Exponential backoff, and not sooner than the model's retry-after; both capped
    at PARLEY_RETRY_BACKOFF_MAX."""
    delay = min(config["RETRY_BACKOFF_SECONDS"] * 2 ** retries,
                config["RETRY_BACKOFF_MAX_SECONDS"])
    return max(delay, min(retry_after or 0, config["RETRY_BACKOFF_MAX_SECONDS"]))

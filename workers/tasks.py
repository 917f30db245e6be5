"""Celery task entry points: thin, named, ids in, the work done by services and agents.

Arguments are ids only, so Flower shows what runs without showing what users wrote.
"""

import logging

from celery import shared_task
from flask import current_app

from app.services import replies, tasks
from workers.agents import data_set_qa
from workers.llm import PermanentLLMError, TransientLLMError, get_provider

log = logging.getLogger(__name__)


@shared_task(bind=True, name=tasks.REPLY_TASK, max_retries=None)
def reply(self, task_id: str) -> None:
    job = replies.prepare(task_id)
    if job is None:
        log.info("task %s has nothing to do (finished, unknown or held elsewhere)", task_id)
        return
    config = current_app.config
    try:
        result = data_set_qa.answer(job, get_provider(config), config["LLM_MAX_TOKENS"])
    except TransientLLMError as exc:
        if self.request.retries >= config["REPLY_MAX_RETRIES"]:
            tasks.fail(task_id, f"gave up after {self.request.retries + 1} attempts: {exc}")
            return
        tasks.release_for_retry(task_id, str(exc))
        raise self.retry(exc=exc, countdown=retry_delay(config, self.request.retries,
                                                        exc.retry_after))
    except PermanentLLMError as exc:
        tasks.fail(task_id, str(exc))
        return
    except Exception as exc:
        # A bug must not leave the task STARTED until the sweep: end it, readably.
        log.exception("reply task %s failed", task_id)
        tasks.fail(task_id, f"internal error: {type(exc).__name__}")
        return
    replies.complete(task_id, result)


@shared_task(name="parley.sweep")
def sweep() -> dict:
    return tasks.sweep()


def retry_delay(config, retries: int, retry_after: float | None) -> float:
    """Exponential backoff, capped; never sooner than the model asked (retry-after)."""
    delay = min(config["RETRY_BACKOFF_SECONDS"] * 2 ** retries,
                config["RETRY_BACKOFF_MAX_SECONDS"])
    return max(delay, min(retry_after or 0, config["RETRY_BACKOFF_MAX_SECONDS"]))

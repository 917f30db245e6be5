"""Celery task entry points: thin, named, ids in. Each kind of work (app/services/
task_kinds.py) is one entry point binding the kind to its agent; the lifecycle
(app/services/lifecycle.py) does the rest.

Arguments are ids only, so Flower shows what runs without showing what users wrote.
"""

from celery import shared_task
from celery.exceptions import Reject
from flask import current_app

from app import broker
from app.services import (batches, briefing_turns, dialog_sessions, idempotency, jobs,
                          lifecycle, presence, replies, summaries, task_kinds, tasks,
                          webhooks)
from app.services.lifecycle import TaskKind
from workers.agents import briefing, data_set_qa, summariser, webhook_sender
from workers.agents import jobs as job_agent
from workers.llm import get_provider

_entry_points: dict[str, object] = {}


def kind_task(kind: TaskKind, agent, max_tokens: str = "LLM_MAX_TOKENS",
              uses_model: bool = True):
    """The Celery task running `kind`'s tasks with `agent(input, provider, max_tokens,
    on_text, on_event) -> Result` (`max_tokens`: the setting bounding its model calls;
    an agent that calls no model, `uses_model=False`, is handed no provider); a
    delivery that must be tried again is retried by Celery (so a waiting retry holds
    no worker slot, and shows in Flower)."""

    @shared_task(bind=True, name=kind.task, max_retries=None)
    def run(self, task_id: str) -> None:
        config = current_app.config

        def produce(work, on_text, on_event):
            provider = get_provider(config, work.model) if uses_model else None
            return agent(work, provider, config[max_tokens], on_text, on_event)

        retry = lifecycle.run(kind, task_id, produce, presence.this_worker(),
                              self.request.retries)
        if retry is not None:
            try:
                # The retried message carries the same request id (Flower shows it).
                raise self.retry(exc=retry.reason, countdown=retry.seconds,
                                 **tasks.message_options(request_id_of(self.request)))
            except Reject:
                # The retry could not be sent (the broker is down): the sweep sends it.
                tasks.mark_unpublished(task_id)
                raise

    _entry_points[kind.name] = run
    return run


reply = kind_task(replies.KIND, data_set_qa.answer)
compact = kind_task(summaries.KIND, summariser.summarize)
briefing_turn = kind_task(briefing_turns.KIND, briefing.take_turn)
job = kind_task(jobs.KIND, job_agent.run_job, max_tokens="JOB_MAX_TOKENS")
batch_reply = kind_task(batches.KIND, data_set_qa.answer)
deliver_webhook = kind_task(webhooks.KIND, webhook_sender.deliver, uses_model=False)


def request_id_of(request) -> str | None:
    """The request id a task's message carries (tasks.message_options): a message's
    headers are the attributes of the task's request; `headers` holds them when the task
    was applied in-process."""
    return (getattr(request, tasks.REQUEST_ID_HEADER, None)
            or (request.headers or {}).get(tasks.REQUEST_ID_HEADER))


@shared_task(name=task_kinds.SWEEP_TASK)
def sweep() -> dict:
    return {**tasks.sweep(broker), "batches_completed": batches.settle()}


@shared_task(name=batches.PUBLISH_TASK)
def publish_batch(batch_id: int) -> dict:
    return {"published": batches.publish(batch_id)}


@shared_task(name=task_kinds.EXPIRE_SESSIONS_TASK)
def expire_dialog_sessions() -> dict:
    """The expiries: idle dialog sessions, and idempotency keys past their 24 hours."""
    return {"expired": dialog_sessions.expire_idle(),
            "idempotency_keys_deleted": idempotency.delete_expired()}


def check_every_kind_has_an_entry_point() -> None:
    """A kind with no entry point would be routed to a task no worker runs: refuse to
    start instead."""
    missing = set(task_kinds.KINDS) - set(_entry_points)
    if missing:
        raise RuntimeError(f"kinds without an entry point in workers/tasks.py: {missing}")

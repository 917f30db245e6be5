"""The kinds of background work, in one place. Each kind (app/services/lifecycle.py's
TaskKind) is declared by its own module with its gather and store steps; this
registry lists them, and the Celery settings (routes, the queues a worker consumes)
and the worker's task entry points (workers/tasks.py) read them from here.

Adding a kind: a module in app/services declaring it (name, queue, gather, store, as
replies.py does), one line in KINDS below, its agent (workers/agents) and its entry
point in workers/tasks.py. The lifecycle does the rest.
"""

from app.services import batches, briefing_turns, jobs, replies, summaries, tasks, webhooks
from app.services.lifecycle import TaskKind

MAINTENANCE_QUEUE = "maintenance"
# Periodic upkeep (celery beat), not work a task row records.
SWEEP_TASK = "parley.sweep"
EXPIRE_SESSIONS_TASK = "parley.expire_dialog_sessions"
PERIODIC_TASKS = (SWEEP_TASK, EXPIRE_SESSIONS_TASK)
# Upkeep a request asks for: a batch's tasks published by a worker.
UPKEEP_TASKS = (*PERIODIC_TASKS, batches.PUBLISH_TASK)

KINDS: dict[str, TaskKind] = {kind.name: kind for kind in (
    replies.KIND, summaries.KIND, briefing_turns.KIND, jobs.KIND, batches.KIND,
    webhooks.KIND)}
# The kinds that call the model: at most ORG_MAX_IN_FLIGHT of an organization's run at
# once (app/services/tasks.py); webhook deliveries are not counted.
CAPPED_KINDS = tuple(name for name in KINDS if name != webhooks.KIND.name)
# Every queue a worker consumes unless told otherwise (`--queues`).
QUEUES = tuple(dict.fromkeys([*(kind.queue for kind in KINDS.values()), MAINTENANCE_QUEUE]))


def outcome(task) -> tuple[str, dict] | None:
    """A finished task's terminal event from the database, as its kind rebuilds it."""
    kind = KINDS.get(task.kind)
    return kind.outcome(task) if kind is not None else tasks.outcome(task)


def routes() -> dict:
    """Celery's task_routes: each task to its kind's queue."""
    return {**{kind.task: {"queue": kind.queue} for kind in KINDS.values()},
            **{task: {"queue": MAINTENANCE_QUEUE} for task in UPKEEP_TASKS}}

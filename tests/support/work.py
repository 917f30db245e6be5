"""A task run in-process as a worker runs it (app/services/lifecycle.py), with a model
stood in for: for tests that drive the worker's side without a worker."""

from app.services import lifecycle, replies, tasks
from app.services.agent_io import ReplyInput, Result

WORKER = "test-host:1:worker"


def answer(task_id: str, text: str = "They index embeddings.", model: str = "claude-x",
           input_tokens: int = 12, output_tokens: int = 5,
           kind=replies.KIND) -> ReplyInput | None:
    """Run the reply task (claim, gather, store and finish), the model answering `text`;
    the input the agent was handed, or None when there was nothing to do (not its turn
    yet, or finished)."""
    handed = []

    def model_answers(work: ReplyInput, on_text, on_event) -> Result:
        handed.append(work)
        return Result(text, model, input_tokens, output_tokens)

    lifecycle.run(kind, task_id, model_answers, WORKER)
    return handed[0] if handed else None


def fail(task_id: str, error: str) -> None:
    """End a queued task FAILURE as a worker would: claim it, then fail it."""
    held = tasks.claim(task_id, WORKER)
    assert held is not None, f"task {task_id} could not be claimed"
    assert tasks.fail(held, error)


def run_kind(kind, task_id: str, agent, provider) -> None:
    """Run a task of `kind` in-process with its real agent and this provider (the
    offline model, or Claude through the fake server), as a worker would."""
    from app.services import lifecycle

    def produce(work, on_text, on_event):
        return agent(work, provider, 1024, on_text, on_event)

    assert lifecycle.run(kind, task_id, produce, WORKER) is None


def deliver(task_id: str):
    """Run a webhook delivery's task in-process (claim, gather, send, store) as a worker
    would; what the lifecycle returned (a RetryLater for a Celery retry, or None)."""
    from app.services import webhooks
    from workers.agents import webhook_sender

    return lifecycle.run(webhooks.KIND, task_id,
                         lambda work, on_text, on_event: webhook_sender.deliver(work), WORKER)

"""What the lifecycle (app/services/lifecycle.py) records of each delivery for
/metrics (app/metrics.py): how long the task waited and ran, and of its model call the
time to the first text and to the whole answer, the tokens, the cost and the errors."""

from datetime import timezone

from app import metrics
from app.models.base import utcnow
from app.services import pricing
from app.services.agent_io import Result
from app.services.tasks import Claim


def started(held: Claim) -> None:
    """The first attempt's wait: from the task's creation to its claim."""
    if held.attempt != 1 or held.created_at is None:
        return
    created = held.created_at
    if created.tzinfo is None:  # SQLite gives the stored UTC time back without a zone
        created = created.replace(tzinfo=timezone.utc)
    metrics.QUEUE_WAIT.labels(held.kind).observe(
        max((utcnow() - created).total_seconds(), 0.0))


def ran(held: Claim, watch: metrics.Stopwatch) -> None:
    metrics.RUN_TIME.labels(held.kind).observe(watch.elapsed())


def answered(held: Claim, result, watch: metrics.Stopwatch) -> None:
    """The model's answer: its times, tokens and cost (a kind that asks no model, a
    webhook's delivery, has none to count)."""
    if not isinstance(result, Result) or not result.model:
        return
    model = result.model
    if watch.first is not None:
        metrics.MODEL_FIRST_TOKEN.labels(held.kind, model).observe(watch.first)
    metrics.MODEL_TIME.labels(held.kind, model).observe(watch.elapsed())
    input_tokens, output_tokens = result.input_tokens or 0, result.output_tokens or 0
    metrics.MODEL_INPUT_TOKENS.labels(model).inc(input_tokens)
    metrics.MODEL_OUTPUT_TOKENS.labels(model).inc(output_tokens)
    metrics.MODEL_COST.labels(model).inc(pricing.cost_of(model, input_tokens, output_tokens))


def model_failed(exc: Exception) -> None:
    """A model's error, by its cause (the providers name it; other errors have none)."""
    cause = getattr(exc, "cause", None)
    if cause is not None:
        metrics.MODEL_ERRORS.labels(getattr(exc, "model", None) or "unknown", cause).inc()

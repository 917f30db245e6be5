"""The one lifecycle every kind of work runs on.

A kind (TaskKind) names its Celery task and queue and supplies two steps:
- gather(claim) -> Gathered: inside the claim, load what the work needs as plain
  data (app/services/agent_io.py) for its agent;
- store(claim, kept, result) -> dict: write the result (not committed); returns the
  data of the task's `end` event.
Everything else is here, written once: claiming the task as a lease, closing the
database session before the agent runs (no connection is held while the model
thinks), the task's events, storing and finishing in one transaction, retrying
transient model errors with backoff, failing readably, and surviving the database.

A database error is transient (a refused connection, too many clients, a restart, a
serialization failure): each database step is retried in the worker with backoff,
so a result the model already produced is stored once the database is back, never
thrown away and never asked for again. A step that cannot reach the database within
DB_RETRY_SECONDS gives its claim back where it can and leaves the rest to a later
delivery or to the sweep; a result already produced is kept for as long as its claim
lasts (TASK_TIME_LIMIT).
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import current_app

from app import logs, metrics
from app.errors import database_unavailable
from app.extensions import db
from app.models.base import utcnow
from app.services import events, task_metrics, tasks
from app.services.agent_io import PermanentError, Result, TransientError
from app.services.tasks import Claim

log = logging.getLogger(__name__)

DB_BACKOFF_FIRST, DB_BACKOFF_MAX = 0.2, 3.0


@dataclass(frozen=True)
class Gathered:
    input: Any  # what the agent is handed: plain data, no rows
    kept: Any = None  # what store needs besides the result
    announce: dict = field(default_factory=dict)  # more fields for the `start` event


@dataclass(frozen=True)
class TaskKind:
    name: str  # stored on the task row
    queue: str
    gather: Callable[[Claim], Gathered]
    store: Callable[[Claim, Any, Result], dict]
    # The `end` event's data read back from what store wrote (task row -> data), for
    # when the stream lost it; by default tasks.outcome's (the reply's ids and usage).
    final: Callable[[Any], dict] | None = None
    # Called once a delivery has ended the task (succeeded, failed or canceled), after
    # its commit: what the kind does next (a batch sees whether it is complete).
    finished: Callable[[Claim], None] | None = None
    # When to try again after a transient error: (config, attempt, the error's
    # retry_after) -> seconds, or None to give up; by default default_retry's.
    retry: Callable[[Any, int, float | None], float | None] | None = None
    # What the kind records of an attempt that failed (claim, error), written in the
    # transaction that gives the task back or fails it (a delivery's answer).
    attempt_failed: Callable[[Claim, Exception], None] | None = None

    def outcome(self, task) -> tuple[str, dict] | None:
        """A finished task's terminal event from the database (tasks.outcome), its
        `end` rebuilt by `final` when the kind has one."""
        found = tasks.outcome(task)
        if found is not None and found[0] == events.END and self.final is not None:
            return events.END, self.final(task)
        return found

    @property
    def task(self) -> str:
        """Its Celery task's name (parley.<name>)."""
        return tasks.celery_name(self.name)


@dataclass(frozen=True)
class RetryLater:
    """Send the task's message again after `seconds` (a Celery retry)."""

    seconds: float
    reason: Exception


class DatabaseUnavailable(Exception):
    """A database step kept failing for as long as it was allowed to."""


# The agent's work: given the gathered input, a callback for each chunk of text and
# one for any other event it reports (name, data), the result. Raises TransientError
# or PermanentError.
Produce = Callable[[Any, Callable[[str], None], Callable[[str, dict], None]], Result]


def run(kind: TaskKind, task_id: str, produce: Produce, worker: str,
        retries: int = 0) -> RetryLater | None:
    """Run one delivery of a task: claim, gather, produce, store. Returns when to try
    again, if ever (`retries`: how often Celery has retried this message)."""
    config = current_app.config
    try:
        held = with_database(lambda: tasks.claim(task_id, worker))
    except DatabaseUnavailable as exc:
        return RetryLater(backoff(config, retries), exc)
    if held is None:
        log.info("task %s has nothing to do (finished, unknown, waiting or held)", task_id)
        return None
    logs.bind(org_id=held.org_id, attempt=held.attempt)  # on the rest of its log lines
    task_metrics.started(held)
    claimed_at = time.monotonic()
    attempt = metrics.Stopwatch()
    try:
        retry = _run_claimed(kind, held, produce, config, retries, claimed_at)
    except Exception as exc:  # whatever escaped the steps: the task still ends
        if database_unavailable(exc):
            return _give_back_for_later(config, held, exc, retries)
        retry = _fail(held, exc)
    finally:
        task_metrics.ran(held, attempt)
    if retry is None and kind.finished is not None:
        _after_finish(kind, held)
    return retry


def _after_finish(kind: TaskKind, held: Claim) -> None:
    try:
        with_database(lambda: kind.finished(held))
    except Exception as exc:  # the task has ended whatever this says; the sweep follows up
        log.warning("task %s: what follows its end failed: %s", held.task_id, exc)


def _run_claimed(kind: TaskKind, held: Claim, produce: Produce, config, retries: int,
                 claimed_at: float) -> RetryLater | None:
    try:
        gathered = with_database(lambda: kind.gather(held))
    except DatabaseUnavailable as exc:
        return _give_back_for_later(config, held, exc, retries)
    except Exception as exc:
        return _fail(held, exc)
    finally:
        _let_go_of_the_connection()  # none is held while the agent works
    stream = events.task_events()
    stream.append(held.task_id, events.START, {"task_id": held.task_id, **gathered.announce,
                                               "attempt": held.attempt})
    model = metrics.Stopwatch()  # its first lap: the first text
    write_text = stream.content_writer(held.task_id)
    write_event = stream.event_writer(held.task_id)

    def on_text(text: str) -> None:
        model.lap()
        write_text(text)

    def on_event(name: str, data: dict) -> None:
        write_text.flush()  # the text before it comes first
        write_event(name, data)

    try:
        try:
            result = produce(gathered.input, on_text, on_event)
        finally:
            write_text.close()  # the last chunks, before the attempt's next event
    except events.TaskCanceled:
        return _end_failed(held, tasks.CANCELED_ERROR)
    except TransientError as exc:
        task_metrics.model_failed(exc)
        return _retry_or_give_up(kind, config, held, exc)
    except PermanentError as exc:
        task_metrics.model_failed(exc)
        return _end_failed(held, str(exc), _recorder(kind, held, exc))
    except Exception as exc:
        return _fail(held, exc)
    task_metrics.answered(held, result, model)
    return _store(kind, held, gathered.kept, result, config, claimed_at)


def _store(kind: TaskKind, held: Claim, kept, result: Result, config,
           claimed_at: float) -> None:
    """Store the result and finish the task in one transaction, with the `end` event
    once committed. While the database is unavailable the result is kept and the store
    tried again, for as long as the claim lasts: until the sweep would take the task
    back for making no progress (TASK_TIME_LIMIT after the claim)."""
    lasts = config["TASK_TIME_LIMIT_SECONDS"] - (time.monotonic() - claimed_at) - 5
    try:
        finished = with_database(
            lambda: tasks.finish(held, tasks.SUCCESS,
                                 write=lambda: kind.store(held, kept, result)),
            seconds=max(lasts, config["DB_RETRY_SECONDS"]))
    except DatabaseUnavailable:
        log.error("task %s: its result could not be stored while its claim lasted; the "
                  "sweep will run it again", held.task_id)
        return None
    except Exception as exc:
        return _fail(held, exc)
    if finished is None:
        log.info("task %s: claim %s was taken over; its result is dropped",
                 held.task_id, held.attempt)
        return None
    if finished.canceled:  # canceled while it ran: its result is not stored
        tasks.announce_failure(held.task_id, tasks.CANCELED_ERROR, canceled=True)
        tasks.publish_after(finished)
        return None
    end = finished.written
    if finished.repeated:  # stored by a commit whose answer was lost
        end = kind.outcome(with_database(
            lambda: tasks.get_task(held.org_id, held.task_id)))[1]
    events.task_events().append(held.task_id, events.END, end)
    tasks.publish_after(finished)
    return None


def default_retry(config, attempt: int, retry_after: float | None) -> float | None:
    """REPLY_MAX_RETRIES retries, with backoff."""
    if attempt > config["REPLY_MAX_RETRIES"]:
        return None
    return backoff(config, attempt - 1, retry_after)


def _retry_or_give_up(kind: TaskKind, config, held: Claim,
                      exc: TransientError) -> RetryLater | None:
    """Give the task back to be tried again when its kind's retry policy says, or fail
    it. A wait longer than a Celery retry may take (RETRY_BACKOFF_MAX, which the
    broker's visibility timeout covers) is the sweep's: the task stays unpublished
    until its time (tasks.not_before)."""
    record = _recorder(kind, held, exc)
    delay = (kind.retry or default_retry)(config, held.attempt, exc.retry_after)
    if delay is None:
        return _end_failed(held, f"gave up after {held.attempt} attempts: {exc}", record)
    by_sweep = delay > config["RETRY_BACKOFF_MAX_SECONDS"]
    if not _give_back(held, f"retrying after: {exc}", write=record, by_sweep=by_sweep,
                      retry_at=utcnow() + timedelta(seconds=delay)) or by_sweep:
        return None
    return RetryLater(delay, exc)


def _recorder(kind: TaskKind, held: Claim, exc: Exception) -> Callable[[], None] | None:
    if kind.attempt_failed is None:
        return None
    return lambda: kind.attempt_failed(held, exc)


def _give_back_for_later(config, held: Claim, exc: Exception, retries: int) -> RetryLater:
    """The database went away after the claim: give the task back, so that the retried
    message can claim it again."""
    _give_back(held, f"database unavailable: {getattr(exc, 'orig', exc)}")
    return RetryLater(backoff(config, retries), exc)


def _give_back(held: Claim, error: str, **how) -> bool:
    try:
        return with_database(lambda: tasks.release(held, error, **how))
    except DatabaseUnavailable:
        return False  # still STARTED: the sweep takes it back after the time limit


def _fail(held: Claim, exc: Exception) -> None:
    """Neither the model's fault nor a passing one: end the task readably rather than
    leave it for the sweep to retry."""
    log.error("task %s failed", held.task_id, exc_info=exc)
    # The kind of error only: its text may quote a statement and what users wrote.
    return _end_failed(held, f"internal error: {type(exc).__name__} (the worker's log has "
                             "the details)")


def _end_failed(held: Claim, error: str, write: Callable[[], None] | None = None) -> None:
    try:
        with_database(lambda: tasks.fail(held, error, write))
    except DatabaseUnavailable:
        log.error("task %s could not be failed (%s); the sweep will take it", held.task_id,
                  error)
    return None


def with_database(step: Callable[[], Any], seconds: float | None = None):
    """Run a database step, again and again with backoff while the database is
    unavailable, for up to `seconds` (DB_RETRY_SECONDS); then DatabaseUnavailable."""
    deadline = time.monotonic() + (seconds or current_app.config["DB_RETRY_SECONDS"])
    pause = DB_BACKOFF_FIRST
    while True:
        try:
            return step()
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            _rollback()
            if time.monotonic() + pause > deadline:
                raise DatabaseUnavailable(str(getattr(exc, "orig", exc))) from exc
            log.warning("database unavailable, trying again in %.1fs: %s", pause,
                        getattr(exc, "orig", exc))
            time.sleep(pause)
            pause = min(pause * 2, DB_BACKOFF_MAX)


def _rollback() -> None:
    try:
        db.session.rollback()
    except Exception as exc:  # the connection is gone: the pool gives a new one later
        log.debug("rollback failed: %s", exc)


def _let_go_of_the_connection() -> None:
    """Close the session, handing its connection back; one the database dropped is
    discarded (closing it fails, and must not fail the task)."""
    try:
        db.session.close()
    except Exception as exc:
        log.debug("closing the session failed: %s", exc)
        db.session.remove()


def backoff(config, retries: int, retry_after: float | None = None) -> float:
    """Exponential backoff, and not sooner than the model's retry-after; both capped
    at PARLEY_RETRY_BACKOFF_MAX."""
    delay = min(config["RETRY_BACKOFF_SECONDS"] * 2 ** retries,
                config["RETRY_BACKOFF_MAX_SECONDS"])
    return max(delay, min(retry_after or 0, config["RETRY_BACKOFF_MAX_SECONDS"]))

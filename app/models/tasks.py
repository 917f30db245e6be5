"""Task state lives here, not in Celery's result backend: the API answers status
checks with one indexed read, and an unknown id is a 404.

One row for any kind of work (app/services/task_kinds.py): its kind, its organization,
its state and its lease. The ids a kind works on live with that kind: a reply's task
names its conversation and question (the reply is the message answering it); a
summary's names its conversation only; kinds with no conversation name neither.
"""

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import UTCDateTime, created_at_column, new_uuid, utcnow


class TaskState(str, enum.Enum):
    PENDING = "PENDING"
    STARTED = "STARTED"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"


class Task(db.Model):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_state_updated_at", "state", "updated_at"),
        # A conversation's line of questions: who must wait, who is next.
        Index("ix_tasks_conversation_id_message_id", "conversation_id", "message_id"),
        # A batch's counts, and whether any of its requests is unfinished.
        Index("ix_tasks_batch_id_state", "batch_id", "state"),
        # An organization's running tasks, counted against its cap (ORG_MAX_IN_FLIGHT).
        Index("ix_tasks_org_id_state", "org_id", "state"),
        # The tasks waiting for a slot of their organization's cap: few, read in order.
        Index("ix_tasks_held", "org_id", "held_since",
              postgresql_where=text("held_since IS NOT NULL"),
              sqlite_where=text("held_since IS NOT NULL")),
    )

    # Also the Celery task id, so Flower and our table name the same thing.
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    # The kind of work (task_kinds.py), which names its Celery task and queue.
    kind: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default=TaskState.PENDING.value)
    error: Mapped[str | None] = mapped_column(Text)
    # The lease: each claim takes the next attempt number, and only the claim holding
    # the current one may finish the task.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The worker process holding the claim, or that is to publish the queued task's
    # message (app/services/presence.py): when its heartbeat stops, the sweep
    # re-queues the task at once. NULL once the task has finished.
    worker: Mapped[str | None] = mapped_column(String(128), index=True)
    # Set when the task is enqueued and cleared if the broker refused it; the sweep
    # publishes rows left NULL.
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When cancel was asked for: a queued task ends FAILURE at once; a running one at
    # its next streamed chunk, or when it finishes (then storing nothing).
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A queued task's next attempt is not due before this time (a retry's backoff).
    # A wait longer than a Celery retry may take leaves the task unpublished, and the
    # sweep publishes it once this time has come.
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when a claim found the organization's cap (ORG_MAX_IN_FLIGHT) full: the task
    # waits, unpublished, and one of the organization's running tasks publishes it as
    # it ends (the sweep, if that was lost). Its place among the organization's held
    # tasks; cleared when it is claimed.
    held_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow,
                                                 onupdate=utcnow)
    # The conversation the work is about, if any; with a message, the task takes that
    # message's place in the conversation's line (one task per message).
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), unique=True)
    # The batch the task's question came in, if any.
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"))
    # The id of the HTTP request that caused the task (X-Request-Id), or of the task
    # that did: sent with its messages, so its worker's log lines carry it.
    request_id: Mapped[str | None] = mapped_column(String(64))

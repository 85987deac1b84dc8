"""Background jobs as kept rows: what to run, how it went, and batches of related jobs.

A job row is written in the same transaction as the change that asks for it, so a
job exists exactly when that change was committed. The queue (Huey) only carries
the row's id; the row is the record that is kept, retried and shown to administrators.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.db import utcnow
from lms.extensions import db


class JobStatus(StrEnum):
    QUEUED = "queued"  # waiting for a worker (or for its next try)
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # every try failed: an administrator can retry it


class JobBatch(db.Model):
    """Jobs started together (e.g. re-issuing a course's certificates), with their item total."""

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(String(300))
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    # Items (e.g. certificates) over all the batch's jobs; progress counts items.
    total: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    started_by = relationship("User")


class Job(db.Model):
    __table_args__ = (
        # The sweeper's and the admin page's lookups.
        Index("ix_job_status_run_at", "status", "run_at"),
        Index("ix_job_batch_id_status", "batch_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[str] = mapped_column(String(80))
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(12), default=JobStatus.QUEUED.value)
    priority: Mapped[int] = mapped_column(default=0)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=4)
    # Exception type and message of the latest failure: never arguments or tracebacks.
    last_error: Mapped[str | None] = mapped_column(Text)
    enqueued_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the job is due: now, or after the back-off of a failed try.
    run_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the sweeper last handed a stuck job to the queue again.
    redispatched_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("job_batch.id", ondelete="CASCADE"), index=False
    )
    # Items this job handles and how many are done (progress of batches).
    items: Mapped[int] = mapped_column(default=1)
    items_done: Mapped[int] = mapped_column(default=0)
    # Jobs that must exist once only (e.g. one reminder run per day) carry a key.
    unique_key: Mapped[str | None] = mapped_column(String(200), unique=True)

    batch: Mapped[JobBatch | None] = relationship()

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.task} {self.status}>"

"""Enrolments, progress per activity and attempts.

Progress is keyed on the activity's stable key from course content, so editing a
page's text or reordering modules keeps everyone's progress.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.db import utcnow
from lms.extensions import db


class Enrolment(db.Model):
    __table_args__ = (UniqueConstraint("user_id", "course_slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    course_slug: Mapped[str] = mapped_column(String(80), index=True)
    enrolled_at: Mapped[datetime] = mapped_column(default=utcnow)
    enrolled_version: Mapped[str] = mapped_column(String(40))
    last_activity_key: Mapped[str | None] = mapped_column(String(80))
    last_visited_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    completed_version: Mapped[str | None] = mapped_column(String(40))

    user = relationship("User")
    progress: Mapped[list[ActivityProgress]] = relationship(
        back_populates="enrolment", cascade="all, delete-orphan"
    )

    @property
    def is_complete(self) -> bool:
        return self.completed_at is not None


class ActivityProgress(db.Model):
    __table_args__ = (UniqueConstraint("enrolment_id", "activity_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id", ondelete="CASCADE"))
    activity_key: Mapped[str] = mapped_column(String(80))
    is_complete: Mapped[bool] = mapped_column(default=False)
    completed_at: Mapped[datetime | None]
    best_score: Mapped[float | None]
    attempt_count: Mapped[int] = mapped_column(default=0)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    enrolment: Mapped[Enrolment] = relationship(back_populates="progress")


class Attempt(db.Model):
    __table_args__ = (UniqueConstraint("enrolment_id", "activity_key", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(
        ForeignKey("enrolment.id", ondelete="CASCADE"), index=True
    )
    activity_key: Mapped[str] = mapped_column(String(80))
    activity_type: Mapped[str] = mapped_column(String(40))
    number: Mapped[int]
    content_version: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    score: Mapped[float | None]
    is_passed: Mapped[bool | None]
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)


class AttemptReview(db.Model):
    """A reviewer's judgement of one attempt: per-criterion marks, comments and a decision.

    Every review is kept; the latest one on the latest attempt is the outcome.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("attempt.id", ondelete="CASCADE"), index=True
    )
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    decision: Mapped[str] = mapped_column(String(20))  # "accepted" or "needs_work"
    criteria: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    comments: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    attempt: Mapped[Attempt] = relationship()
    reviewer = relationship("User")

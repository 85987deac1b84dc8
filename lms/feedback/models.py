"""Feedback responses and the "you said, we did" record of changes made because of them.

Anonymous responses carry nothing that leads back to a person: no user id, no
timestamp, a random id, and (on SQLite) no insertion-ordered rowid.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.db import utcnow
from lms.extensions import db


def _random_id() -> str:
    return uuid.uuid4().hex


class FeedbackResponse(db.Model):
    __table_args__ = (
        Index("ix_feedback_response_form", "course_slug", "activity_key"),
        # One run's results (the run page's feedback) without reading the whole course's.
        Index("ix_feedback_response_run", "run_id", "activity_key"),
        # Without a rowid, SQLite keeps rows in primary-key (random) order rather
        # than in the order they were written.
        {"sqlite_with_rowid": False},
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_random_id)
    course_slug: Mapped[str] = mapped_column(String(80))
    activity_key: Mapped[str] = mapped_column(String(80))
    content_version: Mapped[str] = mapped_column(String(40))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("course_run.id", ondelete="SET NULL"))
    is_anonymous: Mapped[bool]
    # Only for named (non-anonymous) forms.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    submitted_at: Mapped[datetime | None]
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    run = relationship("CourseRun")
    user = relationship("User")


class CourseChange(db.Model):
    """ "You said, we did": a change made to a course because of feedback."""

    id: Mapped[int] = mapped_column(primary_key=True)
    course_slug: Mapped[str] = mapped_column(String(80), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("course_run.id", ondelete="SET NULL"))
    you_said: Mapped[str] = mapped_column(Text)
    we_did: Mapped[str] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    run = relationship("CourseRun")
    recorded_by = relationship("User")

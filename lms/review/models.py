"""The review queue's own record of reviewed work (one row per attempt of a reviewed type),
and the course reviewers who review a course's work when no run applies.

Kept up to date where work is sent (a listener of ``submission_recorded``) and
reviewed (:func:`lms.review.services.record_review`), so the queue finds what waits
for a decision through one index, (trainee, course, waiting, sent), instead of
looking at every attempt of every trainee in a facilitator's runs.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.db import utcnow
from lms.extensions import db


class ReviewItem(db.Model):
    __table_args__ = (
        # What waits, per trainee and course, oldest first; the activity too, so the
        # queue's count and page are read from the index alone.
        Index(
            "ix_review_item_queue",
            "user_id",
            "course_slug",
            "is_waiting",
            "submitted_at",
            "attempt_id",
            "activity_key",
        ),
        # The other versions of the same work (one becomes older when a new one is sent).
        Index("ix_review_item_work", "enrolment_id", "activity_key"),
        # A course's work, waiting first: a course reviewer's part of the queue (trainees
        # whom no run brings to a facilitator) is a range of it, read from the index alone.
        Index(
            "ix_review_item_course",
            "course_slug",
            "is_waiting",
            "user_id",
            "activity_key",
            "submitted_at",
        ),
    )

    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("attempt.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id", ondelete="CASCADE"))
    #: The trainee (the enrolment's person), and the course and activity of the work.
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    course_slug: Mapped[str] = mapped_column(String(80))
    activity_key: Mapped[str] = mapped_column(String(80))
    submitted_at: Mapped[datetime]
    #: The newest version sent for the activity, with no review yet.
    is_waiting: Mapped[bool]


class CourseReviewer(db.Model):
    """A facilitator named by an administrator to review a course's work from trainees
    whom no run brings to a facilitator (online courses, trainees without a place).

    See :mod:`lms.review.reviewers`. One row per course and person.
    """

    course_slug: Mapped[str] = mapped_column(String(80), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    assigned_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), nullable=True
    )

    user = relationship("User", foreign_keys=[user_id])

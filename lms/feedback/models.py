"""Feedback responses and the "you said, we did" record of changes made because of them.

Anonymous responses carry nothing that leads back to a person: no user id, no
timestamp, a random id, and (on SQLite) no insertion-ordered rowid.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.db import utcnow
from lms.extensions import db


def _random_id() -> str:
    return uuid.uuid4().hex


class FeedbackResponse(db.Model):
    __table_args__ = (
        # The id last: a form's first comments in (random) id order straight from the index.
        Index("ix_feedback_response_form", "course_slug", "activity_key", "id"),
        # One run's results (the run page's feedback) without reading the whole course's.
        Index("ix_feedback_response_run", "run_id", "activity_key", "id"),
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
    #: Whether staff can see this answer yet: answers are released a group at a time,
    #: once at least :data:`MIN_RESPONSES` have arrived for their run (see lms.feedback.tallies).
    released: Mapped[bool] = mapped_column(default=False, server_default=false())

    run = relationship("CourseRun")
    user = relationship("User")


#: The smallest group of responses staff ever see, and the fewest new responses that
#: change what they see (see :class:`FeedbackTally`).
MIN_RESPONSES = 5

#: ``FeedbackTally.run_key`` of the counts over every run of a course (and no run).
ALL_RUNS = 0
#: ``FeedbackTally.run_key`` of responses given outside any run.
NO_RUN = -1
#: ``FeedbackTally.question_key`` of the number of responses, and of anonymous responses.
TOTAL = "@total"
ANONYMOUS = "@anonymous"


class FeedbackTally(db.Model):
    """How many responses of a form gave each answer: counts only, kept as responses arrive.

    One row per course, run (``run_key``: a run id, :data:`NO_RUN`, or :data:`ALL_RUNS`
    for the whole course), form, question and answer (``value``: a rating or option as text;
    ``""`` for text answers, whose words are never copied here, and for the
    :data:`TOTAL` and :data:`ANONYMOUS` rows). Nothing here leads to a person or a
    time: no user, no timestamp, and (on SQLite) no rowid to show which row came first.
    Results pages read these rows instead of adding up every response.

    ``count`` counts every stored response; ``released`` only those staff can see yet.
    A run's (or :data:`NO_RUN`'s) rows are released together, by setting ``released``
    to ``count``, once ``count`` has grown by at least :data:`MIN_RESPONSES` since the last
    release; the :data:`ALL_RUNS` rows' ``released`` is the sum of the runs' released
    counts. So every change staff can see covers at least :data:`MIN_RESPONSES` people.
    """

    __table_args__ = ({"sqlite_with_rowid": False},)

    course_slug: Mapped[str] = mapped_column(String(80), primary_key=True)
    run_key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    activity_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    question_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[str] = mapped_column(Text, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    released: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


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

"""Enrolment, progress and submissions.

Functions flush but never commit. Signals: ``activity_completed`` when an
activity first becomes complete, ``course_requirements_met`` when an enrolment
first meets its course's completion rules.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from lms import signals
from lms.accounts.models import User
from lms.catalogue.content import Activity, Catalogue, Course
from lms.db import defer_write, utcnow
from lms.extensions import db
from lms.i18n import _
from lms.learning.models import ActivityProgress, Attempt, AttemptReview, Enrolment
from lms.plugins import ActivityTypeRegistry, AttemptView, ProgressView, ReviewView, Submission

log = logging.getLogger(__name__)


class EnrolmentRefused(Exception):
    """Enrolment is not possible; ``message`` says why in words for the trainee."""

    def __init__(self, message: str, missing: list[Course] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.missing = missing or []


def catalogue() -> Catalogue:
    return current_app.extensions["lms.courses"]


def registry() -> ActivityTypeRegistry:
    return current_app.extensions["lms.activity_types"]


@cache
def _enrolment_statement():
    # Built once (statement and cache key): every activity page asks.
    return select(Enrolment).where(
        Enrolment.user_id == bindparam("user_id"), Enrolment.course_slug == bindparam("slug")
    )


def get_enrolment(user: User, course: Course) -> Enrolment | None:
    return db.session.scalar(_enrolment_statement(), {"user_id": user.id, "slug": course.slug})


@cache
def _enrolments_statement():
    return (
        select(Enrolment)
        .where(Enrolment.user_id == bindparam("user_id"))
        .order_by(Enrolment.enrolled_at)
    )


def enrolments_for(user: User) -> list[Enrolment]:
    return list(db.session.scalars(_enrolments_statement(), {"user_id": user.id}))


def missing_prerequisites(user: User, course: Course) -> list[Course]:
    """The prerequisite courses ``user`` has not completed."""
    if not course.prerequisites:
        return []
    done = set(
        db.session.scalars(
            select(Enrolment.course_slug).where(
                Enrolment.user_id == user.id,
                Enrolment.course_slug.in_(course.prerequisites),
                Enrolment.completed_at.is_not(None),
            )
        )
    )
    cat = catalogue()
    return [cat.get(slug) for slug in course.prerequisites if slug not in done and cat.get(slug)]


def enrol(user: User, course: Course) -> Enrolment:
    """Enrol ``user`` on ``course``; returns the existing enrolment if there is one.

    Raises EnrolmentRefused when a prerequisite course is not complete.
    """
    existing = get_enrolment(user, course)
    if existing is not None:
        return existing
    missing = missing_prerequisites(user, course)
    if missing:
        names = ", ".join(c.title for c in missing)
        raise EnrolmentRefused(
            _(
                "You can join %(course)s once you have completed: %(names)s.",
                course=course.title,
                names=names,
            ),
            missing,
        )
    return create_enrolment(user, course)


def create_enrolment(user: User, course: Course) -> Enrolment:
    """Enrol without checking prerequisites (administrators decide that themselves)."""
    existing = get_enrolment(user, course)
    if existing is not None:
        return existing
    enrolment = Enrolment(user_id=user.id, course_slug=course.slug, enrolled_version=course.version)
    try:
        with db.session.begin_nested():
            db.session.add(enrolment)
    except IntegrityError:
        # Two tabs enrolling at once: the other one won, use its row.
        existing = get_enrolment(user, course)
        if existing is None:
            raise
        return existing
    # Progress rows for anonymous kinds of activity are made now, in course order, so
    # their ids and times say nothing about when anyone answered.
    for activity in course.activities:
        if registry()[activity.type].precreate_progress:
            db.session.add(
                ActivityProgress(
                    enrolment_id=enrolment.id,
                    activity_key=activity.key,
                    state={},
                    updated_at=enrolment.enrolled_at,
                )
            )
    db.session.flush()
    log.info("Enrolment %s created", enrolment.id)
    return enrolment


def progress_map(enrolment: Enrolment) -> dict[str, ActivityProgress]:
    return {p.activity_key: p for p in enrolment.progress}


def progress_facts(enrolment: Enrolment) -> dict[str, Any]:
    """The enrolment's progress as read-only rows, for showing a page.

    The same keys and the same attributes as :func:`progress_map` (``is_complete``,
    ``best_score``, ``attempt_count``, ``state``), read as plain rows: building the
    ORM objects of a course's dozens of rows cost more than the query itself. Use
    :func:`progress_map` to change them.
    """
    rows = db.session.execute(_progress_facts_statement(), {"enrolment_id": enrolment.id})
    return {row.activity_key: row for row in rows}


@cache
def _progress_facts_statement():
    return select(
        ActivityProgress.activity_key,
        ActivityProgress.is_complete,
        ActivityProgress.best_score,
        ActivityProgress.attempt_count,
        ActivityProgress.state,
    ).where(ActivityProgress.enrolment_id == bindparam("enrolment_id"))


def progress_view(row: ActivityProgress | None) -> ProgressView:
    if row is None:
        return ProgressView()
    return ProgressView(
        is_complete=row.is_complete,
        best_score=row.best_score,
        attempt_count=row.attempt_count,
        state=dict(row.state or {}),
    )


def attempts_for(enrolment: Enrolment, activity: Activity) -> list[AttemptView]:
    """Attempts in order, each with its reviews in order."""
    rows = list(
        db.session.scalars(
            select(Attempt)
            .where(Attempt.enrolment_id == enrolment.id, Attempt.activity_key == activity.key)
            .order_by(Attempt.number)
        )
    )
    reviews: dict[int, list[ReviewView]] = {}
    if rows:
        for review in db.session.scalars(
            select(AttemptReview)
            .where(AttemptReview.attempt_id.in_([r.id for r in rows]))
            .order_by(AttemptReview.id)
        ):
            reviews.setdefault(review.attempt_id, []).append(
                ReviewView(
                    decision=review.decision,
                    criteria=dict(review.criteria or {}),
                    comments=review.comments,
                    reviewer_name=review.reviewer.name if review.reviewer else "",
                    created_at=review.created_at,
                )
            )
    return [
        AttemptView(
            r.number, r.data, r.score, r.is_passed, r.submitted_at, tuple(reviews.get(r.id, ()))
        )
        for r in rows
    ]


@dataclass(frozen=True)
class CourseProgress:
    done: int
    total: int

    @property
    def percent(self) -> int:
        return 100 if self.total == 0 else round(100 * self.done / self.total)


def completed_keys(enrolments: list[Enrolment]) -> dict[int, set[str]]:
    """Enrolment id -> the keys of its complete activities, for many enrolments at once.

    One query of two columns: lists (the dashboard) need no progress rows, and
    reading the rows would read every draft and answer kept in them.
    """
    out: dict[int, set[str]] = {e.id: set() for e in enrolments}
    if out:
        for enrolment_id, key in db.session.execute(_completed_statement(), {"ids": list(out)}):
            out[enrolment_id].add(key)
    return out


@cache
def _completed_statement():
    return select(ActivityProgress.enrolment_id, ActivityProgress.activity_key).where(
        ActivityProgress.enrolment_id.in_(bindparam("ids", expanding=True)),
        ActivityProgress.is_complete,
    )


def _done_keys(enrolment: Enrolment) -> set[str]:
    return {key for key, row in progress_map(enrolment).items() if row.is_complete}


def course_progress(
    enrolment: Enrolment, course: Course, done_keys: set[str] | None = None
) -> CourseProgress:
    """How many of the course's required activities are complete.

    ``done_keys`` (from :func:`completed_keys`) saves loading the enrolment's rows.
    """
    if done_keys is None:
        done_keys = _done_keys(enrolment)
    done = sum(1 for key in course.required_keys if key in done_keys)
    return CourseProgress(done, len(course.required_keys))


def resume_activity(
    enrolment: Enrolment, course: Course, done_keys: set[str] | None = None
) -> Activity:
    """Where to pick up: the last activity visited, or else the first not yet complete."""
    if enrolment.last_activity_key:
        activity = course.activity(enrolment.last_activity_key)
        if activity is not None:
            return activity
    if done_keys is None:
        done_keys = _done_keys(enrolment)
    for activity in course.activities:
        if activity.key not in done_keys:
            return activity
    return course.activities[0]


def next_activity(course: Course, done_keys: set[str]) -> Activity | None:
    """The first required activity not yet complete, in course order (None when every
    required one is): the trainee's true next step, wherever they last were."""
    for activity in course.activities:
        if activity.key in course.required_keys and activity.key not in done_keys:
            return activity
    return None


def record_visit(enrolment: Enrolment, activity: Activity) -> None:
    """Remember that the trainee is at ``activity`` (where "Continue" takes them).

    A write made by a page view: on SQLite it runs after the page's read transaction
    committed, in a short write transaction of its own (:func:`lms.db.defer_write`),
    so it waits its turn for the lock instead of failing, and the page never holds it.
    """
    enrolment_id, key = enrolment.id, activity.key

    def write() -> None:
        db.session.execute(
            update(Enrolment)
            .where(Enrolment.id == enrolment_id)
            .values(last_activity_key=key, last_visited_at=utcnow())
        )

    defer_write(write)


def _progress_row(enrolment: Enrolment, activity: Activity) -> ActivityProgress:
    """The progress row for an activity, created if needed, locked for this transaction.

    The lock serialises submissions for one person and activity (two tabs sending
    a form at once), so rules such as "answer a feedback form once" hold.
    """
    stmt = (
        select(ActivityProgress)
        .where(
            ActivityProgress.enrolment_id == enrolment.id,
            ActivityProgress.activity_key == activity.key,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    row = db.session.scalar(stmt)
    if row is None:
        row = ActivityProgress(enrolment_id=enrolment.id, activity_key=activity.key, state={})
        try:
            with db.session.begin_nested():
                db.session.add(row)
        except IntegrityError:
            row = db.session.scalar(stmt)
    return row


def lock_progress(enrolment: Enrolment, activity: Activity) -> ActivityProgress:
    """Lock (creating if needed) the progress row before judging a submission."""
    return _progress_row(enrolment, activity)


def save_draft(enrolment: Enrolment, activity: Activity, draft: dict[str, Any]) -> ActivityProgress:
    """Keep a draft of what someone is writing in their progress state."""
    row = _progress_row(enrolment, activity)
    state = dict(row.state or {})
    state["draft"] = draft
    state["draft_saved_at"] = utcnow().isoformat()
    row.state = state
    enrolment.last_activity_key = activity.key
    db.session.flush()
    return row


def record_submission(
    enrolment: Enrolment, course: Course, activity: Activity, submission: Submission
) -> ActivityProgress:
    """Store an accepted submission as a new attempt and update progress.

    Sends ``activity_completed`` when the activity first becomes complete, and
    ``course_requirements_met`` (through :func:`check_completion`) when that
    completes the course.
    """
    row = _progress_row(enrolment, activity)
    activity_type = registry()[activity.type]
    if submission.is_anonymous:
        return _record_anonymous(enrolment, course, activity, submission, row)
    number = (
        db.session.scalar(
            select(func.max(Attempt.number)).where(
                Attempt.enrolment_id == enrolment.id, Attempt.activity_key == activity.key
            )
        )
        or 0
    ) + 1
    attempt = Attempt(
        enrolment_id=enrolment.id,
        activity_key=activity.key,
        activity_type=activity.type,
        number=number,
        content_version=course.version,
        data=submission.data,
        score=submission.score,
        is_passed=submission.is_passed,
    )
    db.session.add(attempt)
    row.attempt_count = number
    if submission.score is not None and (
        row.best_score is None or submission.score > row.best_score
    ):
        row.best_score = submission.score
    if submission.state is not None:
        row.state = dict(submission.state)
    enrolment.last_activity_key = activity.key
    db.session.flush()
    signals.submission_recorded.send(
        current_app._get_current_object(),
        enrolment=enrolment,
        activity=activity,
        submission=submission,
        attempt=attempt,
    )
    _update_completion(enrolment, activity, row, activity_type)
    return row


def _update_completion(enrolment, activity, row, activity_type, stamp: bool = True) -> None:
    was_complete = row.is_complete
    row.is_complete = was_complete or activity_type.is_complete(progress_view(row), activity.config)
    if row.is_complete and not was_complete:
        row.completed_at = utcnow() if stamp else None
    db.session.flush()
    if row.is_complete and not was_complete:
        signals.activity_completed.send(
            current_app._get_current_object(), enrolment=enrolment, activity=activity
        )


def _record_anonymous(enrolment, course, activity, submission, row) -> ActivityProgress:
    """Record that an anonymous form was answered, with nothing that ties the answers to it.

    No attempt row, no completion time, and the row's last-updated time set to the
    enrolment time, so neither ids nor timestamps line up with the stored response.
    """
    activity_type = registry()[activity.type]
    row.attempt_count = 1
    row.state = dict(submission.state or {"submitted": True})
    row.updated_at = enrolment.enrolled_at
    signals.submission_recorded.send(
        current_app._get_current_object(),
        enrolment=enrolment,
        activity=activity,
        submission=submission,
        attempt=None,
    )
    _update_completion(enrolment, activity, row, activity_type, stamp=False)
    row.updated_at = enrolment.enrolled_at
    db.session.flush()
    return row


def apply_review_state(enrolment: Enrolment, activity: Activity, state: dict[str, Any]) -> None:
    """Merge a reviewer's decision into progress and re-check completion."""
    row = _progress_row(enrolment, activity)
    merged = dict(row.state or {})
    merged.update(state)
    row.state = merged
    _update_completion(enrolment, activity, row, registry()[activity.type])


#: Further course rules an enrolment must meet before it is complete, each
#: ``rule(enrolment, course) -> bool``; other domains add theirs (lms.review: reviewed
#: work meeting the standard where the course says ``completion: {review: must_pass}``).
completion_rules: list[Any] = []


def check_completion(enrolment: Enrolment, course: Course) -> bool:
    """Mark the enrolment complete if every required activity is, and every rule in
    :data:`completion_rules` holds; True when it is complete."""
    if enrolment.completed_at is not None:
        return True
    db.session.refresh(enrolment)
    progress = course_progress(enrolment, course)
    if progress.done < progress.total:
        return False
    if not all(rule(enrolment, course) for rule in completion_rules):
        return False
    enrolment.completed_at = utcnow()
    enrolment.completed_version = course.version
    db.session.flush()
    log.info("Enrolment %s met the course's online requirements", enrolment.id)
    signals.course_requirements_met.send(
        current_app._get_current_object(), enrolment=enrolment, course=course
    )
    return True


def _on_activity_completed(sender: Any, enrolment: Enrolment, activity: Activity, **_: Any) -> None:
    course = catalogue().get(enrolment.course_slug)
    if course is not None:
        check_completion(enrolment, course)


def connect_signals() -> None:
    signals.activity_completed.connect(_on_activity_completed)

"""Reviewing written work (case studies): queues per facilitator and recorded decisions.

A facilitator reviews the work of trainees with a place on a run they facilitate
(for that run's course); administrators review anyone's. Every review is kept.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from lms.accounts.models import Role, User
from lms.catalogue.content import Activity, Course
from lms.errors import ServiceError
from lms.extensions import db
from lms.i18n import _
from lms.learning import services as learning
from lms.learning.models import Attempt, AttemptReview, Enrolment
from lms.runs.models import CourseRun, PlaceStatus, RunFacilitator, RunPlace

log = logging.getLogger(__name__)

DECISIONS = ("accepted", "needs_work")
CRITERION_MARKS = ("met", "not_yet")


class ReviewError(ServiceError):
    """A request that cannot be carried out; ``field`` names the input at fault."""


@dataclass
class QueueItem:
    attempt: Attempt
    enrolment: Enrolment
    course: Course
    activity: Activity
    run: CourseRun | None
    is_latest: bool
    latest_review: AttemptReview | None

    @property
    def is_waiting(self) -> bool:
        return self.is_latest and self.latest_review is None


def _reviewed_types() -> set[str]:
    registry = learning.registry()
    return {name for name in registry.names() if registry[name].is_reviewed}


def trainee_runs(user: User, course_slug: str) -> list[CourseRun]:
    return list(
        db.session.scalars(
            select(CourseRun)
            .join(RunPlace)
            .where(
                RunPlace.user_id == user.id,
                RunPlace.status == PlaceStatus.BOOKED,
                CourseRun.course_slug == course_slug,
            )
        )
    )


def can_review(reviewer: User, enrolment: Enrolment) -> bool:
    """Administrators, or a facilitator of a run on which the trainee has a place."""
    if reviewer.has_role(Role.ADMIN):
        return True
    if not reviewer.has_role(Role.FACILITATOR) or reviewer.id == enrolment.user_id:
        return False
    return any(
        reviewer.id in run.facilitator_ids()
        for run in trainee_runs(enrolment.user, enrolment.course_slug)
    )


def queue(reviewer: User, include_done: bool = False) -> list[QueueItem]:
    """Attempts the reviewer may review: waiting ones first (oldest first), then others."""
    stmt = (
        select(Attempt, Enrolment)
        .join(Enrolment, Attempt.enrolment_id == Enrolment.id)
        .where(Attempt.activity_type.in_(_reviewed_types()))
        .order_by(Attempt.submitted_at, Attempt.id)
    )
    if not reviewer.has_role(Role.ADMIN):
        facilitated = (
            select(RunPlace.user_id, CourseRun.course_slug)
            .join(CourseRun, RunPlace.run_id == CourseRun.id)
            .join(RunFacilitator, RunFacilitator.run_id == CourseRun.id)
            .where(RunFacilitator.user_id == reviewer.id, RunPlace.status == PlaceStatus.BOOKED)
        ).subquery()
        stmt = stmt.join(
            facilitated,
            (facilitated.c.user_id == Enrolment.user_id)
            & (facilitated.c.course_slug == Enrolment.course_slug),
        ).where(Enrolment.user_id != reviewer.id)
    rows = db.session.execute(stmt).all()
    latest_number: dict[tuple[int, str], int] = {}
    for attempt, _enrolment in rows:
        key = (attempt.enrolment_id, attempt.activity_key)
        latest_number[key] = max(latest_number.get(key, 0), attempt.number)
    reviews: dict[int, AttemptReview] = {}
    if rows:
        for review in db.session.scalars(
            select(AttemptReview)
            .where(AttemptReview.attempt_id.in_({a.id for a, _e in rows}))
            .order_by(AttemptReview.id)
        ):
            reviews[review.attempt_id] = review
    items = []
    seen_attempts: set[int] = set()
    catalogue = learning.catalogue()
    for attempt, enrolment in rows:
        if attempt.id in seen_attempts:
            continue
        seen_attempts.add(attempt.id)
        course = catalogue.get(enrolment.course_slug)
        activity = course.activity(attempt.activity_key) if course else None
        if activity is None:
            continue
        is_latest = latest_number[(attempt.enrolment_id, attempt.activity_key)] == attempt.number
        item = QueueItem(
            attempt, enrolment, course, activity, None, is_latest, reviews.get(attempt.id)
        )
        runs = trainee_runs(enrolment.user, enrolment.course_slug)
        item.run = runs[0] if runs else None
        if item.is_waiting or include_done:
            items.append(item)
    items.sort(key=lambda i: (not i.is_waiting, i.attempt.submitted_at))
    return items


def history(enrolment: Enrolment, activity_key: str) -> list[tuple[Attempt, list[AttemptReview]]]:
    attempts = list(
        db.session.scalars(
            select(Attempt)
            .where(Attempt.enrolment_id == enrolment.id, Attempt.activity_key == activity_key)
            .order_by(Attempt.number)
        )
    )
    out = []
    for attempt in attempts:
        reviews = list(
            db.session.scalars(
                select(AttemptReview)
                .where(AttemptReview.attempt_id == attempt.id)
                .order_by(AttemptReview.id)
            )
        )
        out.append((attempt, reviews))
    return out


def record_review(
    attempt: Attempt,
    reviewer: User,
    decision: str,
    criteria: dict[str, str],
    comments: str,
) -> AttemptReview:
    """Record a decision on the latest attempt and update the trainee's progress.

    Raises ReviewError when the reviewer may not review it, the attempt is not the
    latest version, a criterion is unmarked, or "needs more work" has no comments.
    """
    enrolment = db.session.get(Enrolment, attempt.enrolment_id)
    if not can_review(reviewer, enrolment):
        raise ReviewError(_("You cannot review this trainee's work."), "decision")
    course = learning.catalogue().get(enrolment.course_slug)
    activity = course.activity(attempt.activity_key) if course else None
    if activity is None:
        raise ReviewError(_("This activity is no longer in the course."), "decision")
    latest = db.session.scalar(
        select(Attempt.number)
        .where(Attempt.enrolment_id == enrolment.id, Attempt.activity_key == activity.key)
        .order_by(Attempt.number.desc())
        .limit(1)
    )
    if latest != attempt.number:
        raise ReviewError(_("A newer version has been sent; review that one."), "decision")
    if decision not in DECISIONS:
        raise ReviewError(_("Choose “Meets the standard” or “Needs more work”."), "decision")
    keys = [c.key for c in activity.config.criteria]
    missing = [k for k in keys if criteria.get(k) not in CRITERION_MARKS]
    if missing:
        raise ReviewError(_("Mark every criterion as met or not yet met."), "criteria")
    comments = comments.strip()
    if decision == "needs_work" and not comments:
        raise ReviewError(_("Tell the trainee what to work on."), "comments")
    if len(comments) > 10_000:
        raise ReviewError(_("Keep comments under 10,000 characters."), "comments")
    review = AttemptReview(
        attempt_id=attempt.id,
        reviewer_id=reviewer.id,
        decision=decision,
        criteria={k: criteria[k] for k in keys},
        comments=comments,
    )
    db.session.add(review)
    db.session.flush()
    activity_type = learning.registry()[activity.type]
    learning.apply_review_state(enrolment, activity, activity_type.review_state(decision))
    log.info("Attempt %s reviewed: %s", attempt.id, decision)
    return review


def outcomes_for(user: User) -> list[dict]:
    """The trainee's reviewed work for their dashboard: latest decision and comments."""
    out = []
    catalogue = learning.catalogue()
    for enrolment in learning.enrolments_for(user):
        course = catalogue.get(enrolment.course_slug)
        if course is None:
            continue
        for activity in course.activities:
            if activity.type not in _reviewed_types():
                continue
            attempts = history(enrolment, activity.key)
            if not attempts:
                continue
            attempt, reviews = attempts[-1]
            out.append(
                {
                    "course": course,
                    "activity": activity,
                    "version": attempt.number,
                    "review": reviews[-1] if reviews else None,
                }
            )
    return out

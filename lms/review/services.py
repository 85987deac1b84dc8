"""Reviewing written work (case studies): queues per facilitator and recorded decisions.

A facilitator reviews the work of trainees with a place on a run they facilitate
(for that run's course); administrators review anyone's. Every review is kept.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, case, false, func, or_, select
from sqlalchemy.orm import aliased, contains_eager, selectinload
from sqlalchemy.sql.elements import ColumnElement

from lms.accounts.models import Role, User
from lms.catalogue.content import Activity, Course
from lms.db import escape_like
from lms.errors import ServiceError
from lms.extensions import db
from lms.i18n import _
from lms.learning import services as learning
from lms.learning.models import Attempt, AttemptReview, Enrolment
from lms.pagination import Page, paginate
from lms.runs.models import CourseRun, PlaceStatus, RunFacilitator, RunPlace

log = logging.getLogger(__name__)

DECISIONS = ("accepted", "needs_work")
CRITERION_MARKS = ("met", "not_yet")
QUEUE_PAGE_SIZE = 25


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


@dataclass
class QueueFilters:
    """What the queue shows: ``show`` is "waiting" (default) or "all"; the rest narrow it."""

    show: str = "waiting"
    course: str = ""
    run: str = ""
    q: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> QueueFilters:
        """Filters from a query string. Unknown values are ignored, never errors."""
        run = (args.get("run") or "").strip()
        return cls(
            show="all" if args.get("show") == "all" else "waiting",
            course=(args.get("course") or "").strip()[:80],
            run=run if run.isdigit() else "",
            q=" ".join((args.get("q") or "").split())[:100],
        )

    @property
    def include_done(self) -> bool:
        return self.show == "all"


def _reviewed_types() -> set[str]:
    registry = learning.registry()
    return {name for name in registry.names() if registry[name].is_reviewed}


def reviewed_activities() -> dict[str, list[Activity]]:
    """course slug -> the activities of reviewed types in the current content."""
    types = _reviewed_types()
    out: dict[str, list[Activity]] = {}
    for course in learning.catalogue():
        found = [a for a in course.activities if a.type in types]
        if found:
            out[course.slug] = found
    return out


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
            .order_by(CourseRun.id)
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


def _queue_statement(reviewer: User, filters: QueueFilters) -> tuple[Select, ColumnElement]:
    """The queue as one SELECT: each attempt with its enrolment, trainee, run, latest review
    and whether it is the latest version. Returns the statement and the "waiting" column."""
    by_course = reviewed_activities()
    if filters.course:
        by_course = {k: v for k, v in by_course.items() if k == filters.course}
    if not by_course:
        return select(Attempt).where(false()), false()
    in_content = or_(
        *(
            and_(Enrolment.course_slug == slug, Attempt.activity_key.in_([a.key for a in acts]))
            for slug, acts in by_course.items()
        )
    )
    types = _reviewed_types()
    # Whether an attempt is the newest version the trainee sent for the activity, and its
    # latest review (every review is kept), asked of each attempt through the indexes
    # (attempt by enrolment, activity and number; reviews by attempt) rather than by
    # grouping every attempt and review on the site.
    newer_attempt = aliased(Attempt, name="newer_attempt")
    newer_review = aliased(AttemptReview, name="newer_review")
    is_newest = ~(
        select(newer_attempt.id)
        .where(
            newer_attempt.enrolment_id == Attempt.enrolment_id,
            newer_attempt.activity_key == Attempt.activity_key,
            newer_attempt.number > Attempt.number,
        )
        .exists()
    )
    latest_review_on = and_(
        AttemptReview.attempt_id == Attempt.id,
        ~select(newer_review.id)
        .where(newer_review.attempt_id == Attempt.id, newer_review.id > AttemptReview.id)
        .exists(),
    )
    # The run that brings the trainee to this reviewer: a booked place on a run of the
    # course (one the reviewer facilitates, unless they are an administrator).
    place_runs = (
        select(
            RunPlace.user_id,
            CourseRun.course_slug,
            func.min(CourseRun.id).label("run_id"),
        )
        .join(CourseRun, RunPlace.run_id == CourseRun.id)
        .where(RunPlace.status == PlaceStatus.BOOKED)
        .group_by(RunPlace.user_id, CourseRun.course_slug)
    )
    is_admin = reviewer.has_role(Role.ADMIN)
    if not is_admin:
        place_runs = place_runs.join(RunFacilitator, RunFacilitator.run_id == CourseRun.id).where(
            RunFacilitator.user_id == reviewer.id
        )
    if filters.run:
        place_runs = place_runs.where(CourseRun.id == int(filters.run))
    place_runs = place_runs.subquery("place_runs")
    is_latest = is_newest.label("is_latest")
    waiting = and_(is_newest, AttemptReview.id.is_(None))
    stmt = (
        select(Attempt, Enrolment, User, CourseRun, AttemptReview, is_latest)
        .join(Enrolment, Attempt.enrolment_id == Enrolment.id)
        .join(User, Enrolment.user_id == User.id)
        .outerjoin(AttemptReview, latest_review_on)
        .where(Attempt.activity_type.in_(types), in_content)
        # The trainee is in the row: keep them on the enrolment, or the page would load
        # each one again (the row's User is dropped once the page is built).
        .options(contains_eager(Enrolment.user))
    )
    run_on = (place_runs.c.user_id == Enrolment.user_id) & (
        place_runs.c.course_slug == Enrolment.course_slug
    )
    if is_admin and not filters.run:
        stmt = stmt.outerjoin(place_runs, run_on)
    else:
        stmt = stmt.join(place_runs, run_on)
    if not is_admin:
        stmt = stmt.where(Enrolment.user_id != reviewer.id)
    stmt = stmt.outerjoin(CourseRun, CourseRun.id == place_runs.c.run_id)
    if filters.q:
        like = f"%{escape_like(filters.q.lower())}%"
        stmt = stmt.where(func.lower(User.name).like(like, escape="\\"))
    if filters.include_done:
        # Waiting ones first (oldest first), then the rest by when they were sent.
        stmt = stmt.order_by(case((waiting, 0), else_=1), Attempt.submitted_at, Attempt.id)
    else:
        stmt = stmt.where(waiting).order_by(Attempt.submitted_at, Attempt.id)
    return stmt, waiting


def queue(
    reviewer: User,
    filters: QueueFilters | None = None,
    page: Any = 1,
    per_page: Any = None,
) -> Page[QueueItem]:
    """One page of the attempts the reviewer may review, in two queries (count and page).

    By default only those waiting for a decision (latest version, not yet reviewed),
    oldest first; with ``show="all"`` every version, waiting ones first.
    """
    filters = filters or QueueFilters()
    stmt, _waiting = _queue_statement(reviewer, filters)
    result = paginate(stmt, page, per_page, default_per_page=QUEUE_PAGE_SIZE, scalars=False)
    catalogue = learning.catalogue()
    items = []
    for attempt, enrolment, _user, run, review, is_latest in result.items:
        course = catalogue.get(enrolment.course_slug)
        activity = course.activity(attempt.activity_key) if course else None
        if activity is None:  # content changed under the page; the next load is right
            continue
        items.append(QueueItem(attempt, enrolment, course, activity, run, bool(is_latest), review))
    result.items = items
    return result


def queue_runs(reviewer: User, course_slug: str = "") -> list[CourseRun]:
    """Runs to offer in the queue's run filter: the reviewer's (any, for administrators)."""
    stmt = select(CourseRun).order_by(CourseRun.title, CourseRun.id)
    if not reviewer.has_role(Role.ADMIN):
        stmt = stmt.join(RunFacilitator).where(RunFacilitator.user_id == reviewer.id)
    if course_slug:
        stmt = stmt.where(CourseRun.course_slug == course_slug)
    return list(db.session.scalars(stmt.limit(500)))


def history(enrolment: Enrolment, activity_key: str) -> list[tuple[Attempt, list[AttemptReview]]]:
    """Every version sent for one activity, oldest first, each with its reviews (two queries)."""
    attempts = list(
        db.session.scalars(
            select(Attempt)
            .where(Attempt.enrolment_id == enrolment.id, Attempt.activity_key == activity_key)
            .order_by(Attempt.number)
        )
    )
    reviews: dict[int, list[AttemptReview]] = {a.id: [] for a in attempts}
    if attempts:
        for review in db.session.scalars(
            select(AttemptReview)
            .where(AttemptReview.attempt_id.in_(list(reviews)))
            .options(selectinload(AttemptReview.reviewer))
            .order_by(AttemptReview.id)
        ):
            reviews[review.attempt_id].append(review)
    return [(attempt, reviews[attempt.id]) for attempt in attempts]


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


def outcomes_for(user: User, enrolments: list | None = None) -> list[dict]:
    """The trainee's reviewed work for their dashboard: latest decision and comments.

    Three queries whatever the number of courses: enrolments (none when the caller
    has them already), latest attempts, reviews. The attempts' answers are not read.
    """
    out = []
    catalogue = learning.catalogue()
    if enrolments is None:
        enrolments = learning.enrolments_for(user)
    types = _reviewed_types()
    if not enrolments or not types:
        return out
    newest = (
        select(
            Attempt.enrolment_id,
            Attempt.activity_key,
            func.max(Attempt.number).label("number"),
        )
        .where(
            Attempt.enrolment_id.in_([e.id for e in enrolments]),
            Attempt.activity_type.in_(types),
        )
        .group_by(Attempt.enrolment_id, Attempt.activity_key)
        .subquery()
    )
    latest = {
        (a.enrolment_id, a.activity_key): a
        for a in db.session.execute(
            select(Attempt.id, Attempt.enrolment_id, Attempt.activity_key, Attempt.number).join(
                newest,
                (newest.c.enrolment_id == Attempt.enrolment_id)
                & (newest.c.activity_key == Attempt.activity_key)
                & (newest.c.number == Attempt.number),
            )
        )
    }
    reviews: dict[int, AttemptReview] = {}
    if latest:
        for review in db.session.scalars(
            select(AttemptReview)
            .where(AttemptReview.attempt_id.in_([a.id for a in latest.values()]))
            .order_by(AttemptReview.id)
        ):
            reviews[review.attempt_id] = review
    for enrolment in enrolments:
        course = catalogue.get(enrolment.course_slug)
        if course is None:
            continue
        for activity in course.activities:
            if activity.type not in types:
                continue
            attempt = latest.get((enrolment.id, activity.key))
            if attempt is None:
                continue
            out.append(
                {
                    "course": course,
                    "activity": activity,
                    "version": attempt.number,
                    "review": reviews.get(attempt.id),
                }
            )
    return out

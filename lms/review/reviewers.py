"""Who reviews a course's written work when no run applies, and the work nobody can review.

Work reaches a facilitator in one of two ways:

1. **A run.** The trainee has a booked place on a run of the course, and the run has a
   facilitator (other than the trainee): that run's facilitators review it.
2. **The course.** Otherwise (online courses, trainees without a place) the course's
   reviewers do: the facilitators an administrator names for the course
   (:class:`~lms.review.models.CourseReviewer`, Administration > Course reviewers) and,
   when the course's ``review: {by: pool}`` says so, every facilitator.

Administrators can review anything, but they are not counted as reviewers: waiting work
that neither way reaches is *unassigned*, listed for administrators with links to name
reviewers (:func:`unassigned_page`, :func:`unassigned_count`).

Functions flush but never commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, exists, false, func, or_, select, true

from lms.accounts.models import Role, RoleAssignment, User
from lms.catalogue.content import Activity, Course
from lms.errors import ServiceError
from lms.extensions import db
from lms.i18n import _
from lms.learning import services as learning
from lms.learning.models import Enrolment
from lms.pagination import Page, paginate
from lms.review.models import CourseReviewer, ReviewItem
from lms.runs.models import CourseRun, PlaceStatus, RunFacilitator, RunPlace

POOL = "pool"


class ReviewerError(ServiceError):
    """A request that cannot be carried out; ``field`` names the input at fault."""


# --- SQL pieces the queue and the lists share ------------------------------------------------


def facilitated_trainees(course_slug: str) -> Select:
    """User ids of trainees whom a run brings to a facilitator for ``course_slug``: a
    booked place on a run of the course that has a facilitator other than themselves."""
    return (
        select(RunPlace.user_id)
        .join(CourseRun, RunPlace.run_id == CourseRun.id)
        .where(
            RunPlace.status == PlaceStatus.BOOKED,
            CourseRun.course_slug == course_slug,
            exists().where(
                RunFacilitator.run_id == CourseRun.id,
                RunFacilitator.user_id != RunPlace.user_id,
            ),
        )
    )


def _is_facilitator(user_id: Any) -> ColumnElement[bool]:
    """An active account holding the facilitator role (``user_id`` a column or value)."""
    return exists().where(
        RoleAssignment.user_id == user_id,
        RoleAssignment.role == Role.FACILITATOR.value,
        User.id == RoleAssignment.user_id,
        User.is_active_account.is_(True),
    )


def _run_reaches() -> ColumnElement[bool]:
    """For a ReviewItem row: a run brings the work to a facilitator."""
    place_run = select(RunPlace.user_id).join(CourseRun, RunPlace.run_id == CourseRun.id)
    return (
        place_run.where(
            RunPlace.user_id == ReviewItem.user_id,
            RunPlace.status == PlaceStatus.BOOKED,
            CourseRun.course_slug == ReviewItem.course_slug,
            exists().where(
                RunFacilitator.run_id == CourseRun.id,
                RunFacilitator.user_id != RunPlace.user_id,
            ),
        )
        .exists()
        .correlate(ReviewItem)
    )


def _course_reaches(pool_slugs: list[str]) -> ColumnElement[bool]:
    """For a ReviewItem row: a course reviewer (or, for pool courses, any facilitator)
    other than the trainee can review the work."""
    reviewer = (
        select(CourseReviewer.user_id)
        .where(
            CourseReviewer.course_slug == ReviewItem.course_slug,
            CourseReviewer.user_id != ReviewItem.user_id,
            _is_facilitator(CourseReviewer.user_id),
        )
        .exists()
        .correlate(ReviewItem)
    )
    if not pool_slugs:
        return reviewer
    anyone = (
        select(RoleAssignment.user_id)
        .join(User, User.id == RoleAssignment.user_id)
        .where(
            RoleAssignment.role == Role.FACILITATOR.value,
            User.is_active_account.is_(True),
            RoleAssignment.user_id != ReviewItem.user_id,
        )
        .exists()
        .correlate(ReviewItem)
    )
    return or_(reviewer, and_(ReviewItem.course_slug.in_(pool_slugs), anyone))


def _reviewed_scope(by_course: dict[str, list[Activity]]) -> ColumnElement[bool]:
    if not by_course:
        return false()
    return or_(
        *(
            and_(ReviewItem.course_slug == slug, ReviewItem.activity_key.in_([a.key for a in acts]))
            for slug, acts in by_course.items()
        )
    )


def reviews_course_clause(reviewer: User, course: Course) -> ColumnElement[bool] | None:
    """SQL truth of "``reviewer`` reviews ``course``'s work when no run applies" (no
    query of its own), or None when they cannot (not a facilitator)."""
    if not reviewer.has_role(Role.FACILITATOR):
        return None
    if course.review.by == POOL:
        return true() if reviewer.is_active_account else None
    return exists().where(
        CourseReviewer.course_slug == course.slug, CourseReviewer.user_id == reviewer.id
    )


@dataclass(frozen=True)
class ReviewedCourse:
    """A course whose work ``reviewer`` reviews when no run applies, and how many answers
    of it wait for them."""

    course: Course
    waiting: int


def courses_reviewed_by(
    reviewer: User, by_course: dict[str, list[Activity]]
) -> list[ReviewedCourse]:
    """The courses (of ``by_course``: slug -> reviewed activities) whose work ``reviewer``
    reviews as a course reviewer, named or in a pool, each with the answers waiting that
    reach them that way (the queue's course scope): two queries, whatever the courses."""
    if not reviewer.has_role(Role.FACILITATOR) or not reviewer.is_active_account:
        return []
    catalogue = learning.catalogue()
    named = set(
        db.session.scalars(
            select(CourseReviewer.course_slug).where(CourseReviewer.user_id == reviewer.id)
        )
    )
    courses = [
        course
        for slug in by_course
        if (course := catalogue.get(slug)) is not None
        and (course.review.by == POOL or slug in named)
    ]
    if not courses:
        return []
    waiting = dict(
        db.session.execute(
            select(ReviewItem.course_slug, func.count())
            .where(
                ReviewItem.is_waiting.is_(True),
                ReviewItem.user_id != reviewer.id,
                or_(
                    *(
                        and_(
                            ReviewItem.course_slug == course.slug,
                            ReviewItem.activity_key.in_([a.key for a in by_course[course.slug]]),
                            ReviewItem.user_id.not_in(facilitated_trainees(course.slug)),
                        )
                        for course in courses
                    )
                ),
            )
            .group_by(ReviewItem.course_slug)
        ).all()
    )
    return [ReviewedCourse(course, waiting.get(course.slug, 0)) for course in courses]


# --- Who reviews --------------------------------------------------------------------------------


def is_course_reviewer(reviewer: User, course: Course) -> bool:
    """Whether ``reviewer`` reviews ``course``'s work when no run applies (one query at most)."""
    if not reviewer.has_role(Role.FACILITATOR) or not reviewer.is_active_account:
        return False
    if course.review.by == POOL:
        return True
    return (
        db.session.scalar(
            select(CourseReviewer.user_id).where(
                CourseReviewer.course_slug == course.slug, CourseReviewer.user_id == reviewer.id
            )
        )
        is not None
    )


def run_applies(enrolment: Enrolment) -> bool:
    """Whether a run brings this enrolment's work to a facilitator."""
    return (
        db.session.scalar(
            facilitated_trainees(enrolment.course_slug)
            .where(RunPlace.user_id == enrolment.user_id)
            .limit(1)
        )
        is not None
    )


def reviewers_of(course_slug: str) -> list[User]:
    """The facilitators named for a course, by name (one query)."""
    return list(
        db.session.scalars(
            select(User)
            .join(CourseReviewer, CourseReviewer.user_id == User.id)
            .where(CourseReviewer.course_slug == course_slug)
            .order_by(User.name, User.id)
        )
    )


def facilitators() -> list[User]:
    """Every active facilitator, by name: whom an administrator can name as reviewer."""
    return list(
        db.session.scalars(
            select(User)
            .join(RoleAssignment, RoleAssignment.user_id == User.id)
            .where(RoleAssignment.role == Role.FACILITATOR.value, User.is_active_account.is_(True))
            .order_by(User.name, User.id)
        ).unique()
    )


def course_reviewers_for(enrolment: Enrolment) -> list[User]:
    """Whom to tell about this enrolment's waiting work when no run applies: the course's
    named reviewers (every facilitator for a pool course), never the trainee; empty when a
    run brings the work to a facilitator (they are told as the run's)."""
    course = learning.catalogue().get(enrolment.course_slug)
    if course is None or run_applies(enrolment):
        return []
    if course.review.by == POOL:
        people = facilitators()
    else:
        people = [
            u
            for u in reviewers_of(course.slug)
            if u.is_active_account and u.has_role(Role.FACILITATOR)
        ]
    return [u for u in people if u.id != enrolment.user_id]


def assign(course: Course, person: User, by: User | None = None) -> CourseReviewer:
    """Name ``person`` (a facilitator) as a reviewer of ``course``. Raises ReviewerError."""
    if not person.has_role(Role.FACILITATOR) or not person.is_active_account:
        raise ReviewerError(_("Only an active facilitator can review a course's work."), "user_id")
    existing = db.session.get(CourseReviewer, (course.slug, person.id))
    if existing is not None:
        raise ReviewerError(_("%(name)s already reviews this course.", name=person.name), "user_id")
    row = CourseReviewer(
        course_slug=course.slug, user_id=person.id, assigned_by_id=by.id if by else None
    )
    db.session.add(row)
    db.session.flush()
    return row


def unassign(course: Course, user_id: int) -> bool:
    """Stop ``user_id`` reviewing ``course``; True if they did."""
    done = db.session.execute(
        delete(CourseReviewer).where(
            CourseReviewer.course_slug == course.slug, CourseReviewer.user_id == user_id
        )
    )
    return bool(done.rowcount)


# --- Work nobody can review ---------------------------------------------------------------------


def _unassigned_where() -> ColumnElement[bool]:
    from lms.review.services import reviewed_activities

    catalogue = learning.catalogue()
    pool = [c.slug for c in catalogue if c.review.by == POOL]
    return and_(
        ReviewItem.is_waiting.is_(True),
        _reviewed_scope(reviewed_activities()),
        ~_run_reaches(),
        ~_course_reaches(pool),
    )


def unassigned_count() -> int:
    """How many pieces of waiting work no facilitator can review (one query)."""
    return db.session.scalar(select(func.count()).where(_unassigned_where())) or 0


@dataclass
class UnassignedItem:
    attempt_id: int
    trainee_name: str
    course: Course
    activity: Activity
    submitted_at: Any


def unassigned_page(page: Any = 1, per_page: Any = 50) -> Page[UnassignedItem]:
    """Waiting work no facilitator can review, oldest first, one page (two queries)."""
    stmt = (
        select(ReviewItem, User.name)
        .join(User, User.id == ReviewItem.user_id)
        .where(_unassigned_where())
        .order_by(ReviewItem.submitted_at, ReviewItem.attempt_id)
    )
    found = paginate(stmt, page, per_page, default_per_page=50, scalars=False)
    catalogue = learning.catalogue()
    items = []
    for item, name in found.items:
        course = catalogue.get(item.course_slug)
        activity = course.activity(item.activity_key) if course else None
        if activity is not None:
            items.append(UnassignedItem(item.attempt_id, name, course, activity, item.submitted_at))
    found.items = items
    return found


@dataclass
class Coverage:
    """One course with reviewed work: who reviews it when no run applies."""

    course: Course
    reviewers: list[User] = field(default_factory=list)
    unassigned: int = 0

    @property
    def is_pool(self) -> bool:
        return self.course.review.by == POOL


def coverage() -> list[Coverage]:
    """Every course with reviewed activities, its named reviewers and its unassigned
    waiting work (two queries)."""
    from lms.review.services import reviewed_activities

    reviewed = reviewed_activities()
    catalogue = learning.catalogue()
    out = {slug: Coverage(catalogue.get(slug)) for slug in reviewed}
    if not out:
        return []
    for row, person in db.session.execute(
        select(CourseReviewer, User)
        .join(User, User.id == CourseReviewer.user_id)
        .where(CourseReviewer.course_slug.in_(list(out)))
        .order_by(User.name, User.id)
    ):
        out[row.course_slug].reviewers.append(person)
    for slug, number in db.session.execute(
        select(ReviewItem.course_slug, func.count())
        .where(_unassigned_where())
        .group_by(ReviewItem.course_slug)
    ):
        if slug in out:
            out[slug].unassigned = number
    return sorted(out.values(), key=lambda c: c.course.title)

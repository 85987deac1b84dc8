"""Reviewing written work (case studies): queues per facilitator and recorded decisions.

A facilitator reviews the work of trainees with a place on a run they facilitate
(for that run's course), and, as a course reviewer (:mod:`lms.review.reviewers`), the
course's work from trainees whom no facilitated run brings to anyone; administrators
review anyone's. Every review is kept.

A course whose ``completion`` says ``review: must_pass`` is complete only once each
required reviewed activity's latest version meets the standard (:func:`review_standing`,
a rule of :data:`lms.learning.services.completion_rules`); when the model guidance
shows is :func:`guidance_visible`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app, has_request_context, request
from sqlalchemy import (
    Select,
    and_,
    bindparam,
    case,
    delete,
    false,
    func,
    insert,
    literal_column,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.orm import aliased, contains_eager, defer, selectinload

from lms import signals
from lms.accounts.models import Role, User
from lms.catalogue.content import Activity, Course
from lms.db import escape_like
from lms.errors import ServiceError
from lms.extensions import db
from lms.i18n import _
from lms.learning import services as learning
from lms.learning.models import Attempt, AttemptReview, Enrolment
from lms.pagination import (
    MAX_PER_PAGE,
    Page,
    choice_arg,
    clamp_int,
    count,
    request_args,
    search_arg,
)
from lms.plugins import ReviewRejected
from lms.review import reviewers as course_reviewers
from lms.review.models import ReviewItem
from lms.review.rules import guidance_visible  # noqa: F401 - part of this module's interface
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
    #: Words of a run's title, to find runs for the run filter (not a filter of the queue).
    run_q: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> QueueFilters:
        """Filters from a query string. Unknown values are ignored, never errors."""
        run = (args.get("run") or "").strip()
        return cls(
            show="all" if args.get("show") == "all" else "waiting",
            course=choice_arg(args, "course"),
            run=run if run.isdigit() else "",
            q=search_arg(args),
            run_q=search_arg(args, "run_q"),
        )

    @property
    def include_done(self) -> bool:
        return self.show == "all"


def reviewed_types() -> set[str]:
    """The names of activity types whose attempts a facilitator reviews."""
    registry = learning.registry()
    return {name for name in registry.names() if registry[name].is_reviewed}


def reviewed_activities() -> dict[str, list[Activity]]:
    """course slug -> the activities of reviewed types in the current content."""
    types = reviewed_types()
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
    """Administrators; a facilitator of a run on which the trainee has a place; or, when
    no run with a facilitator applies, a reviewer of the course (see lms.review.reviewers)."""
    if reviewer.has_role(Role.ADMIN):
        return True
    if not reviewer.has_role(Role.FACILITATOR) or reviewer.id == enrolment.user_id:
        return False
    found = trainee_runs(enrolment.user, enrolment.course_slug)
    if any(reviewer.id in run.facilitator_ids() for run in found):
        return True
    if any(set(run.facilitator_ids()) - {enrolment.user_id} for run in found):
        return False  # the run's facilitators review it
    course = learning.catalogue().get(enrolment.course_slug)
    return course is not None and course_reviewers.is_course_reviewer(reviewer, course)


def _track_submission(sender: Any, enrolment: Enrolment, activity: Activity, attempt, **_: Any):
    """A new version of reviewed work waits for review; the versions before it no longer do."""
    if attempt is None or activity.type not in reviewed_types():
        return
    db.session.execute(
        update(ReviewItem)
        .where(
            ReviewItem.enrolment_id == enrolment.id,
            ReviewItem.activity_key == activity.key,
            ReviewItem.attempt_id != attempt.id,
            ReviewItem.is_waiting.is_(True),
        )
        .values(is_waiting=False)
    )
    db.session.execute(
        insert(ReviewItem).values(
            attempt_id=attempt.id,
            enrolment_id=enrolment.id,
            user_id=enrolment.user_id,
            course_slug=enrolment.course_slug,
            activity_key=activity.key,
            submitted_at=attempt.submitted_at,
            is_waiting=True,
        )
    )


signals.submission_recorded.connect(_track_submission)


def refresh_items(enrolment_ids: list[int] | None = None) -> None:
    """Make the queue's rows again from the attempts and reviews (of some enrolments, or all):
    for sites filled without the services (the demo generator) and repairs."""
    types = sorted(reviewed_types())
    chunks = (
        [None]
        if enrolment_ids is None
        else [enrolment_ids[i : i + 500] for i in range(0, len(enrolment_ids), 500)]
    )
    for chunk in chunks:
        removed = delete(ReviewItem)
        if chunk is not None:
            removed = removed.where(ReviewItem.enrolment_id.in_(chunk))
        db.session.execute(removed)
        if not types:
            continue
        waiting = and_(
            _is_latest_version(),
            ~select(AttemptReview.id).where(AttemptReview.attempt_id == Attempt.id).exists(),
        )
        rows = (
            select(
                Attempt.id,
                Attempt.enrolment_id,
                Enrolment.user_id,
                Enrolment.course_slug,
                Attempt.activity_key,
                Attempt.submitted_at,
                case((waiting, True), else_=False),
            )
            .join(Enrolment, Enrolment.id == Attempt.enrolment_id)
            .where(Attempt.activity_type.in_(types))
        )
        if chunk is not None:
            rows = rows.where(Attempt.enrolment_id.in_(chunk))
        db.session.execute(
            insert(ReviewItem).from_select(
                [
                    "attempt_id",
                    "enrolment_id",
                    "user_id",
                    "course_slug",
                    "activity_key",
                    "submitted_at",
                    "is_waiting",
                ],
                rows,
            )
        )


def _queue_keys(reviewer: User, filters: QueueFilters) -> Select:
    """The queue's rows as attempt ids in queue order, from the kept ReviewItem rows alone.

    Waiting work is found through ``ix_review_item_queue`` (trainee, course, waiting,
    sent) for each trainee the reviewer has on a run, so neither the count nor page
    one reads anyone's attempts. For a course the reviewer reviews (named for it, or a
    pool course), the work of trainees whom no facilitated run reaches is in scope too;
    that test is in the same statement, so the queue stays two queries.
    """
    by_course = reviewed_activities()
    if filters.course:
        by_course = {k: v for k, v in by_course.items() if k == filters.course}
    if not by_course:
        return select(ReviewItem.attempt_id).where(false())
    is_admin = reviewer.has_role(Role.ADMIN)
    scoped = not is_admin or bool(filters.run)

    def trainees(slug: str) -> Select:
        # The trainees that bring the course's work to this reviewer: a booked place on a
        # run of the course (one the reviewer facilitates, unless an administrator). An
        # IN (not a join on a DISTINCT list) lets the database probe the queue index per
        # trainee it finds, without de-duplicating the places first.
        found = (
            select(RunPlace.user_id)
            .join(CourseRun, RunPlace.run_id == CourseRun.id)
            .where(RunPlace.status == PlaceStatus.BOOKED, CourseRun.course_slug == slug)
        )
        if not is_admin:
            found = found.join(RunFacilitator, RunFacilitator.run_id == CourseRun.id).where(
                RunFacilitator.user_id == reviewer.id
            )
        if filters.run:
            found = found.where(CourseRun.id == int(filters.run))
        return found

    catalogue = learning.catalogue()
    waiting_only = not filters.include_done

    def narrowed(stmt: Select) -> Select:
        # What applies to every part: not the reviewer's own work, the name search, and
        # (for the default queue) waiting work only, so that each part reads only that.
        if not is_admin:
            stmt = stmt.where(ReviewItem.user_id != reviewer.id)
        if filters.q:
            like = f"%{escape_like(filters.q.lower())}%"
            stmt = stmt.join(User, User.id == ReviewItem.user_id).where(
                func.lower(User.name).like(like, escape="\\")
            )
        if waiting_only:
            stmt = stmt.where(ReviewItem.is_waiting.is_(True))
        return stmt

    columns = (ReviewItem.attempt_id, ReviewItem.is_waiting, ReviewItem.submitted_at)
    if not scoped:
        # An administrator's whole queue: every course's reviewed work.
        stmt = narrowed(
            select(*columns).where(
                or_(
                    *(
                        and_(
                            ReviewItem.course_slug == slug,
                            ReviewItem.activity_key.in_([a.key for a in acts]),
                        )
                        for slug, acts in by_course.items()
                    )
                )
            )
        )
        scope = stmt.subquery("queue_scope")
    else:
        # Whose work on each course this reviewer sees, as parts that do not overlap:
        # trainees on their runs (probing ix_review_item_queue per trainee), and, as a
        # course reviewer (never with a run filter), those no facilitated run reaches
        # (a range of ix_review_item_course). Trainees on the reviewer's runs are among
        # the facilitated ones (the reviewer is a facilitator other than them), so the
        # parts are disjoint and UNION ALL lists each row once. As one OR, the database
        # read every row of review_item.
        parts = []
        for slug, acts in by_course.items():
            work = select(*columns).where(
                ReviewItem.course_slug == slug,
                ReviewItem.activity_key.in_([a.key for a in acts]),
            )
            parts.append(narrowed(work.where(ReviewItem.user_id.in_(trainees(slug)))))
            course = catalogue.get(slug)
            reviews = (
                None
                if is_admin or filters.run or course is None
                else course_reviewers.reviews_course_clause(reviewer, course)
            )
            if reviews is not None:
                # The reviewer test as a derived table of one row or none, joined first:
                # when it is false the course's rows are not read at all (as a WHERE
                # term it was tested on each of them).
                allowed = select(literal_column("1").label("one")).where(reviews)
                allowed = allowed.subquery(f"reviewer_allowed_{len(parts)}")
                parts.append(
                    narrowed(
                        select(*columns)
                        .select_from(allowed)
                        .join(ReviewItem, true())
                        .where(
                            ReviewItem.course_slug == slug,
                            ReviewItem.activity_key.in_([a.key for a in acts]),
                            ReviewItem.user_id.not_in(course_reviewers.facilitated_trainees(slug)),
                        )
                    )
                )
        scope = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("queue_scope")
    stmt = select(scope.c.attempt_id)
    if filters.include_done:
        # Waiting ones first (oldest first), then the rest by when they were sent.
        return stmt.order_by(
            case((scope.c.is_waiting, 0), else_=1),
            scope.c.submitted_at,
            scope.c.attempt_id,
        )
    return stmt.order_by(scope.c.submitted_at, scope.c.attempt_id)


# Made once: building an alias's columns anew on every request cost about 4 ms a page.
_NEWER_ATTEMPT = aliased(Attempt, name="newer_attempt")
_NEWER_REVIEW = aliased(AttemptReview, name="newer_review")
_PLACE_RUN = aliased(CourseRun, name="place_run")


def _is_latest_version():
    """SQL truth of "this ``Attempt`` is the latest version of its activity for its
    enrolment" (no later attempt exists)."""
    return ~(
        select(_NEWER_ATTEMPT.id)
        .where(
            _NEWER_ATTEMPT.enrolment_id == Attempt.enrolment_id,
            _NEWER_ATTEMPT.activity_key == Attempt.activity_key,
            _NEWER_ATTEMPT.number > Attempt.number,
        )
        .exists()
    )


def _queue_rows(reviewer: User, filters: QueueFilters, attempt_ids: list[int]) -> list:
    """For one page of attempt ids: each attempt with its enrolment, trainee, run, latest
    review and whether it is the latest version, in one query."""
    newer_review, place_run = _NEWER_REVIEW, _PLACE_RUN
    is_latest = _is_latest_version().label("is_latest")
    latest_review_on = and_(
        AttemptReview.attempt_id == Attempt.id,
        ~select(newer_review.id)
        .where(newer_review.attempt_id == Attempt.id, newer_review.id > AttemptReview.id)
        .exists(),
    )
    # The run that brings the trainee to this reviewer (the first, if several).
    run_id = (
        select(func.min(RunPlace.run_id))
        .select_from(RunPlace)
        .join(place_run, RunPlace.run_id == place_run.id)
        .where(
            RunPlace.user_id == Enrolment.user_id,
            RunPlace.status == PlaceStatus.BOOKED,
            place_run.course_slug == Enrolment.course_slug,
        )
    )
    if not reviewer.has_role(Role.ADMIN):
        run_id = run_id.join(RunFacilitator, RunFacilitator.run_id == place_run.id).where(
            RunFacilitator.user_id == reviewer.id
        )
    if filters.run:
        run_id = run_id.where(place_run.id == int(filters.run))
    stmt = (
        select(Attempt, Enrolment, User, CourseRun, AttemptReview, is_latest)
        .join(Enrolment, Attempt.enrolment_id == Enrolment.id)
        .join(User, Enrolment.user_id == User.id)
        .outerjoin(AttemptReview, latest_review_on)
        .outerjoin(CourseRun, CourseRun.id == run_id.scalar_subquery())
        .where(Attempt.id.in_(attempt_ids))
        # The trainee is in the row: keep them on the enrolment, or the page would load
        # each one again (the row's User is dropped once the page is built).
        .options(
            contains_eager(Enrolment.user),
            # The queue shows neither the answer nor the review's words: not read (nor
            # their JSON decoded) for each row; reading them would raise, not query.
            defer(Attempt.data, raiseload=True),
            defer(AttemptReview.criteria, raiseload=True),
            defer(AttemptReview.comments, raiseload=True),
        )
    )
    order = {attempt_id: i for i, attempt_id in enumerate(attempt_ids)}
    return sorted(db.session.execute(stmt).all(), key=lambda row: order[row[0].id])


def queue(
    reviewer: User,
    filters: QueueFilters | None = None,
    page: Any = 1,
    per_page: Any = None,
) -> Page[QueueItem]:
    """One page of the attempts the reviewer may review, in two queries (the page's
    attempt ids with the count, then their details).

    By default only those waiting for a decision (latest version, not yet reviewed),
    oldest first; with ``show="all"`` every version, waiting ones first.
    """
    filters = filters or QueueFilters()
    keys = _queue_keys(reviewer, filters)
    per_page = clamp_int(per_page, QUEUE_PAGE_SIZE, 1, MAX_PER_PAGE)
    number = clamp_int(page, 1, 1)
    # The page and the count in one pass over the reviewer's scope (the window count is
    # of every row, before LIMIT); a page past the end falls back to a COUNT and the
    # last page, as paginate does.
    found = db.session.execute(
        keys.add_columns(func.count().over()).limit(per_page).offset((number - 1) * per_page)
    ).all()
    if found:
        total = found[0][1]
    else:
        total = count(keys)
        number = clamp_int(number, 1, 1, max(1, -(-total // per_page)))
        if total:
            found = db.session.execute(
                keys.add_columns(func.count().over())
                .limit(per_page)
                .offset((number - 1) * per_page)
            ).all()
    result = Page(
        items=[],
        page=number,
        per_page=per_page,
        total=total,
        endpoint=request.endpoint if has_request_context() else None,
        view_args=dict(request.view_args or {}) if has_request_context() else {},
        args=request_args(),
        default_per_page=QUEUE_PAGE_SIZE,
    )
    ids = [row[0] for row in found]
    rows = _queue_rows(reviewer, filters, ids) if ids else []
    catalogue = learning.catalogue()
    items = []
    for attempt, enrolment, _user, run, review, is_latest in rows:
        course = catalogue.get(enrolment.course_slug)
        activity = course.activity(attempt.activity_key) if course else None
        if activity is None:  # content changed under the page; the next load is right
            continue
        items.append(QueueItem(attempt, enrolment, course, activity, run, bool(is_latest), review))
    result.items = items
    return result


#: Runs listed in the queue's run filter at most; beyond that the filter offers a search.
RUN_CHOICES = 30


def queue_runs(
    reviewer: User, course_slug: str = "", search: str = "", selected: str = ""
) -> tuple[list, bool]:
    """Runs to offer in the queue's run filter, as rows with ``id`` and ``title`` only,
    by title: the reviewer's (any, for administrators), of the course if one is chosen,
    whose title contains ``search`` if given, at most :data:`RUN_CHOICES` of them, the
    ``selected`` run always among them. The flag says whether more runs match (then the
    page offers the search instead of a list of hundreds of runs)."""
    stmt = select(CourseRun.id, CourseRun.title)
    if not reviewer.has_role(Role.ADMIN):
        stmt = stmt.join(RunFacilitator).where(RunFacilitator.user_id == reviewer.id)
    if course_slug:
        stmt = stmt.where(CourseRun.course_slug == course_slug)
    chosen = int(selected) if selected.isdigit() else None
    first = [CourseRun.title, CourseRun.id]
    if search:
        like = func.lower(CourseRun.title).like(f"%{escape_like(search.lower())}%", escape="\\")
        stmt = stmt.where(like if chosen is None else or_(like, CourseRun.id == chosen))
    if chosen is not None:
        first.insert(0, case((CourseRun.id == chosen, 0), else_=1))
    rows = list(db.session.execute(stmt.order_by(*first).limit(RUN_CHOICES + 1)))
    more = len(rows) > RUN_CHOICES
    rows = rows[:RUN_CHOICES]
    if chosen is not None:
        rows.sort(key=lambda row: (row.title, row.id))
    return rows, more


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
    # The activity type judges what was posted: the decision, its own marks, comments.
    activity_type = learning.registry()[activity.type]
    try:
        judgement = activity_type.judge(
            activity.config, {"decision": decision, "criteria": criteria, "comments": comments}
        )
    except ReviewRejected as exc:
        raise ReviewError(exc.message, exc.field) from None
    decision = judgement.decision
    review = AttemptReview(
        attempt_id=attempt.id,
        reviewer_id=reviewer.id,
        decision=decision,
        criteria=judgement.criteria,
        comments=judgement.comments,
    )
    db.session.add(review)
    db.session.flush()
    db.session.execute(
        update(ReviewItem).where(ReviewItem.attempt_id == attempt.id).values(is_waiting=False)
    )
    learning.apply_review_state(enrolment, activity, activity_type.review_state(decision))
    # A course that waits for reviewed work to meet the standard may be complete now.
    learning.check_completion(enrolment, course)
    log.info("Attempt %s reviewed: %s", attempt.id, decision)
    signals.review_recorded.send(
        current_app._get_current_object(), review=review, enrolment=enrolment, activity=activity
    )
    return review


# The dashboard's statements, built once (building them cost more than running them):
# the latest attempt of each reviewed activity of some enrolments, and those attempts'
# reviews. The lists are expanding bind parameters.
_NEWEST_NUMBERS = (
    select(
        Attempt.enrolment_id,
        Attempt.activity_key,
        func.max(Attempt.number).label("number"),
    )
    .where(
        Attempt.enrolment_id.in_(bindparam("enrolment_ids", expanding=True)),
        Attempt.activity_type.in_(bindparam("types", expanding=True)),
    )
    .group_by(Attempt.enrolment_id, Attempt.activity_key)
    .subquery()
)
_LATEST_REVIEWED_ATTEMPTS = select(
    Attempt.id, Attempt.enrolment_id, Attempt.activity_key, Attempt.number
).join(
    _NEWEST_NUMBERS,
    (_NEWEST_NUMBERS.c.enrolment_id == Attempt.enrolment_id)
    & (_NEWEST_NUMBERS.c.activity_key == Attempt.activity_key)
    & (_NEWEST_NUMBERS.c.number == Attempt.number),
)
_REVIEWS_OF_ATTEMPTS = (
    select(AttemptReview)
    .where(AttemptReview.attempt_id.in_(bindparam("attempt_ids", expanding=True)))
    .order_by(AttemptReview.id)
)


def outcomes_for(user: User, enrolments: list | None = None) -> list[dict]:
    """The trainee's reviewed work for their dashboard: latest decision and comments.

    Three queries whatever the number of courses: enrolments (none when the caller
    has them already), latest attempts, reviews. The attempts' answers are not read.
    """
    out = []
    catalogue = learning.catalogue()
    if enrolments is None:
        enrolments = learning.enrolments_for(user)
    types = reviewed_types()
    if not enrolments or not types:
        return out
    latest = {
        (a.enrolment_id, a.activity_key): a
        for a in db.session.execute(
            _LATEST_REVIEWED_ATTEMPTS,
            {"enrolment_ids": [e.id for e in enrolments], "types": sorted(types)},
        )
    }
    reviews: dict[int, AttemptReview] = {}
    if latest:
        for review in db.session.scalars(
            _REVIEWS_OF_ATTEMPTS, {"attempt_ids": [a.id for a in latest.values()]}
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


# --- Completion: reviewed work that must meet the standard ----------------------------------


@dataclass(frozen=True)
class ReviewStanding:
    """Of a course's required reviewed activities (``keys``), which ones' latest
    version has a latest review meeting the standard (``passed``)."""

    keys: tuple[str, ...]
    passed: frozenset[str]

    @property
    def done(self) -> int:
        return len(self.passed)

    @property
    def total(self) -> int:
        return len(self.keys)

    @property
    def is_met(self) -> bool:
        return self.done == self.total


def must_pass_review(course: Course) -> bool:
    """Whether the course's completion waits for reviewed work to meet the standard."""
    return course.completion.review == "must_pass"


def required_reviewed(course: Course) -> list[Activity]:
    types = reviewed_types()
    return [a for a in course.activities if a.key in course.required_keys and a.type in types]


def review_standing(enrolment: Enrolment | None, course: Course) -> ReviewStanding:
    """Which required reviewed activities of ``course`` meet the standard for ``enrolment``:
    one query (none without an enrolment or reviewed activities)."""
    keys = tuple(a.key for a in required_reviewed(course))
    if enrolment is None or not keys:
        return ReviewStanding(keys, frozenset())
    latest_decision = (
        select(AttemptReview.decision)
        .where(AttemptReview.attempt_id == Attempt.id)
        .order_by(AttemptReview.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(Attempt.activity_key, latest_decision).where(
            Attempt.enrolment_id == enrolment.id,
            Attempt.activity_key.in_(keys),
            _is_latest_version(),
        )
    )
    passed = frozenset(key for key, decision in rows if decision == DECISIONS[0])
    return ReviewStanding(keys, passed)


def _review_rule(enrolment: Enrolment, course: Course) -> bool:
    """A rule of lms.learning.services.completion_rules."""
    return not must_pass_review(course) or review_standing(enrolment, course).is_met


if _review_rule not in learning.completion_rules:
    learning.completion_rules.append(_review_rule)

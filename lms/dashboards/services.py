"""The facts each panel of the dashboard shows, each read in a constant number of queries.

The trainee's part works on what the dashboard has read already (enrolments, their
complete activities, latest reviewed work) plus the person's places with their runs:
a handful of queries whatever the number of courses or runs. Staff panels read one
aggregate query per fact (counts grouped by run, a count with the first rows through
a window function), never a query per run or per person, so they cost the same on a
site of thirty trainees and on one of thirty thousand.

Everything here reads; nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import and_, bindparam, case, func, or_, select
from sqlalchemy.orm import aliased, joinedload, selectinload

from lms.accounts.models import Region, Role, User
from lms.accreditation.models import (
    Accreditation,
    AccreditationStatus,
    Certificate,
    CertificateStatus,
)
from lms.catalogue.content import Activity, Catalogue, Course, Module
from lms.db import QuickRead, utcnow
from lms.extensions import db
from lms.jobs import services as jobs
from lms.jobs.models import JobStatus
from lms.learning.models import Enrolment
from lms.review import services as review
from lms.review.models import ReviewItem
from lms.runs import services as runs
from lms.runs.models import CourseRun, PlaceStatus, RunDay, RunFacilitator, RunPlace

#: A valid certificate lapsing within this many days is "expiring soon".
EXPIRING_DAYS = 60
#: Runs shown on a facilitator's panel (the rest are on their runs page).
RUNS_SHOWN = 6
#: A national officer sees certificates lapsing within this many days.
LAPSING_DAYS = 90
LAPSING_SHOWN = 3
DECISIONS_SHOWN = 5
#: A run is filling up from this share of its places booked (or with a waiting list).
FILLING_PERCENT = 80
FILLING_SHOWN = 6
#: Modules whose review date has passed or falls within this many days.
CONTENT_REVIEW_DAYS = 60


def today() -> date:
    """Today's date (one place, so tests can move it)."""
    return date.today()


# --- The trainee's part ---------------------------------------------------------------------


#: Built once: a statement with loader options costs about as much to build as to run,
#: and every dashboard view asks.
_PLACES_OF = (
    select(RunPlace)
    .where(RunPlace.user_id == bindparam("user_id"), RunPlace.status != PlaceStatus.CANCELLED)
    .options(joinedload(RunPlace.run).selectinload(CourseRun.days))
    .order_by(RunPlace.id)
)


#: Whether the person has any place that ``_PLACES_OF`` would load: most trainees have
#: none, and a plain lookup of an id (the first row only) costs a fraction of the ORM
#: query with its loaders.
_HAS_PLACE = QuickRead(
    select(RunPlace.__table__.c.id).where(
        RunPlace.__table__.c.user_id == bindparam("user_id"),
        RunPlace.__table__.c.status != bindparam("cancelled"),
    )
)


def places_of(user: User) -> list[RunPlace]:
    """The person's booked and waiting places, each with its run and the run's days
    loaded (two queries, however many places; none when a lookup of one id finds none)."""
    if _HAS_PLACE.first(user_id=user.id, cancelled=str(PlaceStatus.CANCELLED)) is None:
        return []
    return list(db.session.scalars(_PLACES_OF, {"user_id": user.id}))


def waiting_positions(places: Iterable[RunPlace]) -> dict[int, int]:
    """place id -> its number on its run's waiting list, for the waiting places among
    ``places``, in one query (the places' own ``waiting_position`` loads every place of
    the run). The order is the waiting list's: waiting since, then id."""
    ids = [p.id for p in places if p.status == PlaceStatus.WAITING]
    if not ids:
        return {}
    other = aliased(RunPlace, name="ahead")
    mine_since = func.coalesce(RunPlace.waiting_since, RunPlace.created_at)
    other_since = func.coalesce(other.waiting_since, other.created_at)
    ahead = and_(
        other.run_id == RunPlace.run_id,
        other.status == PlaceStatus.WAITING,
        or_(other_since < mine_since, and_(other_since == mine_since, other.id < RunPlace.id)),
    )
    rows = db.session.execute(
        select(RunPlace.id, func.count(other.id))
        .outerjoin(other, ahead)
        .where(RunPlace.id.in_(ids))
        .group_by(RunPlace.id)
    )
    return {place_id: number + 1 for place_id, number in rows}


@dataclass(frozen=True)
class DueItem:
    activity: Activity
    #: "todo" (not done), "needs_work" (reviewed, to revise) or "sent" (waiting for review).
    state: str


@dataclass
class DueBefore:
    """What a trainee still has to do online before the next day of a run they are booked on."""

    place: RunPlace
    run: CourseRun
    course: Course
    day: date
    enrolment: Enrolment | None
    items: list[DueItem] = field(default_factory=list)

    @property
    def to_do(self) -> list[DueItem]:
        return [i for i in self.items if i.state != "sent"]

    @property
    def waiting_review(self) -> list[DueItem]:
        return [i for i in self.items if i.state == "sent"]

    @property
    def is_all_done(self) -> bool:
        return not self.to_do


def is_after_course_days(activity: Activity) -> bool:
    """Whether an activity is answered on or after the course days (feedback on a day, on
    the whole course), so never "due before" them: its type says so (lms.plugins)."""
    activity_type = current_app.extensions["lms.activity_types"].get(activity.type)
    return activity_type is not None and activity_type.after_course_days


def due_before_course_days(
    places: Iterable[RunPlace],
    enrolments: Iterable[Enrolment],
    done: dict[int, set[str]],
    outcomes: Iterable[dict],
    catalogue: Catalogue,
    on: date | None = None,
) -> list[DueBefore]:
    """For each booked place on a run (not cancelled) with a day still to come: the
    course's required online activities not yet complete (forms about the days left
    out), soonest day first. Written work sent and waiting for review is listed apart:
    the trainee has done their part. No queries: it works on what the dashboard has read."""
    on = on or today()
    by_course = {e.course_slug: e for e in enrolments}
    reviewed = {(o["course"].slug, o["activity"].key): o for o in outcomes}
    out = []
    for place in places:
        if place.status != PlaceStatus.BOOKED:
            continue
        run = place.run
        if run.is_cancelled:
            continue
        day = next((d.day_date for d in run.days if d.day_date >= on), None)
        course = catalogue.get(run.course_slug)
        if day is None or course is None:
            continue
        enrolment = by_course.get(course.slug)
        entry = DueBefore(place, run, course, day, enrolment)
        out.append(entry)
        if enrolment is not None and enrolment.is_complete:
            continue
        done_keys = done.get(enrolment.id, set()) if enrolment is not None else set()
        for activity in course.activities:
            if (
                activity.key not in course.required_keys
                or is_after_course_days(activity)
                or activity.key in done_keys
            ):
                continue
            outcome = reviewed.get((course.slug, activity.key))
            if outcome is None:
                state = "todo"
            elif outcome["review"] is not None and outcome["review"].decision != "accepted":
                state = "needs_work"
            else:
                state = "sent"
            entry.items.append(DueItem(activity, state))
    out.sort(key=lambda e: (e.day, e.run.id))
    return out


def case_studies(outcomes: Iterable[dict], enrolments: Iterable[Enrolment]) -> list[dict]:
    """The trainee's reviewed work (:func:`lms.review.services.outcomes_for`), each marked
    ``is_new`` when its review came back after the trainee was last in that course (the
    enrolment's last visit to one of its pages), new ones first."""
    by_course = {e.course_slug: e for e in enrolments}
    items = []
    for outcome in outcomes:
        found = outcome["review"]
        enrolment = by_course.get(outcome["course"].slug)
        seen = enrolment.last_visited_at if enrolment is not None else None
        is_new = found is not None and (seen is None or found.created_at > seen)
        items.append({**outcome, "is_new": is_new})
    items.sort(key=lambda o: not o["is_new"])
    return items


def certificate_state(certificate: Certificate, now: datetime) -> str:
    """The certificate's state on the dashboard: "valid", "expiring" (valid, lapsing
    within :data:`EXPIRING_DAYS`), "expired" or "revoked"."""
    status = certificate.status_at(now)
    if (
        status == CertificateStatus.VALID
        and certificate.expires_at is not None
        and certificate.expires_at - now < timedelta(days=EXPIRING_DAYS)
    ):
        return "expiring"
    return status.value


# --- Runs (facilitators) --------------------------------------------------------------------


def _first_day():
    return (
        select(func.min(RunDay.day_date))
        .where(RunDay.run_id == CourseRun.id)
        .correlate(CourseRun)
        .scalar_subquery()
    )


def _last_day():
    return (
        select(func.max(RunDay.day_date))
        .where(RunDay.run_id == CourseRun.id)
        .correlate(CourseRun)
        .scalar_subquery()
    )


@dataclass
class RunFacts:
    run: CourseRun
    course: Course | None
    booked: int = 0
    waiting: int = 0
    #: Booked trainees whose online part of the course is complete.
    finished_online: int = 0
    #: Written work waiting for this facilitator's review (what the queue shows for the run).
    to_review: int = 0


@dataclass
class FacilitatorPanel:
    runs: list[RunFacts]
    #: Upcoming and current runs in all (more than ``runs`` when there are many).
    total: int
    #: Courses whose work the person reviews when no run applies, with answers waiting.
    reviewed_courses: list = field(default_factory=list)


def facilitator_panel(user: User, catalogue: Catalogue, on: date | None = None) -> FacilitatorPanel:
    """The upcoming and current runs ``user`` facilitates (not finished before ``on``, not
    cancelled),
    soonest first, the first :data:`RUNS_SHOWN`, each with its counts, and the courses they
    review when no run applies: seven queries (runs with their total, days, places,
    finished, work to review; courses named for them, their waiting work)."""
    on = on or today()
    first, last = _first_day(), _last_day()
    rows = db.session.execute(
        select(CourseRun, func.count().over())
        .join(RunFacilitator, RunFacilitator.run_id == CourseRun.id)
        .where(
            RunFacilitator.user_id == user.id,
            CourseRun.cancelled_at.is_(None),
            or_(last.is_(None), last >= on),
        )
        .options(selectinload(CourseRun.days))
        .order_by(case((first.is_(None), 1), else_=0), first, CourseRun.id)
        .limit(RUNS_SHOWN)
    ).all()
    from lms.review import reviewers

    reviewed_courses = reviewers.courses_reviewed_by(user, review.reviewed_activities())
    if not rows:
        return FacilitatorPanel([], 0, reviewed_courses)
    facts = {run.id: RunFacts(run, catalogue.get(run.course_slug)) for run, _total in rows}
    ids = list(facts)
    for run_id, counts in runs.place_counts(ids).items():
        facts[run_id].booked, facts[run_id].waiting = counts.booked, counts.waiting
    finished = db.session.execute(
        select(RunPlace.run_id, func.count())
        .join(CourseRun, CourseRun.id == RunPlace.run_id)
        .join(
            Enrolment,
            and_(
                Enrolment.user_id == RunPlace.user_id,
                Enrolment.course_slug == CourseRun.course_slug,
            ),
        )
        .where(
            RunPlace.run_id.in_(ids),
            RunPlace.status == PlaceStatus.BOOKED,
            Enrolment.completed_at.is_not(None),
        )
        .group_by(RunPlace.run_id)
    )
    for run_id, number in finished:
        facts[run_id].finished_online = number
    reviewed = review.reviewed_activities()
    if reviewed:
        # The queue's own scope for a run: the latest work, unreviewed, of the reviewed
        # activities in the current content, from trainees booked on the run (not the
        # facilitator's own).
        of_reviewed = or_(
            *(
                and_(
                    ReviewItem.course_slug == slug,
                    ReviewItem.activity_key.in_([a.key for a in acts]),
                )
                for slug, acts in reviewed.items()
            )
        )
        waiting = db.session.execute(
            select(RunPlace.run_id, func.count())
            .join(CourseRun, CourseRun.id == RunPlace.run_id)
            .join(
                ReviewItem,
                and_(
                    ReviewItem.user_id == RunPlace.user_id,
                    ReviewItem.course_slug == CourseRun.course_slug,
                ),
            )
            .where(
                RunPlace.run_id.in_(ids),
                RunPlace.status == PlaceStatus.BOOKED,
                ReviewItem.is_waiting.is_(True),
                ReviewItem.user_id != user.id,
                of_reviewed,
            )
            .group_by(RunPlace.run_id)
        )
        for run_id, number in waiting:
            facts[run_id].to_review = number
    return FacilitatorPanel(list(facts.values()), rows[0][1], reviewed_courses)


# --- A region (national officers) -----------------------------------------------------------


@dataclass(frozen=True)
class Lapsing:
    certificate_id: int
    holder_name: str
    accreditation_title: str
    expires_at: datetime


@dataclass(frozen=True)
class Decision:
    accreditation_id: int
    status: str
    decided_at: datetime
    course_slug: str
    trainee_name: str
    decided_by_name: str | None


@dataclass
class OfficerPanel:
    regions: list[Region]
    awaiting: int = 0
    oldest_requested_at: datetime | None = None
    lapsing_total: int = 0
    lapsing: list[Lapsing] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    lapsing_days: int = LAPSING_DAYS


def officer_panel(user: User, now: datetime | None = None) -> OfficerPanel:
    """The requests waiting in the officer's regions (how many, the oldest), certificates
    lapsing there within :data:`LAPSING_DAYS` (how many, the soonest few) and the latest
    decisions: three queries."""
    now = now or utcnow()
    regions = sorted(user.officer_regions(), key=lambda r: r.name)
    panel = OfficerPanel(regions)
    region_ids = [r.id for r in regions]
    if not region_ids:
        return panel
    panel.awaiting, panel.oldest_requested_at = db.session.execute(
        select(func.count(Accreditation.id), func.min(Accreditation.requested_at)).where(
            Accreditation.status == AccreditationStatus.PENDING,
            Accreditation.region_id.in_(region_ids),
        )
    ).one()
    lapsing = db.session.execute(
        select(
            Certificate.id,
            Certificate.holder_name,
            Certificate.accreditation_title,
            Certificate.expires_at,
            func.count().over(),
        )
        .join(Accreditation, Accreditation.id == Certificate.accreditation_id)
        .where(
            Accreditation.region_id.in_(region_ids),
            Certificate.revoked_at.is_(None),
            Certificate.expires_at > now,
            Certificate.expires_at <= now + timedelta(days=LAPSING_DAYS),
        )
        .order_by(Certificate.expires_at, Certificate.id)
        .limit(LAPSING_SHOWN)
    ).all()
    panel.lapsing = [Lapsing(*row[:4]) for row in lapsing]
    panel.lapsing_total = lapsing[0][4] if lapsing else 0
    trainee, decider = aliased(User, name="trainee"), aliased(User, name="decider")
    panel.decisions = [
        Decision(*row)
        for row in db.session.execute(
            select(
                Accreditation.id,
                Accreditation.status,
                Accreditation.decided_at,
                Accreditation.course_slug,
                trainee.name,
                decider.name,
            )
            .join(trainee, trainee.id == Accreditation.user_id)
            .outerjoin(decider, decider.id == Accreditation.decided_by_id)
            .where(
                Accreditation.region_id.in_(region_ids),
                Accreditation.status.in_(
                    [AccreditationStatus.ACCREDITED.value, AccreditationStatus.DECLINED.value]
                ),
                Accreditation.decided_at.is_not(None),
                Accreditation.is_prior.is_(False),
            )
            .order_by(Accreditation.decided_at.desc(), Accreditation.id.desc())
            .limit(DECISIONS_SHOWN)
        )
    ]
    return panel


# --- The training office (administrators) ---------------------------------------------------


@dataclass(frozen=True)
class FillingRun:
    run: CourseRun
    course: Course | None
    booked: int
    waiting: int

    @property
    def percent(self) -> int:
        return 100 if self.run.capacity <= 0 else round(100 * self.booked / self.run.capacity)


@dataclass(frozen=True)
class ContentReview:
    course: Course
    module: Module

    @property
    def review_by(self) -> date:
        return self.module.review_by

    def is_overdue(self, on: date) -> bool:
        return self.module.review_by < on


@dataclass
class AdminPanel:
    filling: list[FillingRun]
    filling_total: int
    failed_jobs: int
    content_reviews: list[ContentReview]
    today: date
    #: Waiting written work no facilitator can review (lms.review.reviewers).
    unassigned_work: int = 0
    filling_percent: int = FILLING_PERCENT
    content_review_days: int = CONTENT_REVIEW_DAYS


def filling_runs(catalogue: Catalogue, on: date | None = None) -> tuple[list[FillingRun], int]:
    """Runs not cancelled nor started by ``on`` (or without dates yet) with at least
    :data:`FILLING_PERCENT` of their places booked or anyone waiting, soonest first: the
    first :data:`FILLING_SHOWN` and how many in all (two queries: runs, their days)."""
    on = on or today()
    booked = func.sum(case((RunPlace.status == PlaceStatus.BOOKED, 1), else_=0))
    waiting = func.sum(case((RunPlace.status == PlaceStatus.WAITING, 1), else_=0))
    counts = (
        select(
            RunPlace.run_id.label("run_id"),
            booked.label("booked"),
            waiting.label("waiting"),
        )
        .where(RunPlace.status.in_([PlaceStatus.BOOKED.value, PlaceStatus.WAITING.value]))
        .group_by(RunPlace.run_id)
        .subquery()
    )
    first = _first_day()
    rows = db.session.execute(
        select(CourseRun, counts.c.booked, counts.c.waiting, func.count().over())
        .join(counts, counts.c.run_id == CourseRun.id)
        .where(
            CourseRun.cancelled_at.is_(None),
            or_(first.is_(None), first >= on),
            or_(
                counts.c.waiting > 0,
                counts.c.booked * 100 >= CourseRun.capacity * FILLING_PERCENT,
            ),
        )
        .options(selectinload(CourseRun.days))
        .order_by(case((first.is_(None), 1), else_=0), first, CourseRun.id)
        .limit(FILLING_SHOWN)
    ).all()
    found = [
        FillingRun(run, catalogue.get(run.course_slug), int(b or 0), int(w or 0))
        for run, b, w, _total in rows
    ]
    return found, (rows[0][3] if rows else 0)


def content_reviews_due(catalogue: Catalogue, on: date | None = None) -> list[ContentReview]:
    """Modules whose ``review_by`` has passed or falls within :data:`CONTENT_REVIEW_DAYS`,
    soonest first. From the loaded catalogue: no query."""
    on = on or today()
    limit = on + timedelta(days=CONTENT_REVIEW_DAYS)
    found = [
        ContentReview(course, module)
        for course in catalogue
        for module in course.modules
        if module.review_by is not None and module.review_by <= limit
    ]
    return sorted(found, key=lambda c: (c.review_by, c.course.title, c.module.number))


def admin_panel(catalogue: Catalogue, on: date | None = None) -> AdminPanel:
    """Runs filling up, failed jobs, content due for review, work no one can review:
    four queries."""
    from lms.review import reviewers

    on = on or today()
    filling, total = filling_runs(catalogue, on)
    return AdminPanel(
        filling=filling,
        filling_total=total,
        failed_jobs=jobs.status_counts()[JobStatus.FAILED.value],
        content_reviews=content_reviews_due(catalogue, on),
        today=on,
        unassigned_work=reviewers.unassigned_count(),
    )


# --- Everything a person's roles hold --------------------------------------------------------


@dataclass
class StaffPanels:
    facilitator: FacilitatorPanel | None = None
    officer: OfficerPanel | None = None
    admin: AdminPanel | None = None

    def __bool__(self) -> bool:
        return any((self.facilitator, self.officer, self.admin))


def staff_panels(user: User, catalogue: Catalogue, now: datetime | None = None) -> StaffPanels:
    """The panels of each staff role ``user`` holds (none for a trainee)."""
    now = now or utcnow()
    on = today()
    panels = StaffPanels()
    if user.has_role(Role.FACILITATOR):
        panels.facilitator = facilitator_panel(user, catalogue, on)
    if user.has_role(Role.OFFICER):
        panels.officer = officer_panel(user, now)
    if user.has_role(Role.ADMIN):
        panels.admin = admin_panel(catalogue, on)
    return panels

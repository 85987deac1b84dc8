"""Course runs: creating them, places and the waiting list, facilitators and attendance.

Functions flush but never commit. Every change to a run's places first takes the
run's row lock (:func:`lock_run`), so simultaneous sign-ups for the last place
are decided one after another: one gets it, the others join the waiting list.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Select, and_, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from lms import signals
from lms.accounts.models import Role, User
from lms.catalogue.content import Course
from lms.db import escape_like, utcnow
from lms.errors import ServiceError
from lms.extensions import db
from lms.i18n import _
from lms.learning import services as learning
from lms.pagination import Page, choice_arg, paginate, search_arg
from lms.runs.models import (
    DEFAULT_END,
    DEFAULT_START,
    AttendanceMark,
    AttendanceStatus,
    CourseRun,
    PlaceStatus,
    RunDay,
    RunFacilitator,
    RunPlace,
)

log = logging.getLogger(__name__)

MAX_DAYS = 10
MAX_CAPACITY = 500
#: The lengths of ``CourseRun.title`` and ``CourseRun.venue``.
MAX_TITLE = 200
MAX_VENUE = 300
MAX_ONLINE_URL = 500
MAX_CANCEL_REASON = 1000
RUNS_PAGE_SIZE = 25
ROSTER_PAGE_SIZE = 100


class RunError(ServiceError):
    """A request that cannot be carried out; ``field`` names the input at fault."""


# --- Runs ---------------------------------------------------------------------------


@dataclass
class RunInput:
    """A run's details. ``times`` maps a day's date to its (start, end) wall-clock times
    in the UK; days without an entry get :data:`DEFAULT_START` to :data:`DEFAULT_END`."""

    course_slug: str
    title: str
    days: list[date]
    capacity: int
    venue: str = ""
    is_online: bool = False
    is_open: bool = True
    facilitator_ids: tuple[int, ...] = ()
    times: dict[date, tuple[time, time]] = field(default_factory=dict)
    online_url: str = ""

    def times_of(self, day: date) -> tuple[time, time]:
        return self.times.get(day, (DEFAULT_START, DEFAULT_END))


def _send(signal, **kwargs) -> None:
    from flask import current_app

    signal.send(current_app._get_current_object(), **kwargs)


def _long_date(day: date) -> str:
    return day.strftime("%-d %B %Y")


def _clock(value: time) -> str:
    return value.strftime("%H:%M")


def _check(data: RunInput) -> Course:
    course = learning.catalogue().get(data.course_slug)
    if course is None:
        raise RunError(_("Choose a course."), "course_slug")
    if not data.title.strip():
        raise RunError(_("Give the run a name people will recognise."), "title")
    # The columns' lengths: longer text would fail in the database (PostgreSQL) with a 500.
    if len(" ".join(data.title.split())) > MAX_TITLE:
        raise RunError(_("Keep the name under %(n)d characters.", n=MAX_TITLE), "title")
    if len(data.venue.strip()) > MAX_VENUE:
        raise RunError(_("Keep the venue under %(n)d characters.", n=MAX_VENUE), "venue")
    if not data.days:
        raise RunError(_("Give at least one date."), "days")
    if len(set(data.days)) != len(data.days):
        raise RunError(_("Each date can appear only once."), "days")
    if len(data.days) > MAX_DAYS:
        raise RunError(_("A run can have at most %(n)d days.", n=MAX_DAYS), "days")
    if not 1 <= data.capacity <= MAX_CAPACITY:
        raise RunError(_("Capacity must be between 1 and %(n)d.", n=MAX_CAPACITY), "capacity")
    if not data.is_online and not data.venue.strip():
        raise RunError(_("Give the venue, or tick “Online”."), "venue")
    for n, day in enumerate(sorted(data.days), start=1):
        start, end = data.times_of(day)
        if end <= start:
            raise RunError(_("Day %(n)d must end after it starts.", n=n), "days")
    url = data.online_url.strip()
    if url:
        parts = urlsplit(url)
        if len(url) > MAX_ONLINE_URL:
            raise RunError(
                _("Keep the online link under %(n)d characters.", n=MAX_ONLINE_URL), "online_url"
            )
        if parts.scheme != "https" or not parts.hostname or " " in url:
            raise RunError(
                _("Give the online link as a full address starting https://"), "online_url"
            )
    for user_id in data.facilitator_ids:
        user = db.session.get(User, user_id)
        if user is None or not user.has_role(Role.FACILITATOR):
            raise RunError(
                _("Choose facilitators from people with the facilitator role."), "facilitator_ids"
            )
    return course


def create_run(data: RunInput) -> CourseRun:
    """Create a run. Raises RunError naming the field at fault."""
    _check(data)
    run = CourseRun(
        course_slug=data.course_slug,
        title=" ".join(data.title.split()),
        venue=data.venue.strip() or None,
        is_online=data.is_online,
        online_url=(data.online_url.strip() or None) if data.is_online else None,
        capacity=data.capacity,
        is_open=data.is_open,
    )
    run.days = [
        RunDay(day_date=d, starts_at=data.times_of(d)[0], ends_at=data.times_of(d)[1])
        for d in sorted(data.days)
    ]
    run.facilitators = [RunFacilitator(user_id=i) for i in sorted(set(data.facilitator_ids))]
    db.session.add(run)
    db.session.flush()
    log.info("Run %s created", run.id)
    return run


def update_run(run: CourseRun, data: RunInput) -> list[str]:
    """Change a run's details. Raises RunError.

    A day keeps its identity (and so its calendar event) when its date or times change:
    days whose date is still wanted stay, the others move, in order, to the new dates;
    what is left over is removed or added. Days with attendance cannot be moved or
    removed. When anything people on the run care about changes (days, times, venue,
    online link), the run's calendar ``sequence`` goes up and ``signals.run_changed`` is
    sent. Returns the changes, as short phrases for the people booked on it.
    """
    if run.cancelled_at is not None:
        raise RunError(_("This run has been cancelled, so it cannot change."), "run")
    if data.course_slug != run.course_slug and run.places:
        raise RunError(
            _("People have places on this run, so its course cannot change."), "course_slug"
        )
    _check(data)
    lock_run(run)
    before = {d.id: (d.day_date, d.starts_at, d.ends_at) for d in sorted(run.days, key=_day_order)}
    was = (run.venue, run.is_online, run.online_url)
    wanted = sorted(set(data.days))
    kept = [d for d in run.days if d.day_date in wanted]
    loose = sorted((d for d in run.days if d.day_date not in wanted), key=_day_order)
    free = [d for d in wanted if d not in {k.day_date for k in kept}]
    for day in loose[len(free) :]:
        _refuse_if_marked(
            day, _("Attendance has been recorded for %(day)s, so it cannot be removed.")
        )
        run.days.remove(day)
    for day, new_date in zip(loose, free, strict=False):
        _refuse_if_marked(
            day, _("Attendance has been recorded for %(day)s, so it cannot be moved.")
        )
        day.day_date = new_date
    for new_date in free[len(loose) :]:
        run.days.append(RunDay(day_date=new_date))
    for day in run.days:
        day.starts_at, day.ends_at = data.times_of(day.day_date)
    run.days.sort(key=_day_order)
    run.course_slug = data.course_slug
    run.title = " ".join(data.title.split())
    run.venue = data.venue.strip() or None
    run.is_online = data.is_online
    run.online_url = (data.online_url.strip() or None) if data.is_online else None
    run.is_open = data.is_open
    run.capacity = data.capacity
    current = {f.user_id: f for f in run.facilitators}
    for user_id, link in current.items():
        if user_id not in data.facilitator_ids:
            run.facilitators.remove(link)
    for user_id in set(data.facilitator_ids) - set(current):
        run.facilitators.append(RunFacilitator(user_id=user_id))
    db.session.flush()
    changes = _changes(run, before, was)
    if changes:
        run.sequence += 1
        db.session.flush()
        log.info("Run %s changed (%d changes), sequence %d", run.id, len(changes), run.sequence)
        _send(signals.run_changed, run=run, changes=changes)
    _promote(run)
    return changes


def _day_order(day: RunDay) -> tuple[date, int]:
    return (day.day_date, day.id or 0)


def _refuse_if_marked(day: RunDay, message: str) -> None:
    marked = db.session.scalar(
        select(func.count(AttendanceMark.id)).where(AttendanceMark.run_day_id == day.id)
    )
    if marked:
        raise RunError(message % {"day": _long_date(day.day_date)}, "days")


def _changes(
    run: CourseRun,
    before: dict[int, tuple[date, time, time]],
    was: tuple[str | None, bool, str | None],
) -> list[str]:
    """What changed for the people on ``run``, in short phrases (days are numbered as
    they are now)."""
    changes: list[str] = []
    now = {d.id: d for d in run.days}
    for old_date, _start, _end in (v for k, v in before.items() if k not in now):
        changes.append(_("%(day)s is no longer a course day", day=_long_date(old_date)))
    starts: dict[int, time] = {}
    ends: dict[int, time] = {}
    for n, day in enumerate(run.days, start=1):
        if day.id not in before:
            changes.append(
                _(
                    "Day %(n)d added: %(day)s, %(start)s to %(end)s",
                    n=n,
                    day=_long_date(day.day_date),
                    start=_clock(day.starts_at),
                    end=_clock(day.ends_at),
                )
            )
            continue
        old_date, old_start, old_end = before[day.id]
        if day.day_date != old_date:
            changes.append(_("Day %(n)d moved to %(day)s", n=n, day=_long_date(day.day_date)))
        if day.starts_at != old_start:
            starts[n] = day.starts_at
        if day.ends_at != old_end:
            ends[n] = day.ends_at
    every_day = all(d.id in before for d in run.days)
    for moved, phrase_all, phrase_one in (
        (starts, _("Start time is now %(time)s"), _("Day %(n)d now starts at %(time)s")),
        (ends, _("End time is now %(time)s"), _("Day %(n)d now ends at %(time)s")),
    ):
        # Every day to the same time: one phrase for the run.
        if every_day and len(moved) == len(run.days) and len(set(moved.values())) == 1:
            changes.append(phrase_all % {"time": _clock(next(iter(moved.values())))})
        else:
            changes.extend(phrase_one % {"n": n, "time": _clock(t)} for n, t in moved.items())
    old_venue, old_online, old_url = was
    if run.is_online:
        if not old_online:
            changes.append(_("The run is now online"))
        if run.online_url and run.online_url != (old_url if old_online else None):
            changes.append(_("Online link is now %(url)s", url=run.online_url))
    elif old_online or run.venue != old_venue:
        changes.append(_("Venue is now %(venue)s", venue=run.venue or ""))
    return changes


def cancel_run(run: CourseRun, reason: str, by: User) -> None:
    """Cancel a run: it closes, its places stay (for history), its calendar events become
    cancelled (``sequence`` goes up) and ``signals.run_cancelled`` is sent. Raises
    RunError when there is no reason or the run is already cancelled."""
    reason = reason.strip()
    if not reason:
        raise RunError(
            _("Say why the run is cancelled: the people booked on it will read it."), "reason"
        )
    if len(reason) > MAX_CANCEL_REASON:
        raise RunError(_("Keep the reason under %(n)d characters.", n=MAX_CANCEL_REASON), "reason")
    lock_run(run)
    if run.cancelled_at is not None:
        raise RunError(_("This run has already been cancelled."), "reason")
    run.cancelled_at = utcnow()
    run.cancel_reason = reason
    run.is_open = False
    run.sequence += 1
    db.session.flush()
    log.info("Run %s cancelled by user %s", run.id, by.id)
    _send(signals.run_cancelled, run=run, reason=reason)


def _first_day():
    """Each run's first day, as a correlated scalar subquery (for sorting in SQL)."""
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


def _by_first_day(stmt: Select) -> Select:
    """Runs in date order (runs without days last), ties by id; days loaded with them."""
    first = _first_day()
    return stmt.options(selectinload(CourseRun.days)).order_by(
        case((first.is_(None), 1), else_=0), first, CourseRun.id
    )


def runs_for_course(course: Course) -> list[CourseRun]:
    stmt = select(CourseRun).where(CourseRun.course_slug == course.slug)
    return list(db.session.scalars(_by_first_day(stmt)))


def upcoming_open_runs(course: Course, today: date | None = None) -> list[CourseRun]:
    today = today or date.today()
    last = _last_day()
    stmt = select(CourseRun).where(
        CourseRun.course_slug == course.slug,
        CourseRun.is_open.is_(True),
        CourseRun.cancelled_at.is_(None),
        or_(last.is_(None), last >= today),
    )
    return list(db.session.scalars(_by_first_day(stmt)))


def all_runs() -> list[CourseRun]:
    return list(db.session.scalars(_by_first_day(select(CourseRun))))


def runs_facilitated_by(user: User, course_slug: str | None = None) -> list[CourseRun]:
    """The runs ``user`` may manage (of one course, if given), in date order: those they
    facilitate; every run for administrators."""
    stmt = select(CourseRun)
    if not user.has_role(Role.ADMIN):
        stmt = stmt.join(RunFacilitator).where(RunFacilitator.user_id == user.id)
    if course_slug is not None:
        stmt = stmt.where(CourseRun.course_slug == course_slug)
    return list(db.session.scalars(_by_first_day(stmt)))


WHEN = ("upcoming", "past", "all")


@dataclass
class RunFilters:
    """Run list filters: ``when`` is "upcoming" (not finished), "past" or "all" (default:
    current and upcoming runs first, soonest first, then past ones, latest first)."""

    q: str = ""
    course: str = ""
    when: str = "all"

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> RunFilters:
        when = args.get("when", "all")
        return cls(
            q=search_arg(args),
            course=choice_arg(args, "course"),
            when=when if when in WHEN else "all",
        )

    @property
    def is_filtered(self) -> bool:
        return bool(self.q or self.course or self.when != "all")


def runs_page(
    user: User | None,
    filters: RunFilters | None = None,
    page: Any = 1,
    per_page: Any = None,
    today: date | None = None,
) -> Page[CourseRun]:
    """One page of runs (those ``user`` facilitates, or every run when ``user`` is None or
    an administrator), filtered, with their days: three queries whatever the number of runs.
    Bad page numbers are clamped."""
    filters = filters or RunFilters()
    today = today or date.today()
    stmt = select(CourseRun).options(selectinload(CourseRun.days))
    if user is not None and not user.has_role(Role.ADMIN):
        stmt = stmt.join(RunFacilitator).where(RunFacilitator.user_id == user.id)
    if filters.course:
        stmt = stmt.where(CourseRun.course_slug == filters.course)
    if filters.q:
        like = f"%{escape_like(filters.q.lower())}%"
        stmt = stmt.where(
            or_(
                func.lower(CourseRun.title).like(like, escape="\\"),
                func.lower(func.coalesce(CourseRun.venue, "")).like(like, escape="\\"),
            )
        )
    first, last = _first_day(), _last_day()
    is_past = and_(last.is_not(None), last < today)
    if filters.when == "upcoming":
        stmt = stmt.where(~is_past).order_by(case((first.is_(None), 1), else_=0), first)
    elif filters.when == "past":
        stmt = stmt.where(is_past).order_by(first.desc())
    else:
        past = case((is_past, 1), else_=0)
        stmt = stmt.order_by(
            past,
            case((first.is_(None), 1), else_=0),
            case((past == 0, first)),
            case((past == 1, first)).desc(),
        )
    return paginate(stmt, page, per_page, default_per_page=RUNS_PAGE_SIZE)


@dataclass
class PlaceCounts:
    booked: int = 0
    waiting: int = 0


def place_counts(run_ids: Iterable[int]) -> dict[int, PlaceCounts]:
    """run id -> how many booked and waiting places, in one aggregate query."""
    ids = list(run_ids)
    out = {i: PlaceCounts() for i in ids}
    if not ids:
        return out
    rows = db.session.execute(
        select(RunPlace.run_id, RunPlace.status, func.count())
        .where(
            RunPlace.run_id.in_(ids),
            RunPlace.status.in_([PlaceStatus.BOOKED.value, PlaceStatus.WAITING.value]),
        )
        .group_by(RunPlace.run_id, RunPlace.status)
    )
    for run_id, status, number in rows:
        setattr(out[run_id], "booked" if status == PlaceStatus.BOOKED else "waiting", number)
    return out


def can_manage(user: User, run: CourseRun) -> bool:
    return user.has_role(Role.ADMIN) or (
        user.has_role(Role.FACILITATOR) and user.id in run.facilitator_ids()
    )


# --- Places and the waiting list ----------------------------------------------------


def lock_run(run: CourseRun) -> None:
    """Take the run's row lock for the rest of the transaction and reload its places."""
    db.session.execute(
        update(CourseRun)
        .where(CourseRun.id == run.id)
        .values(lock_version=CourseRun.lock_version + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(run)
    db.session.expire(run, ["places"])


def place_for(user: User, run: CourseRun) -> RunPlace | None:
    return db.session.scalar(
        select(RunPlace).where(RunPlace.run_id == run.id, RunPlace.user_id == user.id)
    )


def places_for_user(user: User, active_only: bool = True) -> list[RunPlace]:
    stmt = select(RunPlace).where(RunPlace.user_id == user.id)
    if active_only:
        stmt = stmt.where(RunPlace.status != PlaceStatus.CANCELLED)
    return list(db.session.scalars(stmt.order_by(RunPlace.id)))


def active_place_on_course(user: User, course_slug: str) -> RunPlace | None:
    return db.session.scalar(
        select(RunPlace)
        .join(CourseRun)
        .where(
            RunPlace.user_id == user.id,
            CourseRun.course_slug == course_slug,
            RunPlace.status != PlaceStatus.CANCELLED,
            # A place on a cancelled run stays for history but frees the person to
            # sign up for another run of the course.
            CourseRun.cancelled_at.is_(None),
        )
        .order_by(RunPlace.id.desc())
    )


def _book(place: RunPlace) -> None:
    place.status = PlaceStatus.BOOKED
    place.booked_at = utcnow()


def _wait(place: RunPlace) -> None:
    place.status = PlaceStatus.WAITING
    place.waiting_since = utcnow()
    place.booked_at = None


def _promote(run: CourseRun) -> list[RunPlace]:
    """Move people up from the waiting list, in order, while there is room (never on a
    cancelled run). Sends ``signals.place_booked`` for each, with ``promoted=True``."""
    promoted: list[RunPlace] = []
    if run.cancelled_at is not None:
        return promoted
    booked = len(run.booked())
    for place in run.waiting():
        if booked >= run.capacity:
            break
        _book(place)
        booked += 1
        promoted.append(place)
    if promoted:
        db.session.flush()
        log.info("Run %s: %d moved up from the waiting list", run.id, len(promoted))
        for place in promoted:
            _send(signals.place_booked, place=place, promoted=True)
    return promoted


def _place(run: CourseRun, user: User, added_by: User | None, force_book: bool) -> RunPlace:
    """Give ``user`` a place (or a waiting-list place) on ``run``; sends
    ``signals.place_booked`` when it is booked."""
    lock_run(run)
    if run.cancelled_at is not None:
        raise RunError(_("This run has been cancelled."), "run")
    place = place_for(user, run)
    if place is not None and place.status != PlaceStatus.CANCELLED:
        raise RunError(
            _("%(name)s already has a place on this run.", name=user.name)
            if added_by
            else _("You already have a place on this run."),
            "user",
        )
    other = active_place_on_course(user, run.course_slug)
    if other is not None and other.run_id != run.id:
        raise RunError(
            _(
                "%(name)s already has a place on another run of this course (%(run)s).",
                name=user.name,
                run=other.run.title,
            )
            if added_by
            else _(
                "You already have a place on another run of this course (%(run)s).",
                run=other.run.title,
            ),
            "user",
        )
    if place is None:
        place = RunPlace(run_id=run.id, user_id=user.id, status=PlaceStatus.WAITING)
        place.added_by_id = added_by.id if added_by else None
        try:
            with db.session.begin_nested():
                db.session.add(place)
        except IntegrityError as exc:
            raise RunError(_("You already have a place on this run."), "user") from exc
    place.cancelled_at = None
    if force_book or len(run.booked()) < run.capacity:
        _book(place)
    else:
        _wait(place)
    db.session.flush()
    db.session.expire(run, ["places"])
    if place.status == PlaceStatus.BOOKED:
        _send(signals.place_booked, place=place, promoted=False)
    return place


def sign_up(user: User, run: CourseRun) -> RunPlace:
    """A trainee signs up: a place if there is room, otherwise the waiting list.

    Also enrols them on the course's online modules. Raises RunError when the run
    is closed or the person already has a place, and learning.EnrolmentRefused when
    a prerequisite course is not complete.
    """
    course = learning.catalogue().get(run.course_slug)
    if run.cancelled_at is not None:
        raise RunError(_("This run has been cancelled."), "run")
    if course is None or not run.is_open:
        raise RunError(_("This run is not open for sign-up."), "run")
    if run.last_day is not None and run.last_day < date.today():
        raise RunError(_("This run has finished."), "run")
    learning.enrol(user, course)  # raises EnrolmentRefused with the reason
    place = _place(run, user, None, force_book=False)
    log.info("Run %s: place %s %s", run.id, place.id, place.status)
    return place


def withdraw(place: RunPlace, by: User | None = None) -> list[RunPlace]:
    """Cancel a place (kept for history) and move the waiting list up. Returns who moved up."""
    run = place.run
    lock_run(run)
    db.session.refresh(place)
    if place.status == PlaceStatus.CANCELLED:
        return []
    place.status = PlaceStatus.CANCELLED
    place.cancelled_at = utcnow()
    db.session.flush()
    db.session.expire(run, ["places"])
    return _promote(run)


def admin_add(run: CourseRun, user: User, by: User, force_book: bool = False) -> RunPlace:
    """An administrator adds someone: booked if there is room (or ``force_book``), else waiting.

    Enrols them on the course; prerequisites are the administrator's call.
    """
    course = learning.catalogue().get(run.course_slug)
    if course is not None and learning.get_enrolment(user, course) is None:
        learning.create_enrolment(user, course)
    return _place(run, user, by, force_book=force_book)


def move(place: RunPlace, target: CourseRun, by: User) -> RunPlace:
    """Move someone to another run of the same course. Raises RunError."""
    if target.id == place.run_id:
        raise RunError(_("Choose a different run."), "target")
    if target.course_slug != place.run.course_slug:
        raise RunError(_("A person can only be moved to a run of the same course."), "target")
    user = place.user
    withdraw(place, by)
    return _place(target, user, by, force_book=False)


def set_capacity(run: CourseRun, capacity: int) -> list[RunPlace]:
    if not 1 <= capacity <= MAX_CAPACITY:
        raise RunError(_("Capacity must be between 1 and %(n)d.", n=MAX_CAPACITY), "capacity")
    lock_run(run)
    run.capacity = capacity
    db.session.flush()
    return _promote(run)


# --- Attendance ---------------------------------------------------------------------


def current_attendance(
    day: RunDay, user_ids: Iterable[int] | None = None
) -> dict[int, AttendanceMark]:
    """The latest mark for each person on ``day`` (only ``user_ids``, if given): one query."""
    stmt = select(AttendanceMark).where(AttendanceMark.run_day_id == day.id)
    if user_ids is not None:
        stmt = stmt.where(AttendanceMark.user_id.in_(list(user_ids)))
    latest: dict[int, AttendanceMark] = {}
    for mark in db.session.scalars(stmt.order_by(AttendanceMark.id)):
        latest[mark.user_id] = mark
    return latest


def attendance_history(day: RunDay, user_ids: Iterable[int] | None = None) -> list[AttendanceMark]:
    """Every mark recorded for ``day`` (for ``user_ids``, if given), oldest first, with who
    was marked and who marked them loaded in the same round trips."""
    stmt = (
        select(AttendanceMark)
        .where(AttendanceMark.run_day_id == day.id)
        .options(joinedload(AttendanceMark.user), joinedload(AttendanceMark.marked_by))
        .order_by(AttendanceMark.id)
    )
    if user_ids is not None:
        stmt = stmt.where(AttendanceMark.user_id.in_(list(user_ids)))
    return list(db.session.scalars(stmt))


def unmarked_count(day: RunDay) -> int:
    """How many people with a booked place have no mark yet for ``day`` (one query)."""
    marked = select(AttendanceMark.user_id).where(AttendanceMark.run_day_id == day.id)
    return (
        db.session.scalar(
            select(func.count(RunPlace.id)).where(
                RunPlace.run_id == day.run_id,
                RunPlace.status == PlaceStatus.BOOKED,
                RunPlace.user_id.not_in(marked),
            )
        )
        or 0
    )


def roster(
    run: CourseRun,
    statuses: Iterable[str] = (PlaceStatus.BOOKED,),
    q: str = "",
    page: Any = 1,
    per_page: Any = None,
    default_per_page: int = ROSTER_PAGE_SIZE,
    param: str = "page",
) -> Page[RunPlace]:
    """One page of a run's places with the given statuses, by name, each with its person
    loaded; ``q`` searches names and email addresses. Two queries."""
    from lms.accounts.models import User as Person

    stmt = (
        select(RunPlace)
        .join(Person, Person.id == RunPlace.user_id)
        .options(joinedload(RunPlace.user))
        .where(RunPlace.run_id == run.id, RunPlace.status.in_([str(s) for s in statuses]))
    )
    q = " ".join(q.split())[:100]
    if q:
        like = f"%{escape_like(q.lower())}%"
        stmt = stmt.where(
            or_(
                func.lower(Person.name).like(like, escape="\\"),
                func.lower(Person.email).like(like, escape="\\"),
            )
        )
    if set(statuses) == {PlaceStatus.WAITING}:
        stmt = stmt.order_by(func.coalesce(RunPlace.waiting_since, RunPlace.created_at))
    else:
        stmt = stmt.order_by(func.lower(Person.name))
    return paginate(
        stmt, page, per_page, default_per_page=default_per_page, max_per_page=500, param=param
    )


def record_attendance(
    day: RunDay, marks: dict[int, str], by: User, notes: dict[int, str] | None = None
) -> int:
    """Record attendance for a day. Only changed marks are stored, each with who and when.

    ``marks`` maps user ids to present/absent/excused. Raises RunError for a person
    without a booked place or an unknown status. Returns how many marks were stored.
    """
    booked = {p.user_id for p in day.run.booked()}
    current = current_attendance(day)
    notes = notes or {}
    stored = 0
    for user_id, status in marks.items():
        if user_id not in booked:
            raise RunError(_("Only people with a place on this run can be marked."), "marks")
        try:
            status = AttendanceStatus(status)
        except ValueError as exc:
            raise RunError(_("Choose present, absent or excused."), "marks") from exc
        note = (notes.get(user_id) or "").strip()[:500] or None
        previous = current.get(user_id)
        if previous is not None and previous.status == status and previous.note == note:
            continue
        db.session.add(
            AttendanceMark(
                run_day_id=day.id,
                user_id=user_id,
                status=status.value,
                note=note,
                marked_by_id=by.id,
            )
        )
        stored += 1
    db.session.flush()
    if stored:
        from flask import current_app

        from lms import signals

        signals.attendance_recorded.send(
            current_app._get_current_object(), run=day.run, user_ids=list(marks)
        )
    return stored


def attendance_for_users(
    run: CourseRun, user_ids: Iterable[int]
) -> dict[int, dict[int, AttendanceMark | None]]:
    """user id -> day id -> the latest mark, for every day of ``run``: one query."""
    ids = list(user_ids)
    out: dict[int, dict[int, AttendanceMark | None]] = {
        i: dict.fromkeys((d.id for d in run.days), None) for i in ids
    }
    if not ids or not run.days:
        return out
    marks = db.session.scalars(
        select(AttendanceMark)
        .where(
            AttendanceMark.run_day_id.in_([d.id for d in run.days]),
            AttendanceMark.user_id.in_(ids),
        )
        .order_by(AttendanceMark.id)
    )
    for mark in marks:
        out[mark.user_id][mark.run_day_id] = mark
    return out


def attendance_for_user(run: CourseRun, user: User) -> dict[int, AttendanceMark | None]:
    """day id -> the latest mark for ``user`` on each day of ``run``."""
    return attendance_for_users(run, [user.id])[user.id]


def trainees(run: CourseRun, statuses: Iterable[str] = (PlaceStatus.BOOKED,)) -> list[RunPlace]:
    """Every place on ``run`` with the given statuses, by name, people loaded (one query)."""
    from lms.accounts.models import User as Person

    return list(
        db.session.scalars(
            select(RunPlace)
            .join(Person, Person.id == RunPlace.user_id)
            .options(joinedload(RunPlace.user))
            .where(RunPlace.run_id == run.id, RunPlace.status.in_([str(s) for s in statuses]))
            .order_by(func.lower(Person.name), RunPlace.id)
        )
    )

"""Course runs: creating them, places and the waiting list, facilitators and attendance.

Functions flush but never commit. Every change to a run's places first takes the
run's row lock (:func:`lock_run`), so simultaneous sign-ups for the last place
are decided one after another: one gets it, the others join the waiting list.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from lms.accounts.models import Role, User
from lms.catalogue.content import Course
from lms.db import utcnow
from lms.errors import ServiceError
from lms.extensions import db
from lms.i18n import _
from lms.learning import services as learning
from lms.runs.models import (
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


class RunError(ServiceError):
    """A request that cannot be carried out; ``field`` names the input at fault."""


# --- Runs ---------------------------------------------------------------------------


@dataclass
class RunInput:
    course_slug: str
    title: str
    days: list[date]
    capacity: int
    venue: str = ""
    is_online: bool = False
    is_open: bool = True
    facilitator_ids: tuple[int, ...] = ()


def _check(data: RunInput) -> Course:
    course = learning.catalogue().get(data.course_slug)
    if course is None:
        raise RunError(_("Choose a course."), "course_slug")
    if not data.title.strip():
        raise RunError(_("Give the run a name people will recognise."), "title")
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
        capacity=data.capacity,
        is_open=data.is_open,
    )
    run.days = [RunDay(day_date=d) for d in sorted(data.days)]
    run.facilitators = [RunFacilitator(user_id=i) for i in sorted(set(data.facilitator_ids))]
    db.session.add(run)
    db.session.flush()
    log.info("Run %s created", run.id)
    return run


def update_run(run: CourseRun, data: RunInput) -> None:
    """Change a run's details. Days with attendance cannot be removed. Raises RunError."""
    if data.course_slug != run.course_slug and run.places:
        raise RunError(
            _("People have places on this run, so its course cannot change."), "course_slug"
        )
    _check(data)
    lock_run(run)
    wanted = set(data.days)
    for day in list(run.days):
        if day.day_date not in wanted:
            marked = db.session.scalar(
                select(func.count(AttendanceMark.id)).where(AttendanceMark.run_day_id == day.id)
            )
            if marked:
                raise RunError(
                    _(
                        "Attendance has been recorded for %(day)s, so it cannot be removed.",
                        day=day.day_date.strftime("%-d %B %Y"),
                    ),
                    "days",
                )
            run.days.remove(day)
    have = {d.day_date for d in run.days}
    for d in sorted(wanted - have):
        run.days.append(RunDay(day_date=d))
    run.days.sort(key=lambda d: d.day_date)
    run.course_slug = data.course_slug
    run.title = " ".join(data.title.split())
    run.venue = data.venue.strip() or None
    run.is_online = data.is_online
    run.is_open = data.is_open
    run.capacity = data.capacity
    current = {f.user_id: f for f in run.facilitators}
    for user_id, link in current.items():
        if user_id not in data.facilitator_ids:
            run.facilitators.remove(link)
    for user_id in set(data.facilitator_ids) - set(current):
        run.facilitators.append(RunFacilitator(user_id=user_id))
    db.session.flush()
    _promote(run)


def runs_for_course(course: Course) -> list[CourseRun]:
    stmt = select(CourseRun).where(CourseRun.course_slug == course.slug).order_by(CourseRun.id)
    runs = list(db.session.scalars(stmt))
    return sorted(runs, key=lambda r: (r.first_day or date.max, r.id))


def upcoming_open_runs(course: Course, today: date | None = None) -> list[CourseRun]:
    today = today or date.today()
    return [
        r
        for r in runs_for_course(course)
        if r.is_open and (r.last_day is None or r.last_day >= today)
    ]


def all_runs() -> list[CourseRun]:
    runs = list(db.session.scalars(select(CourseRun)))
    return sorted(runs, key=lambda r: (r.first_day or date.max, r.id))


def runs_facilitated_by(user: User) -> list[CourseRun]:
    """The runs ``user`` may manage: those they facilitate; every run for administrators."""
    if user.has_role(Role.ADMIN):
        return all_runs()
    stmt = select(CourseRun).join(RunFacilitator).where(RunFacilitator.user_id == user.id)
    runs = list(db.session.scalars(stmt))
    return sorted(runs, key=lambda r: (r.first_day or date.max, r.id))


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
    """Move people up from the waiting list, in order, while there is room."""
    promoted = []
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
    return promoted


def _place(run: CourseRun, user: User, added_by: User | None, force_book: bool) -> RunPlace:
    lock_run(run)
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
    return place


def sign_up(user: User, run: CourseRun) -> RunPlace:
    """A trainee signs up: a place if there is room, otherwise the waiting list.

    Also enrols them on the course's online modules. Raises RunError when the run
    is closed or the person already has a place, and learning.EnrolmentRefused when
    a prerequisite course is not complete.
    """
    course = learning.catalogue().get(run.course_slug)
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


def current_attendance(day: RunDay) -> dict[int, AttendanceMark]:
    """The latest mark for each person on ``day``."""
    marks = db.session.scalars(
        select(AttendanceMark)
        .where(AttendanceMark.run_day_id == day.id)
        .order_by(AttendanceMark.id)
    )
    latest: dict[int, AttendanceMark] = {}
    for mark in marks:
        latest[mark.user_id] = mark
    return latest


def attendance_history(day: RunDay) -> list[AttendanceMark]:
    return list(
        db.session.scalars(
            select(AttendanceMark)
            .where(AttendanceMark.run_day_id == day.id)
            .order_by(AttendanceMark.id)
        )
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


def attendance_for_user(run: CourseRun, user: User) -> dict[int, AttendanceMark | None]:
    """day id -> the latest mark for ``user`` on each day of ``run``."""
    return {day.id: current_attendance(day).get(user.id) for day in run.days}


def trainees(run: CourseRun, statuses: Iterable[str] = (PlaceStatus.BOOKED,)) -> list[RunPlace]:
    wanted = set(statuses)
    places = [p for p in run.places if p.status in wanted]
    return sorted(places, key=lambda p: (p.user.name.lower(), p.id))

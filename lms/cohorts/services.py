"""How a run's trainees are doing: one row per booked trainee, one cell per activity of the
course (done, in progress, not started, or the review state of written work), and their
attendance on each day.

Reads only. Whatever the number of trainees the grid is built from the same few queries:
the filter counts, one page of places with their people and enrolments, those enrolments'
progress (a few columns, never drafts or answers), their reviewed work with its reviews,
the run's days and their attendance marks, and the per-activity totals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, and_, case, false, func, select
from sqlalchemy.orm import contains_eager

from lms.accounts.models import Role, User
from lms.catalogue.content import Activity, Course, Module
from lms.extensions import db
from lms.i18n import _, _l
from lms.learning import services as learning
from lms.learning.models import ActivityProgress, AttemptReview, Enrolment
from lms.pagination import Page, paginate, request_args
from lms.review.models import ReviewItem
from lms.runs import services as runs
from lms.runs.models import (
    AttendanceMark,
    AttendanceStatus,
    CourseRun,
    PlaceStatus,
    RunDay,
    RunPlace,
)

PAGE_SIZE = 50
#: The CSV holds every trainee that matches, however many (runs hold a few dozen).
CSV_LIMIT = 10_000


class CellState(StrEnum):
    DONE = "done"
    IN_PROGRESS = "in-progress"
    NOT_STARTED = "not-started"
    WAITING = "waiting"
    NEEDS_WORK = "needs-work"
    ACCEPTED = "accepted"

    @property
    def label(self) -> str:
        return str(STATE_LABELS[self])

    @property
    def symbol(self) -> str:
        return STATE_SYMBOLS[self]

    @property
    def is_done(self) -> bool:
        return self in (CellState.DONE, CellState.ACCEPTED)


STATE_LABELS = {
    CellState.DONE: _l("Done"),
    CellState.IN_PROGRESS: _l("In progress"),
    CellState.NOT_STARTED: _l("Not started"),
    CellState.WAITING: _l("Sent, waiting for review"),
    CellState.NEEDS_WORK: _l("Needs more work"),
    CellState.ACCEPTED: _l("Meets the standard"),
}
#: Each state has its own shape, so the grid never relies on colour alone.
STATE_SYMBOLS = {
    CellState.DONE: "✓",
    CellState.IN_PROGRESS: "◐",
    CellState.NOT_STARTED: "–",
    CellState.WAITING: "✉",
    CellState.NEEDS_WORK: "↻",
    CellState.ACCEPTED: "★",
}
#: The order the key lists the states in.
STATE_ORDER = (
    CellState.NOT_STARTED,
    CellState.IN_PROGRESS,
    CellState.DONE,
    CellState.WAITING,
    CellState.NEEDS_WORK,
    CellState.ACCEPTED,
)

SHOW_ALL = ""
SHOW_NOT_STARTED = "not-started"
SHOW_WAITING = "waiting"
SHOWS = (SHOW_ALL, SHOW_NOT_STARTED, SHOW_WAITING)


@dataclass
class GridFilters:
    """``show``: "" (every booked trainee), "not-started" (no activity done) or "waiting"
    (work waiting for a review the viewer may give)."""

    show: str = SHOW_ALL

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> GridFilters:
        """Filters from a query string; unknown values mean "all", never an error."""
        show = (args.get("show") or "").strip()
        return cls(show=show if show in SHOWS else SHOW_ALL)


@dataclass(frozen=True)
class Column:
    """One activity of the course, with the short heading the grid shows for it."""

    activity: Activity
    module: Module
    short: str
    is_reviewed: bool


@dataclass
class Cell:
    column: Column
    state: CellState
    #: The attempt waiting for review, when the viewer may review it (the cell links to it).
    review_attempt_id: int | None = None


@dataclass
class TraineeRow:
    place: RunPlace
    user: User
    enrolment: Enrolment | None
    cells: list[Cell]
    #: day id -> the latest attendance mark (None: not marked).
    attendance: dict[int, AttendanceMark | None]
    required_done: int
    required_total: int

    @property
    def online_complete(self) -> bool:
        return self.enrolment is not None and self.enrolment.is_complete

    @property
    def done_count(self) -> int:
        return sum(1 for c in self.cells if c.state.is_done)

    @property
    def waiting_count(self) -> int:
        return sum(1 for c in self.cells if c.state == CellState.WAITING)


@dataclass
class Grid:
    run: CourseRun
    course: Course | None
    filters: GridFilters
    columns: list[Column]
    #: (module, its columns) in course order, for the grouped headings.
    groups: list[tuple[Module, list[Column]]]
    days: list[RunDay]
    rows: Page[TraineeRow]
    #: How many booked trainees in all, not started, and with work waiting for the viewer.
    counts: dict[str, int]
    #: activity key -> how many of the run's booked trainees have it done.
    done_by_activity: dict[str, int] = field(default_factory=dict)


def _short_heading(activity: Activity, module: Module, type_label: str) -> str:
    """A heading short enough for a grid column: "Knowledge check: the role..." -> "Knowledge
    check"; a title that repeats its module's -> the activity type ("Reading")."""
    title = activity.title.strip()
    if ":" in title:
        return title.split(":", 1)[0].strip()
    if title.casefold() == module.title.strip().casefold():
        return type_label
    return title


def columns_for(course: Course | None) -> list[Column]:
    if course is None:
        return []
    registry = learning.registry()
    out = []
    for module in course.modules:
        for activity in module.activities:
            kind = registry[activity.type]
            out.append(
                Column(
                    activity=activity,
                    module=module,
                    short=_short_heading(activity, module, str(_(kind.label))),
                    is_reviewed=kind.is_reviewed,
                )
            )
    return out


def _may_review_all(viewer: User) -> bool:
    return viewer.has_role(Role.ADMIN)


def _done_somewhere(run: CourseRun, keys: list[str]):
    """Whether the place's trainee has any activity of the course done (correlated EXISTS)."""
    if not keys:
        return false()
    return (
        select(ActivityProgress.id)
        .join(Enrolment, Enrolment.id == ActivityProgress.enrolment_id)
        .where(
            Enrolment.user_id == RunPlace.user_id,
            Enrolment.course_slug == run.course_slug,
            ActivityProgress.is_complete.is_(True),
            ActivityProgress.activity_key.in_(keys),
        )
        .correlate(RunPlace)
        .exists()
    )


def _waiting_for(run: CourseRun, viewer: User, reviewed_keys: list[str]):
    """Whether the place's trainee has work waiting that ``viewer`` may review (correlated
    EXISTS through the review queue's index). Facilitators of the run may review the work of
    its trainees (lms.review.services.can_review), but never their own."""
    if not reviewed_keys:
        return false()
    found = (
        select(ReviewItem.attempt_id)
        .where(
            ReviewItem.user_id == RunPlace.user_id,
            ReviewItem.course_slug == run.course_slug,
            ReviewItem.is_waiting.is_(True),
            ReviewItem.activity_key.in_(reviewed_keys),
        )
        .correlate(RunPlace)
        .exists()
    )
    if _may_review_all(viewer):
        return found
    return and_(found, RunPlace.user_id != viewer.id)


def _booked(run: CourseRun) -> Select:
    return select(RunPlace).where(
        RunPlace.run_id == run.id, RunPlace.status == PlaceStatus.BOOKED.value
    )


def filter_counts(run: CourseRun, viewer: User, columns: list[Column]) -> dict[str, int]:
    """How many booked trainees in all, not started and waiting for ``viewer``: one query."""
    keys = [c.activity.key for c in columns]
    reviewed = [c.activity.key for c in columns if c.is_reviewed]
    not_started = ~_done_somewhere(run, keys)
    waiting = _waiting_for(run, viewer, reviewed)
    row = db.session.execute(
        select(
            func.count(RunPlace.id),
            func.coalesce(func.sum(case((not_started, 1), else_=0)), 0),
            func.coalesce(func.sum(case((waiting, 1), else_=0)), 0),
        ).where(RunPlace.run_id == run.id, RunPlace.status == PlaceStatus.BOOKED.value)
    ).one()
    return {SHOW_ALL: row[0], SHOW_NOT_STARTED: int(row[1]), SHOW_WAITING: int(row[2])}


def _places_statement(
    run: CourseRun, viewer: User, filters: GridFilters, columns: list[Column]
) -> Select:
    """The booked places (with their person and enrolment on the run's course) by name."""
    stmt = (
        select(RunPlace, Enrolment)
        .join(User, User.id == RunPlace.user_id)
        .outerjoin(
            Enrolment,
            and_(Enrolment.user_id == RunPlace.user_id, Enrolment.course_slug == run.course_slug),
        )
        .options(contains_eager(RunPlace.user))
        .where(RunPlace.run_id == run.id, RunPlace.status == PlaceStatus.BOOKED.value)
        .order_by(func.lower(User.name))
    )
    if filters.show == SHOW_NOT_STARTED:
        stmt = stmt.where(~_done_somewhere(run, [c.activity.key for c in columns]))
    elif filters.show == SHOW_WAITING:
        stmt = stmt.where(
            _waiting_for(run, viewer, [c.activity.key for c in columns if c.is_reviewed])
        )
    return stmt


def _progress_rows(enrolment_ids: list[int]) -> dict[tuple[int, str], Any]:
    """(enrolment id, activity key) -> completion, attempts, a case study's status and
    whether a draft is kept: read from the state in SQL, so drafts and answers stay put."""
    if not enrolment_ids:
        return {}
    rows = db.session.execute(
        select(
            ActivityProgress.enrolment_id,
            ActivityProgress.activity_key,
            ActivityProgress.is_complete,
            ActivityProgress.attempt_count,
            ActivityProgress.state["status"].as_string().label("status"),
            ActivityProgress.state["draft_saved_at"].as_string().label("draft_saved_at"),
        ).where(ActivityProgress.enrolment_id.in_(enrolment_ids))
    )
    return {(r.enrolment_id, r.activity_key): r for r in rows}


def _latest_reviewed_work(enrolment_ids: list[int]) -> dict[tuple[int, str], tuple[Any, Any]]:
    """(enrolment id, activity key) -> (the newest version sent, its latest decision or None),
    in one query of the review queue's rows and their reviews."""
    if not enrolment_ids:
        return {}
    rows = db.session.execute(
        select(
            ReviewItem.enrolment_id,
            ReviewItem.activity_key,
            ReviewItem.attempt_id,
            ReviewItem.is_waiting,
            AttemptReview.decision,
        )
        .outerjoin(AttemptReview, AttemptReview.attempt_id == ReviewItem.attempt_id)
        .where(ReviewItem.enrolment_id.in_(enrolment_ids))
        .order_by(ReviewItem.submitted_at, ReviewItem.attempt_id, AttemptReview.id)
    )
    # Later versions, and later reviews of one version, come last and win.
    return {(r.enrolment_id, r.activity_key): (r, r.decision) for r in rows}


def _cell_state(column: Column, progress: Any, work: tuple[Any, Any] | None) -> CellState:
    if column.is_reviewed:
        if work is not None:
            item, decision = work
            if item.is_waiting:
                return CellState.WAITING
            if decision == "accepted":
                return CellState.ACCEPTED
            if decision == "needs_work":
                return CellState.NEEDS_WORK
        # No queue row (a site filled without the services): the progress state says.
        status = progress.status if progress is not None else None
        if status == "submitted":
            return CellState.WAITING
        if status == "needs_work":
            return CellState.NEEDS_WORK
        if status == "accepted":
            return CellState.ACCEPTED
    if progress is None:
        return CellState.NOT_STARTED
    if progress.is_complete:
        return CellState.DONE
    if progress.attempt_count or progress.draft_saved_at:
        return CellState.IN_PROGRESS
    return CellState.NOT_STARTED


def done_by_activity(run: CourseRun, columns: list[Column]) -> dict[str, int]:
    """activity key -> how many of the run's booked trainees have it done: one query."""
    out = {c.activity.key: 0 for c in columns}
    if not out:
        return out
    rows = db.session.execute(
        select(ActivityProgress.activity_key, func.count(ActivityProgress.id))
        .join(Enrolment, Enrolment.id == ActivityProgress.enrolment_id)
        .join(
            RunPlace,
            and_(RunPlace.user_id == Enrolment.user_id, RunPlace.run_id == run.id),
        )
        .where(
            RunPlace.status == PlaceStatus.BOOKED.value,
            Enrolment.course_slug == run.course_slug,
            ActivityProgress.is_complete.is_(True),
            ActivityProgress.activity_key.in_(list(out)),
        )
        .group_by(ActivityProgress.activity_key)
    )
    for key, number in rows:
        out[key] = number
    return out


def grid(
    run: CourseRun,
    viewer: User,
    filters: GridFilters | None = None,
    page: Any = 1,
    per_page: Any = None,
    *,
    everyone: bool = False,
) -> Grid:
    """The run's grid as ``viewer`` sees it: one page of booked trainees (every one that
    matches with ``everyone``, for the CSV), by name. Bad page numbers are clamped."""
    filters = filters or GridFilters()
    course = learning.catalogue().get(run.course_slug)
    columns = columns_for(course)
    counts = filter_counts(run, viewer, columns)
    stmt = _places_statement(run, viewer, filters, columns)
    if everyone:
        page, per_page = 1, CSV_LIMIT
    found = paginate(
        stmt,
        page,
        per_page,
        default_per_page=PAGE_SIZE,
        max_per_page=CSV_LIMIT if everyone else 200,
        scalars=False,
        total=counts[filters.show],
        tiebreak=[RunPlace.id],
        # Links keep the query's arguments, with the filter as understood (not as typed).
        args=[(k, v) for k, v in request_args() if k != "show"]
        + ([("show", filters.show)] if filters.show else []),
    )
    places = [(row[0], row[1]) for row in found.items]
    enrolment_ids = [e.id for _p, e in places if e is not None]
    progress = _progress_rows(enrolment_ids)
    work = _latest_reviewed_work(enrolment_ids)
    attendance = runs.attendance_for_users(run, [p.user_id for p, _e in places])
    may_review_all = _may_review_all(viewer)
    required = course.required_keys if course else frozenset()
    rows = []
    for place, enrolment in places:
        cells = []
        required_done = 0
        for column in columns:
            key = column.activity.key
            row = progress.get((enrolment.id, key)) if enrolment else None
            reviewed = work.get((enrolment.id, key)) if enrolment else None
            state = _cell_state(column, row, reviewed)
            cell = Cell(column, state)
            if (
                state == CellState.WAITING
                and reviewed is not None
                and reviewed[0].is_waiting
                and (may_review_all or place.user_id != viewer.id)
            ):
                cell.review_attempt_id = reviewed[0].attempt_id
            if key in required and row is not None and row.is_complete:
                required_done += 1
            cells.append(cell)
        rows.append(
            TraineeRow(
                place=place,
                user=place.user,
                enrolment=enrolment,
                cells=cells,
                attendance=attendance[place.user_id],
                required_done=required_done,
                required_total=len(required),
            )
        )
    found.items = rows
    groups: list[tuple[Module, list[Column]]] = []
    for column in columns:
        if not groups or groups[-1][0].key != column.module.key:
            groups.append((column.module, []))
        groups[-1][1].append(column)
    return Grid(
        run=run,
        course=course,
        filters=filters,
        columns=columns,
        groups=groups,
        days=list(run.days),
        rows=found,
        counts=counts,
        done_by_activity=done_by_activity(run, columns),
    )


def attendance_label(mark: AttendanceMark | None) -> str:
    if mark is None:
        return _("Not marked")
    return str(AttendanceStatus(mark.status).label)


def csv_rows(grid: Grid) -> list[list[Any]]:
    """The grid as rows for a CSV: a heading row, then one row per trainee with each day's
    attendance and each activity's state in words."""
    heading: list[Any] = [_("Name"), _("Online part complete"), _("Required activities done")]
    heading += [
        _("Day %(n)d (%(date)s)", n=n, date=day.day_date.isoformat())
        for n, day in enumerate(grid.days, start=1)
    ]
    heading += [f"{c.module.title}: {c.activity.title}" for c in grid.columns]
    out = [heading]
    for row in grid.rows:
        line: list[Any] = [
            row.user.name,
            _("Yes") if row.online_complete else _("No"),
            _("%(done)d of %(total)d", done=row.required_done, total=row.required_total),
        ]
        line += [attendance_label(row.attendance.get(day.id)) for day in grid.days]
        line += [cell.state.label for cell in row.cells]
        out.append(line)
    return out

"""Course runs (cohorts): their days, facilitators, places with a waiting list, and attendance."""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.db import TimestampMixin, utcnow
from lms.extensions import db
from lms.i18n import _l


class PlaceStatus(StrEnum):
    BOOKED = "booked"
    WAITING = "waiting"
    CANCELLED = "cancelled"


class AttendanceStatus(StrEnum):
    PRESENT = "present"
    ABSENT = "absent"
    EXCUSED = "excused"

    @property
    def label(self) -> str:
        return str(ATTENDANCE_LABELS[self])


ATTENDANCE_LABELS = {
    AttendanceStatus.PRESENT: _l("Present"),
    AttendanceStatus.ABSENT: _l("Absent"),
    AttendanceStatus.EXCUSED: _l("Excused"),
}


#: A course day's times when none are given.
DEFAULT_START = time(9, 30)
DEFAULT_END = time(16, 30)


class CourseRun(TimestampMixin, db.Model):
    """One cohort of a course: its days, where it happens, how many places."""

    id: Mapped[int] = mapped_column(primary_key=True)
    course_slug: Mapped[str] = mapped_column(String(80), index=True)
    title: Mapped[str] = mapped_column(String(200))
    venue: Mapped[str | None] = mapped_column(String(300))
    is_online: Mapped[bool] = mapped_column(default=False)
    capacity: Mapped[int]
    is_open: Mapped[bool] = mapped_column(default=True)
    # Bumped by every change to places: the UPDATE takes a row lock that serialises
    # sign-ups for one run on PostgreSQL and SQLite alike.
    lock_version: Mapped[int] = mapped_column(default=0)
    #: The link for an online run (an https address), shown to people with a place.
    online_url: Mapped[str | None] = mapped_column(String(500))
    #: The calendar SEQUENCE of the run's events: bumped by every change that matters to
    #: the people booked on it (days, times, venue, online link, cancellation).
    sequence: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    #: A cancelled run stays, with its places, for history; it is closed for sign-up.
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(Text)

    days: Mapped[list[RunDay]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="RunDay.day_date"
    )
    facilitators: Mapped[list[RunFacilitator]] = relationship(
        back_populates="run", cascade="all, delete-orphan"
    )
    places: Mapped[list[RunPlace]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="RunPlace.id"
    )

    @property
    def first_day(self) -> date | None:
        return self.days[0].day_date if self.days else None

    @property
    def last_day(self) -> date | None:
        return self.days[-1].day_date if self.days else None

    @property
    def where(self) -> str:
        return "Online" if self.is_online else (self.venue or "")

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled_at is not None

    def facilitator_ids(self) -> set[int]:
        return {f.user_id for f in self.facilitators}

    def booked(self) -> list[RunPlace]:
        return [p for p in self.places if p.status == PlaceStatus.BOOKED]

    def waiting(self) -> list[RunPlace]:
        return sorted(
            (p for p in self.places if p.status == PlaceStatus.WAITING),
            key=lambda p: (p.waiting_since or p.created_at, p.id),
        )


class RunDay(db.Model):
    __table_args__ = (UniqueConstraint("run_id", "day_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("course_run.id", ondelete="CASCADE"))
    day_date: Mapped[date]
    # UK wall-clock times (Europe/London), as the venue's clock shows them.
    starts_at: Mapped[time] = mapped_column(default=DEFAULT_START, server_default="09:30:00")
    ends_at: Mapped[time] = mapped_column(default=DEFAULT_END, server_default="16:30:00")

    run: Mapped[CourseRun] = relationship(back_populates="days")

    @property
    def number(self) -> int:
        return self.run.days.index(self) + 1


class RunFacilitator(db.Model):
    __table_args__ = (UniqueConstraint("run_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("course_run.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)

    run: Mapped[CourseRun] = relationship(back_populates="facilitators")
    user = relationship("User")


class RunPlace(TimestampMixin, db.Model):
    """A person's place on a run: booked, on the waiting list, or cancelled (kept for history)."""

    __table_args__ = (UniqueConstraint("run_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("course_run.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(12))
    booked_at: Mapped[datetime | None]
    waiting_since: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    run: Mapped[CourseRun] = relationship(back_populates="places")
    user = relationship("User", foreign_keys=[user_id])

    @property
    def waiting_position(self) -> int | None:
        if self.status != PlaceStatus.WAITING:
            return None
        return [p.id for p in self.run.waiting()].index(self.id) + 1


class AttendanceMark(db.Model):
    """One mark of attendance. Corrections add a new mark; the latest one counts."""

    __table_args__ = (Index("ix_attendance_mark_day_user", "run_day_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_day_id: Mapped[int] = mapped_column(ForeignKey("run_day.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(10))
    note: Mapped[str | None] = mapped_column(Text)
    marked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    marked_at: Mapped[datetime] = mapped_column(default=utcnow)

    day: Mapped[RunDay] = relationship()
    user = relationship("User", foreign_keys=[user_id])
    marked_by = relationship("User", foreign_keys=[marked_by_id])

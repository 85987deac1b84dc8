"""Helpers for tests about course runs."""

from __future__ import annotations

from datetime import date, timedelta

from lms.extensions import db
from lms.learning import services as learning
from lms.learning.models import Enrolment
from lms.runs import services as runs
from lms.runs.models import CourseRun


def make_run(
    app, course="rep", capacity=8, facilitators=(), days=2, title=None, is_open=True
) -> int:
    with app.app_context():
        start = date.today() + timedelta(days=30)
        run = runs.create_run(
            runs.RunInput(
                course_slug=course,
                title=title or f"{course} run, London",
                days=[start + timedelta(days=i) for i in range(days)],
                capacity=capacity,
                venue="Congress House, London",
                facilitator_ids=tuple(facilitators),
                is_open=is_open,
            )
        )
        db.session.commit()
        return run.id


def complete_course(app, user_id: int, slug: str = "link-member") -> None:
    """Mark a course complete for a person, as if they had done every activity."""
    from lms.accounts.models import User

    with app.app_context():
        user = db.session.get(User, user_id)
        course = learning.catalogue().get(slug)
        enrolment = learning.create_enrolment(user, course)
        enrolment.completed_at = enrolment.enrolled_at
        enrolment.completed_version = course.version
        db.session.commit()


def get_run(run_id: int) -> CourseRun:
    return db.session.get(CourseRun, run_id)


def enrolment_of(user_id: int, slug: str) -> Enrolment | None:
    from sqlalchemy import select

    return db.session.scalar(
        select(Enrolment).where(Enrolment.user_id == user_id, Enrolment.course_slug == slug)
    )

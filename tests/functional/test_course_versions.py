"""Trainees who completed an earlier version of a course see what changed since; the
reading page says when its facts were last checked."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from lms.accounts.models import User
from lms.extensions import db
from lms.learning.models import Enrolment
from tests.functional.test_learning import enrol


def _complete(app, version: str, when: datetime) -> None:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "sam@example.org"))
        enrolment = db.session.scalar(select(Enrolment).where(Enrolment.user_id == user.id))
        enrolment.completed_at = when
        enrolment.completed_version = version
        db.session.commit()


def test_completed_an_earlier_version_sees_what_changed(app, trainee_client):
    enrol(trainee_client)
    course = app.extensions["lms.courses"].get("link-member")
    note = next(n for n in course.version_notes if n.version == course.version)
    _complete(app, "2026.1", datetime(2026, 6, 1, 12))
    page = trainee_client.get("/dashboard").get_data(as_text=True)
    assert "What has changed since you completed it (version 2026.1)" in page
    assert f"Version {course.version}," in page
    assert note.note.split(".")[0] in page


def test_completed_the_current_version_sees_no_changes(app, trainee_client):
    enrol(trainee_client)
    course = app.extensions["lms.courses"].get("link-member")
    _complete(app, course.version, datetime(2026, 12, 4, 9))
    page = trainee_client.get("/dashboard").get_data(as_text=True)
    assert "What has changed since you completed it" not in page


def test_joined_an_earlier_version_sees_what_changed_while_working_through_it(app, trainee_client):
    enrol(trainee_client)
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "sam@example.org"))
        enrolment = db.session.scalar(select(Enrolment).where(Enrolment.user_id == user.id))
        enrolment.enrolled_at = datetime(2026, 9, 1, 12)
        enrolment.enrolled_version = "2026.1"
        db.session.commit()
    page = trainee_client.get("/dashboard").get_data(as_text=True)
    assert "What has changed since you joined (version 2026.1)" in page
    # Someone who joins the current version sees no such note.
    with app.app_context():
        enrolment = db.session.scalar(select(Enrolment))
        enrolment.enrolled_at = datetime(2026, 12, 4, 9)
        enrolment.enrolled_version = app.extensions["lms.courses"].get("link-member").version
        db.session.commit()
    assert "What has changed since" not in trainee_client.get("/dashboard").get_data(as_text=True)


def test_the_reading_page_says_when_its_facts_were_checked(app, trainee_client):
    enrol(trainee_client)
    page = trainee_client.get("/learn/link-member/signposting-reading").get_data(as_text=True)
    assert "The facts in this module were last checked on 3 December 2026." in page
    assert "Next check due by 30 June 2027." in page
    # Dated legal changes are boxes with the rule that applies today.
    assert "law-change" in page and "[[change:" not in page

"""Helpers for tests of reviewed work: course reviewers and reviews through the real services."""

from __future__ import annotations

from sqlalchemy import select

from lms.accounts.models import User
from lms.extensions import db
from lms.learning import services as learning
from lms.learning.models import Attempt, Enrolment
from lms.review import reviewers
from lms.review import services as review


def name_reviewer(app, user_id: int, slug: str = "link-member") -> None:
    """Name a facilitator as a reviewer of a course (as an administrator would)."""
    with app.app_context():
        reviewers.assign(learning.catalogue().get(slug), db.session.get(User, user_id))
        db.session.commit()


def review_latest(
    app, trainee_id: int, reviewer_id: int, slug: str = "link-member", decision="accepted"
) -> int:
    """Review the latest version of each reviewed activity the trainee sent on ``slug``
    (every criterion met, or the first not yet for "needs_work"); returns how many."""
    with app.app_context():
        course = learning.catalogue().get(slug)
        enrolment = db.session.scalar(
            select(Enrolment).where(Enrolment.user_id == trainee_id, Enrolment.course_slug == slug)
        )
        reviewer = db.session.get(User, reviewer_id)
        done = 0
        for activity in review.required_reviewed(course):
            attempt = db.session.scalar(
                select(Attempt)
                .where(Attempt.enrolment_id == enrolment.id, Attempt.activity_key == activity.key)
                .order_by(Attempt.number.desc())
                .limit(1)
            )
            if attempt is None:
                continue
            keys = [c.key for c in activity.config.criteria]
            marks = {k: "met" for k in keys}
            if decision == "needs_work":
                marks[keys[0]] = "not_yet"
            review.record_review(attempt, reviewer, decision, marks, "Reviewed in a test.")
            done += 1
        db.session.commit()
        return done


def send_case_studies(client, app, slug: str = "link-member") -> list[str]:
    """The trainee logged in on ``client`` sends an answer to each reviewed activity of
    ``slug`` through the activity pages; returns their keys."""
    from tests.conftest import csrf_from
    from tests.functional.test_learning import answers_for

    with app.app_context():
        activities = review.required_reviewed(learning.catalogue().get(slug))
    for activity in activities:
        url = f"/learn/{slug}/{activity.key}"
        page = client.get(url).get_data(as_text=True)
        data = answers_for(app, slug, activity)
        response = client.post(url, data={"csrf_token": csrf_from(page), **data})
        assert response.status_code == 302, (url, response.status_code)
    return [a.key for a in activities]

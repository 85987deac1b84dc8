"""The demo site generator: a small generated site is consistent, the demo accounts keep
working, running it twice adds more, and the CLI command runs it with a progress bar."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest
from sqlalchemy import func, select

from lms.accounts.cli import DEMO_PEOPLE, demo_password
from lms.accounts.models import Region, Role, RoleAssignment, User
from lms.accreditation import register
from lms.accreditation.models import (
    Accreditation,
    AccreditationStatus,
    Certificate,
    CertificateFile,
)
from lms.demo import services as demo
from lms.extensions import db
from lms.feedback.models import FeedbackResponse
from lms.learning.models import ActivityProgress, Attempt, AttemptReview, Enrolment
from lms.review import services as review
from lms.runs.models import AttendanceMark, CourseRun, PlaceStatus, RunDay, RunPlace
from tests.conftest import login


def _demo_accounts() -> dict[str, tuple]:
    """What the demo accounts are: password hash, name, region, roles, and their rows."""
    out = {}
    for email, *_ in DEMO_PEOPLE:
        user = db.session.scalar(select(User).where(User.email == email))
        enrolments = db.session.scalar(
            select(func.count(Enrolment.id)).where(Enrolment.user_id == user.id)
        )
        places = db.session.scalar(
            select(func.count(RunPlace.id)).where(RunPlace.user_id == user.id)
        )
        out[email] = (
            user.password_hash,
            user.name,
            user.region_id,
            sorted((r.role, r.region_id) for r in user.roles),
            enrolments,
            places,
        )
    return out


def check_consistency() -> dict[str, int]:
    """Assert that the database looks like the services made it. Returns a few figures."""
    from flask import current_app

    courses = {c.slug: c for c in current_app.extensions["lms.courses"]}

    # Places: booked within capacity, a waiting list only on a full run, one active
    # place per person and course.
    runs = {r.id: r for r in db.session.scalars(select(CourseRun))}
    by_run: dict[int, Counter] = defaultdict(Counter)
    active: Counter = Counter()
    for place in db.session.scalars(select(RunPlace)):
        by_run[place.run_id][place.status] += 1
        if place.status != PlaceStatus.CANCELLED:
            active[(place.user_id, runs[place.run_id].course_slug)] += 1
        if place.status == PlaceStatus.BOOKED:
            assert place.booked_at is not None
        if place.status == PlaceStatus.WAITING:
            assert place.waiting_since is not None and place.booked_at is None
        if place.status == PlaceStatus.CANCELLED:
            assert place.cancelled_at is not None
    for run_id, counts in by_run.items():
        run = runs[run_id]
        assert counts[PlaceStatus.BOOKED] <= run.capacity, run.title
        if counts[PlaceStatus.WAITING]:
            assert counts[PlaceStatus.BOOKED] == run.capacity, f"waiting list on {run.title}"
    assert all(n == 1 for n in active.values())

    # Attendance only for booked people, on days that have happened.
    booked = {
        (p.run_id, p.user_id)
        for p in db.session.scalars(select(RunPlace).where(RunPlace.status == PlaceStatus.BOOKED))
    }
    days = {d.id: d for d in db.session.scalars(select(RunDay))}
    for mark in db.session.scalars(select(AttendanceMark)):
        day = days[mark.run_day_id]
        assert (day.run_id, mark.user_id) in booked
        assert mark.marked_at.date() >= day.day_date

    # Certificates: each has an accredited accreditation of the same person and course.
    for certificate in db.session.scalars(select(Certificate)):
        record = certificate.accreditation
        assert record is not None
        assert record.status == AccreditationStatus.ACCREDITED
        assert (record.user_id, record.course_slug, record.course_version) == (
            certificate.user_id,
            certificate.course_slug,
            certificate.course_version,
        )
        assert certificate.number.startswith("MIP-") and len(certificate.token) >= 40
        course = courses[certificate.course_slug]
        assert certificate.template == course.certificate.template
        assert (certificate.expires_at is None) == (course.certificate.validity_months is None)
    accredited = db.session.scalar(
        select(func.count(Accreditation.id)).where(
            Accreditation.status == AccreditationStatus.ACCREDITED
        )
    )
    assert accredited == db.session.scalar(select(func.count(Certificate.id)))

    # Anonymous feedback leads back to nobody.
    for response in db.session.scalars(select(FeedbackResponse)):
        assert response.is_anonymous
        assert response.user_id is None and response.submitted_at is None
        assert len(response.id) == 32

    # Progress: complete enrolments have every required activity complete, others do not;
    # attempts are numbered 1..n and progress counts them.
    progress: dict[int, dict[str, ActivityProgress]] = defaultdict(dict)
    for row in db.session.scalars(select(ActivityProgress)):
        progress[row.enrolment_id][row.activity_key] = row
    attempts: dict[tuple[int, str], list[int]] = defaultdict(list)
    for enrolment_id, key, number in db.session.execute(
        select(Attempt.enrolment_id, Attempt.activity_key, Attempt.number)
    ):
        attempts[(enrolment_id, key)].append(number)
    for (enrolment_id, key), numbers in attempts.items():
        assert sorted(numbers) == list(range(1, len(numbers) + 1))
        assert progress[enrolment_id][key].attempt_count == len(numbers)
    for enrolment in db.session.scalars(select(Enrolment)):
        course = courses[enrolment.course_slug]
        rows = progress[enrolment.id]
        done = all(k in rows and rows[k].is_complete for k in course.required_keys)
        assert done == (enrolment.completed_at is not None), enrolment.id
        for activity in course.activities:
            if activity.type == "feedback":
                assert activity.key in rows  # made at enrolment
                assert rows[activity.key].updated_at == enrolment.enrolled_at
        if enrolment.course_slug == "rep":
            basic = db.session.scalar(
                select(Enrolment).where(
                    Enrolment.user_id == enrolment.user_id,
                    Enrolment.course_slug == "link-member",
                )
            )
            assert basic is not None and basic.completed_at is not None

    # Pending requests are from people who met every rule, in their home region.
    for record in db.session.scalars(
        select(Accreditation).where(Accreditation.status == AccreditationStatus.PENDING)
    ):
        assert record.region_id == record.user.region_id
        enrolment = db.session.scalar(
            select(Enrolment).where(
                Enrolment.user_id == record.user_id,
                Enrolment.course_slug == record.course_slug,
            )
        )
        assert enrolment.completed_at is not None

    # Reviews are by facilitators of the trainee's run, or an administrator.
    for reviewer_id in db.session.scalars(select(AttemptReview.reviewer_id).distinct()):
        roles = set(
            db.session.scalars(
                select(RoleAssignment.role).where(RoleAssignment.user_id == reviewer_id)
            )
        )
        assert roles & {Role.FACILITATOR.value, Role.ADMIN.value}
    return {
        "waiting": sum(c[PlaceStatus.WAITING] for c in by_run.values()),
        "certificates": accredited,
    }


def _demo_user(email: str) -> User:
    return db.session.scalar(select(User).where(User.email == email))


def test_populate_makes_a_consistent_site_and_keeps_the_demo_accounts(app):
    with app.app_context():
        counts = demo.populate(40, seed=3)
        figures = check_consistency()
        assert counts["trainees"] == 40
        trainees = db.session.scalar(
            select(func.count(User.id)).where(
                User.id.in_(select(RoleAssignment.user_id).where(RoleAssignment.role == "trainee"))
            )
        )
        assert trainees == 40 + 2  # and the demo trainee and rep
        assert counts["enrolments"] >= 30
        assert counts["attempts"] > counts["enrolments"]
        assert counts["feedback_responses"] > 0
        assert figures["certificates"] == counts["certificates"] > 0
        assert counts.get("places_waiting", 0) == figures["waiting"] > 0

        # People in every region, many in the demo officer's.
        regions = Counter(
            db.session.scalars(select(Region.name).join(User, User.region_id == Region.id))
        )
        assert regions["North East"] >= 8
        assert len(regions) >= 6

        # The demo facilitator has work waiting, in runs they facilitate or, as the link
        # member course's reviewer, from its trainees with no run.
        facilitator = _demo_user("facilitator@example.org")
        waiting = review.queue(facilitator)
        assert waiting.total >= 1
        assert all(
            facilitator.id in item.run.facilitator_ids()
            if item.run is not None
            else item.course.slug == "link-member"
            for item in waiting.items
        )
        from lms.review import reviewers

        assert [u.email for u in reviewers.reviewers_of("link-member")] == [
            "facilitator@example.org"
        ]
        # What no one can review is rep work from trainees not (yet) on a rep run: the
        # rep course names no reviewers, and its trainees' runs bring the work to one.
        unassigned = reviewers.unassigned_page(1, 100).items
        assert all(item.course.slug == "rep" for item in unassigned)
        # The demo officer has requests to decide, all in North East.
        officer = _demo_user("officer@example.org")
        pending = register.pending(officer, register.Filters())
        assert pending.total >= 1
        assert {row.region.name for row in pending.items} == {"North East"}
        password = demo_password()

    # The demo accounts still log in with the demo password and see their pages.
    for email, path, expected in [
        ("facilitator@example.org", "/facilitate/reviews", "Waiting for review"),
        ("officer@example.org", "/register", "Awaiting confirmation"),
        ("trainee@example.org", "/dashboard", "Sam"),
        ("admin@example.org", "/admin/users", "Morwenna Pryce"),
    ]:
        client = app.test_client()
        assert login(client, email, password).status_code == 302, email
        page = client.get(path)
        assert page.status_code == 200, (email, path)
        assert expected in page.get_data(as_text=True), (email, path)


def test_running_twice_adds_more_and_changes_no_demo_account(app):
    with app.app_context():
        first = demo.populate(20, seed=5)
        before = _demo_accounts()
        emails_before = set(db.session.scalars(select(User.email)))
        second = demo.populate(20, seed=5)  # the same seed: same names, new emails
        after = _demo_accounts()
        emails_after = set(db.session.scalars(select(User.email)))
        assert before == after
        assert len(emails_after - emails_before) == 20 + second.get("facilitators", 0)
        assert "officers" not in second  # every region has its officer from the first run
        assert first["trainees"] == second["trainees"] == 20
        check_consistency()
        # Generated people log in with the demo password too.
        someone = db.session.scalar(
            select(User.email)
            .where(User.email.not_in([e for e, *_ in DEMO_PEOPLE]), User.password_hash.is_not(None))
            .where(User.is_active_account)
            .limit(1)
        )
        password = demo_password()
    client = app.test_client()
    assert login(client, someone, password).status_code == 302


def test_populate_refuses_bad_numbers(app):
    with app.app_context():
        with pytest.raises(demo.DemoError, match="between 0"):
            demo.populate(-1)
        with pytest.raises(demo.DemoError, match="negative"):
            demo.populate(5, pdfs=-2)


def test_populate_zero_adds_only_what_setup_would(app):
    with app.app_context():
        counts = demo.populate(0)
        assert "trainees" not in counts
        # Setup's demo accounts and runs were made (the test database starts without them).
        assert _demo_user("officer@example.org") is not None
        assert db.session.scalar(select(func.count(CourseRun.id))) == 2


def test_cli_populates_with_a_progress_bar_and_renders_some_pdfs(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["lms", "demo", "populate", "--trainees", "25", "--pdfs", "1"])
    assert result.exit_code == 0, result.output
    assert "Adding trainees" in result.output
    assert "25 trainees" in result.output
    assert "certificates" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id))) >= 25 + len(DEMO_PEOPLE)
        # The one PDF asked for was rendered (jobs run after the commit in tests); the
        # other certificates have none yet but are listed and verify.
        files = db.session.scalar(
            select(func.count(CertificateFile.id)).where(CertificateFile.is_current)
        )
        assert files == 1
        token = db.session.scalar(
            select(Certificate.token)
            .where(Certificate.id.not_in(select(CertificateFile.certificate_id)))
            .limit(1)
        )
    page = app.test_client().get(f"/verify/{token}")
    assert page.status_code == 200
    assert "valid" in page.get_data(as_text=True).lower()


def test_cli_refuses_a_bad_number(app):
    result = app.test_cli_runner().invoke(args=["lms", "demo", "populate", "--trainees", "-5"])
    assert result.exit_code == 2
    assert "--trainees" in result.output

"""The dashboard: each role's panels with their counts and links, empty states, several roles.

A trainee's page shows what is due before their next course day and the reviews
returned since they were last in the course; staff see the work their roles hold
(lms.dashboards) above their own courses.
"""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from pathlib import Path

from flask import url_for
from sqlalchemy import select

from lms.accounts.models import User
from lms.accreditation.models import Accreditation, Certificate
from lms.dashboards import services as dashboards
from lms.db import utcnow
from lms.extensions import db
from lms.jobs.models import Job
from lms.learning import services as learning
from lms.learning.models import ActivityProgress, Attempt, AttemptReview
from lms.plugins import build_registry
from lms.review import services as review
from lms.runs import services as runs
from lms.runs.models import CourseRun, PlaceStatus, RunPlace
from tests.conftest import login, region
from tests.functional.accreditation_helpers import grant
from tests.functional.run_helpers import complete_course, enrolment_of, make_run

CASE = "representing-members-case"


def client_for(app, user_id: int):
    with app.app_context():
        email = db.session.get(User, user_id).email
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def page(client) -> str:
    response = client.get("/dashboard")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def url(app, endpoint: str, **values) -> str:
    with app.test_request_context():
        return url_for(endpoint, **values)


def rep(app):
    return app.extensions["lms.courses"].get("rep")


def due_keys(course) -> list[str]:
    """The rep course's activities due before the days: required, not forms about the days."""
    registry = build_registry()
    return [
        a.key
        for a in course.activities
        if a.key in course.required_keys and not registry[a.type].after_course_days
    ]


def book(app, run_id: int, user_id: int, admin_id: int, status: str = PlaceStatus.BOOKED) -> None:
    """A place as the training office adds one (enrolling the person), booked or waiting."""
    with app.app_context():
        run = db.session.get(CourseRun, run_id)
        place = runs.admin_add(
            run,
            db.session.get(User, user_id),
            db.session.get(User, admin_id),
            force_book=status == PlaceStatus.BOOKED,
        )
        if status == PlaceStatus.WAITING and place.status != PlaceStatus.WAITING:
            place.status = PlaceStatus.WAITING
            place.waiting_since = utcnow()
        db.session.commit()


def make_past_run(app, facilitators=()) -> int:
    with app.app_context():
        start = date.today() - timedelta(days=40)
        run = runs.create_run(
            runs.RunInput(
                course_slug="rep",
                title="rep run that has finished",
                days=[start, start + timedelta(days=1)],
                capacity=8,
                venue="Congress House, London",
                facilitator_ids=tuple(facilitators),
            )
        )
        db.session.commit()
        return run.id


def complete_activities(app, user_id: int, keys: list[str], slug: str = "rep") -> None:
    with app.app_context():
        enrolment = enrolment_of(user_id, slug)
        existing = {
            p.activity_key: p
            for p in db.session.scalars(
                select(ActivityProgress).where(ActivityProgress.enrolment_id == enrolment.id)
            )
        }
        for key in keys:
            row = existing.get(key) or ActivityProgress(
                enrolment_id=enrolment.id, activity_key=key, state={}
            )
            row.is_complete = True
            row.completed_at = utcnow()
            db.session.add(row)
        db.session.commit()


def send_case(app, user_id: int, key: str = CASE) -> int:
    """A case-study answer sent (an attempt, and the review queue's row for it)."""
    with app.app_context():
        enrolment = enrolment_of(user_id, "rep")
        attempt = Attempt(
            enrolment_id=enrolment.id,
            activity_key=key,
            activity_type="case_study",
            number=1,
            content_version=rep(app).version,
            data={"answer": "I would listen first."},
        )
        db.session.add(attempt)
        db.session.flush()
        review.refresh_items([enrolment.id])
        db.session.commit()
        return attempt.id


def review_attempt(app, attempt_id: int, reviewer_id: int, decision="needs_work", when=None):
    with app.app_context():
        db.session.add(
            AttemptReview(
                attempt_id=attempt_id,
                reviewer_id=reviewer_id,
                decision=decision,
                criteria={},
                comments="Say what you would ask HR for, and by when.",
                created_at=when or utcnow(),
            )
        )
        db.session.flush()
        enrolment_id = db.session.get(Attempt, attempt_id).enrolment_id
        review.refresh_items([enrolment_id])
        db.session.commit()


def set_last_visit(app, user_id: int, when) -> None:
    with app.app_context():
        enrolment = enrolment_of(user_id, "rep")
        enrolment.last_visited_at = when
        enrolment.last_activity_key = CASE
        db.session.commit()


# --- Trainees -------------------------------------------------------------------------------


def test_a_trainee_sees_no_staff_panels(trainee_client):
    html = page(trainee_client)
    assert "Hello, Sam" in html
    assert "My courses" in html and "Other courses" in html
    for staff in ("Your runs", "Your region", "Training office", "Before your course days"):
        assert staff not in html


def test_what_is_due_before_the_next_course_day(app, make):
    admin = make("admin")
    trainee = make("trainee", name="Tegan Morris")
    complete_course(app, trainee)
    run_id = make_run(app, course="rep", title="Rep course, Leeds")
    first_day = date.today() + timedelta(days=30)
    course = rep(app)
    keys = due_keys(course)
    assert len(keys) > 5
    book(app, run_id, trainee, admin)
    client = client_for(app, trainee)

    html = page(client)
    assert "Before your course days" in html
    assert "Rep course, Leeds" in html
    with app.app_context():
        day = first_day.strftime("%-d %B %Y")
    assert f"{len(keys)} activities due before {day}" in html
    # The first five, in course order, as links; the rest counted.
    for key in keys[:5]:
        assert f'href="/learn/rep/{key}"' in html
    assert f"and {len(keys) - 5} more." in html
    # Forms about the days are not due before them.
    assert 'href="/learn/rep/feedback-day-1"' not in html

    # Everything done but one case study, sent and waiting for review: all done.
    complete_activities(app, trainee, [k for k in keys if k != CASE])
    send_case(app, trainee)
    html = page(client)
    assert "All done" in html
    assert f"You have done everything online that is due before {day}." in html
    assert "1 case study is waiting for review." in html

    # Sent back for more work: due again, marked to revise.
    with app.app_context():
        attempt_id = db.session.scalar(select(Attempt.id).where(Attempt.activity_key == CASE))
    review_attempt(app, attempt_id, admin)
    html = page(client)
    assert f"1 activity due before {day}" in html
    assert "to revise" in html


def test_a_booked_place_before_joining_the_course_says_to_join(app, make):
    admin = make("admin")
    trainee = make("trainee")
    complete_course(app, trainee)
    run_id = make_run(app, course="rep")
    with app.app_context():
        db.session.add(
            RunPlace(
                run_id=run_id,
                user_id=trainee,
                status=PlaceStatus.BOOKED,
                booked_at=utcnow(),
                added_by_id=admin,
            )
        )
        db.session.commit()
    html = page(client_for(app, trainee))
    assert f"{len(due_keys(rep(app)))} activities due before" in html
    assert 'href="/courses/rep">Join the course to start' in html


def test_runs_that_are_over_or_waiting_places_have_nothing_due(app, make):
    admin = make("admin")
    trainee = make("trainee")
    complete_course(app, trainee)
    past = make_past_run(app)
    full = make_run(app, course="link-member", capacity=1)
    book(app, past, trainee, admin)
    other = make("trainee")
    book(app, full, other, admin)
    book(app, full, trainee, admin, status=PlaceStatus.WAITING)
    html = page(client_for(app, trainee))
    assert "Before your course days" not in html
    assert "Waiting list: number 1" in html  # the course days keep the waiting place


def cancel(app, run_id: int, admin_id: int, reason="The venue is closed for repairs.") -> None:
    with app.app_context():
        runs.cancel_run(db.session.get(CourseRun, run_id), reason, db.session.get(User, admin_id))
        db.session.commit()


def test_a_cancelled_run_has_nothing_due_and_says_it_is_cancelled(app, make):
    admin = make("admin")
    trainee = make("trainee")
    complete_course(app, trainee)
    run_id = make_run(app, course="rep", title="Rep course, Hull")
    book(app, run_id, trainee, admin)
    cancel(app, run_id, admin)
    html = page(client_for(app, trainee))
    assert "Before your course days" not in html
    days = html[html.index('id="days-h"') :]
    assert "Rep course, Hull" in days
    assert "This run has been cancelled" in days and "You have a place" not in days
    assert "The venue is closed for repairs." in days


def test_reviews_returned_come_first_until_the_trainee_has_been_back(app, make):
    admin = make("admin")
    trainee = make("trainee")
    complete_course(app, trainee)
    book(app, make_run(app, course="rep"), trainee, admin)
    attempt_id = send_case(app, trainee)
    set_last_visit(app, trainee, utcnow() - timedelta(hours=2))
    review_attempt(app, attempt_id, admin, when=utcnow() - timedelta(hours=1))
    client = client_for(app, trainee)

    html = page(client)
    assert "Reviews returned" in html
    title = rep(app).activity(CASE).title
    returned = html.index("Reviews returned")
    assert title in html[returned : html.index("</section>", returned)]
    # After the course's next step, before what is due and the other work.
    assert html.index('id="courses-h"') < returned < html.index('id="due-h"')
    assert "Needs more work" in html
    assert "Revise and resend your answer" in html
    assert "My case studies" not in html  # nothing else has been sent

    # Back in the course since the review: an ordinary case study again.
    set_last_visit(app, trainee, utcnow())
    html = page(client)
    assert "Reviews returned" not in html
    assert title in html[html.index("My case studies") :]
    assert "Needs more work" in html


def test_certificates_show_their_status(app, make, tmp_path):
    trainee = make("trainee")
    grant(app, trainee, "rep")
    grant(app, trainee, "link-member")
    client = client_for(app, trainee)
    html = page(client)
    assert html.count(">Valid</span>") == 2
    with app.app_context():
        rows = list(db.session.scalars(select(Certificate).order_by(Certificate.id)))
        rows[0].expires_at = utcnow() + timedelta(days=20)
        rows[1].revoked_at = utcnow()
        db.session.commit()
    html = page(client)
    assert "Expiring soon" in html
    assert "Talk to your national officer about re-accreditation." in html
    assert ">Revoked</span>" in html


def test_certificate_state_names_each_status():
    now = utcnow()

    def cert(**fields):
        return Certificate(expires_at=fields.get("expires"), revoked_at=fields.get("revoked"))

    assert dashboards.certificate_state(cert(), now) == "valid"
    assert dashboards.certificate_state(cert(expires=now + timedelta(days=400)), now) == "valid"
    assert dashboards.certificate_state(cert(expires=now + timedelta(days=59)), now) == "expiring"
    assert dashboards.certificate_state(cert(expires=now - timedelta(days=1)), now) == "expired"
    assert dashboards.certificate_state(cert(revoked=now), now) == "revoked"


# --- Facilitators ---------------------------------------------------------------------------


def test_the_facilitator_panel_counts_each_run(app, make):
    admin = make("admin")
    fac = make("facilitator", name="Femi Adeyemi")
    other_fac = make("facilitator")
    run_id = make_run(app, course="rep", capacity=4, facilitators=[fac], title="Rep, Leeds")
    make_run(app, course="rep", facilitators=[other_fac], title="Someone else's run")
    make_past_run(app, facilitators=[fac])
    cancelled = make_run(app, course="link-member", facilitators=[fac], title="Cancelled run")
    cancel(app, cancelled, admin)
    trainees = [make("trainee") for _ in range(3)]
    for t in trainees:
        complete_course(app, t)
        book(app, run_id, t, admin)
    # One has finished the online part; two have sent work waiting for review, one of
    # which was reviewed already (so it no longer waits).
    with app.app_context():
        enrolment_of(trainees[0], "rep").completed_at = utcnow()
        db.session.commit()
    send_case(app, trainees[1])
    send_case(app, trainees[2])
    reviewed = send_case(app, trainees[2], key="role-of-reps-case")
    review_attempt(app, reviewed, fac, decision="accepted")

    html = page(client_for(app, fac))
    assert "Your runs" in html
    assert "Rep, Leeds" in html
    assert "Someone else&#39;s run" not in html and "Someone else's run" not in html
    assert "rep run that has finished" not in html
    assert "Cancelled run" not in html
    assert "3 of 4" in html  # booked
    assert "1 of 3" in html  # finished online
    assert "<dt>Answers to review</dt><dd>2</dd>" in html
    assert f'href="{url(app, "review.queue", run=run_id)}"' in html
    assert f'href="{url(app, "cohorts.grid", run_id=run_id)}"' in html
    assert f'href="{url(app, "cohorts.grid_csv", run_id=run_id)}"' in html
    assert f'href="{url(app, "runs.run", run_id=run_id)}"' in html
    # The queue the link opens counts the same two.
    with app.test_request_context():
        facilitator = db.session.get(User, fac)
        assert review.queue(facilitator, review.QueueFilters(run=str(run_id))).total == 2


def test_a_facilitator_without_runs_is_told_so(app, make):
    fac = make("facilitator")
    html = page(client_for(app, fac))
    assert "You have no upcoming runs." in html
    assert f'href="{url(app, "runs.my_runs")}"' in html


# --- National officers ----------------------------------------------------------------------


def accreditation(app, user_id, region_name, status="pending", **fields) -> int:
    with app.app_context():
        record = Accreditation(
            user_id=user_id,
            course_slug=fields.pop("course_slug", "rep"),
            course_version=fields.pop("course_version", rep(app).version),
            status=status,
            region_id=region(region_name).id,
            **fields,
        )
        db.session.add(record)
        db.session.commit()
        return record.id


def certificate(app, accreditation_id: int, holder: str, expires_at) -> int:
    with app.app_context():
        record = db.session.get(Accreditation, accreditation_id)
        row = Certificate(
            accreditation_id=record.id,
            user_id=record.user_id,
            course_slug=record.course_slug,
            course_version=record.course_version,
            number=f"REP-{secrets.token_hex(4)}",
            token=secrets.token_urlsafe(32),
            holder_name=holder,
            accreditation_title="Accredited MiP Representative",
            course_title="MiP rep course",
            template="rep",
            expires_at=expires_at,
        )
        db.session.add(row)
        db.session.commit()
        return row.id


def test_the_officer_panel_shows_the_regions_work(app, make):
    officer = make("officer", name="Tomasz Nowak", region_name="North East")
    now = utcnow()
    people = [make("trainee", name=f"Person {i}", region_name="North East") for i in range(6)]
    elsewhere = make("trainee", name="Far Away", region_name="London")
    accreditation(app, people[0], "North East", requested_at=now - timedelta(days=12))
    accreditation(app, people[1], "North East", requested_at=now - timedelta(days=3))
    accreditation(app, elsewhere, "London", requested_at=now - timedelta(days=40))
    # Decisions: two in the region (one each way), one elsewhere.
    confirmed = accreditation(
        app,
        people[2],
        "North East",
        status="accredited",
        decided_at=now - timedelta(days=2),
        decided_by_id=officer,
    )
    accreditation(
        app,
        people[3],
        "North East",
        status="declined",
        decided_at=now - timedelta(days=1),
        decided_by_id=officer,
        decision_note="Attend day 2 first.",
    )
    other = accreditation(
        app, elsewhere, "London", status="accredited", decided_at=now, course_slug="link-member"
    )
    # Certificates lapsing: two in the region within 90 days, one later, one elsewhere.
    certificate(app, confirmed, "Person 2", now + timedelta(days=30))
    fourth = accreditation(app, people[4], "North East", status="accredited")
    certificate(app, fourth, "Person 4", now + timedelta(days=80))
    fifth = accreditation(app, people[5], "North East", status="accredited")
    certificate(app, fifth, "Person 5", now + timedelta(days=200))
    certificate(app, other, "Far Away", now + timedelta(days=10))

    html = page(client_for(app, officer))
    assert "Your region: North East" in html
    waiting = html[html.index('id="awaiting-h"') : html.index('id="lapsing-h"')]
    assert '<span class="stat__number">2</span> requests' in waiting
    oldest = (now - timedelta(days=12)).strftime("%-d %B %Y")
    assert f"The oldest was sent on {oldest}" in waiting and "12 days ago" in waiting
    assert f'href="{url(app, "accreditation.register", status="awaiting")}"' in waiting
    lapsing = html[html.index('id="lapsing-h"') : html.index('id="decisions-h"')]
    assert '<span class="stat__number">2</span> certificates' in lapsing
    assert lapsing.index("Person 2") < lapsing.index("Person 4")
    assert "Person 5" not in lapsing and "Far Away" not in lapsing
    assert f'href="{url(app, "accreditation.register")}#expiring-h"' in lapsing
    decisions = html[html.index('id="decisions-h"') :]
    assert decisions.index("Person 3") < decisions.index("Person 2")  # latest first
    assert "Confirmed" in decisions and "Declined" in decisions
    assert "by Tomasz Nowak" in decisions
    assert "Far Away" not in decisions
    assert f'href="{url(app, "accreditation.request_", accreditation_id=confirmed)}"' in decisions


def test_an_officer_with_a_quiet_region_sees_empty_states(app, make):
    officer = make("officer", region_name="North East")
    html = page(client_for(app, officer))
    assert "No requests are waiting for you." in html
    assert "No certificate in your region lapses in the next 90 days." in html
    assert "No accreditation in your region has been confirmed or declined yet." in html


# --- Administrators -------------------------------------------------------------------------


def test_the_admin_panel_shows_runs_filling_failed_jobs_and_content(app, make, monkeypatch):
    admin = make("admin")
    filling = make_run(app, course="link-member", capacity=5, title="Nearly full run")
    half = make_run(app, course="link-member", capacity=5, title="Half empty run")
    waiting = make_run(app, course="link-member", capacity=1, title="Run with a queue")
    people = [make("trainee") for _ in range(8)]
    for person in people[:4]:
        book(app, filling, person, admin)
    for person in people[4:6]:
        book(app, half, person, admin)
    book(app, waiting, people[6], admin)
    book(app, waiting, people[7], admin, status=PlaceStatus.WAITING)
    called_off = make_run(app, course="rep", capacity=1, title="Called-off run")
    book(app, called_off, people[0], admin)
    cancel(app, called_off, admin)
    with app.app_context():
        for _n in range(2):
            db.session.add(Job(task="lms.mail.send", status="failed", last_error="Boom"))
        db.session.add(Job(task="lms.mail.send", status="done"))
        db.session.commit()

    html = page(client_for(app, admin))
    assert "Training office" in html
    runs_panel = html[html.index('id="filling-h"') : html.index('id="jobs-h"')]
    assert "Nearly full run" in runs_panel and "4 of 5 booked" in runs_panel
    assert "Run with a queue" in runs_panel and "1 waiting" in runs_panel
    assert "Half empty run" not in runs_panel
    assert "Called-off run" not in runs_panel
    assert f'href="{url(app, "runs.admin_run", run_id=filling)}"' in runs_panel
    jobs_panel = html[html.index('id="jobs-h"') : html.index('id="content-h"')]
    assert '<span class="stat__number">2</span> jobs failed' in jobs_panel
    assert f'href="{url(app, "jobs.index")}"' in jobs_panel
    assert "No module is due for review in the next 60 days." in html

    # Review dates: within 60 days, then passed.
    review_by = min(m.review_by for c in app.extensions["lms.courses"] for m in c.modules)
    monkeypatch.setattr(dashboards, "today", lambda: review_by - timedelta(days=10))
    html = page(client_for(app, admin))
    content = html[html.index('id="content-h"') :]
    assert f"review by {review_by.strftime('%-d %B %Y')}" in content
    assert f'href="{url(app, "catalogue.course", slug="rep")}"' in content
    monkeypatch.setattr(dashboards, "today", lambda: review_by + timedelta(days=1))
    html = page(client_for(app, admin))
    assert f"overdue since {review_by.strftime('%-d %B %Y')}" in html


def test_an_admin_with_a_quiet_site_sees_empty_states(app, make):
    admin = make("admin")
    html = page(client_for(app, admin))
    assert "No upcoming run is 80% full or has a waiting list." in html
    assert "No jobs have failed." in html


# --- Several roles --------------------------------------------------------------------------


def test_a_person_with_several_roles_sees_each_panel_staff_first(app, make):
    person = make("trainee", "facilitator", "officer", "admin", name="Morwenna Hale")
    with app.app_context():
        user = db.session.get(User, person)
        learning.create_enrolment(user, learning.catalogue().get("link-member"))
        db.session.commit()
    html = page(client_for(app, person))
    order = [
        html.index('id="facilitating-h"'),
        html.index('id="region-h"'),
        html.index('id="office-h"'),
        html.index('id="courses-h"'),
    ]
    assert order == sorted(order)
    assert "MiP link member course" in html[order[3] :]


def test_the_page_is_laid_out_in_columns(trainee_client, app):
    html = page(trainee_client)
    assert 'class="layout-columns' in html and "layout-columns__main" in html
    css = (Path(app.static_folder) / "css" / "app.css").read_text(encoding="utf-8")
    assert ".layout-columns {" in css and ".panel-grid {" in css

"""Notifications: the in-app list with its kept unread count, email through the queue with
plain-text and HTML parts, per-kind email choices, the notices other domains' events cause,
and the daily reminders."""

from __future__ import annotations

import email
import re
from datetime import date, timedelta
from email import policy
from pathlib import Path

from sqlalchemy import select

from lms.accounts.models import User
from lms.accreditation.models import Certificate
from lms.extensions import db
from lms.notifications import services as notices
from lms.notifications.models import Notification
from lms.runs import services as runs
from lms.runs.models import CourseRun
from tests.conftest import csrf_from, get_csrf, login
from tests.functional.accreditation_helpers import grant
from tests.functional.run_helpers import complete_course

CASE = "representing-members-case"


def client_for(app, email_address):
    client = app.test_client()
    assert login(client, email_address).status_code == 302
    return client


def outbox(app) -> list[tuple[str, str, str]]:
    return app.extensions.get("lms.outbox", [])


def notices_of(user_id: int) -> list[Notification]:
    return list(
        db.session.scalars(
            select(Notification).where(Notification.user_id == user_id).order_by(Notification.id)
        )
    )


def give(app, user_id: int, kind="review_returned", key=None, subject="Your case study"):
    with app.app_context():
        user = db.session.get(User, user_id)
        made = notices.notify(
            user,
            kind,
            subject,
            "First paragraph.\n\nSecond paragraph.",
            link="/dashboard",
            key=key,
        )
        db.session.commit()
        return made.id if made else None


def test_a_notice_is_listed_counted_and_emailed_with_text_and_html(app, make):
    folder = Path(app.instance_path, "outbox")
    for old in folder.glob("*.eml"):  # other tests' messages (the instance is shared)
        old.unlink()
    uid = make("trainee", email="nia@example.org", name="Nia Rowlands")
    give(app, uid)
    with app.app_context():
        assert db.session.get(User, uid).unread_notifications == 1
        [notice] = notices_of(uid)
        assert notice.is_emailed and notice.read_at is None
    [(to, subject, body)] = outbox(app)
    assert to == "nia@example.org" and subject == "Your case study"
    assert body.startswith("Hello Nia,")
    assert "Second paragraph." in body
    assert "You got this email because you sent an answer for review (a case study, for example)." in body
    assert "/notifications/settings" in body
    # The message written to the outbox folder has both parts.
    messages = [
        email.message_from_bytes(f.read_bytes(), policy=policy.default)
        for f in Path(app.instance_path, "outbox").glob("*.eml")
    ]
    [message] = [m for m in messages if m["To"] == "nia@example.org"]
    assert message.get_content_type() == "multipart/alternative"
    html = message.get_body(("html",)).get_content()
    plain = message.get_body(("plain",)).get_content()
    assert "<p>Second paragraph.</p>" in html and 'href="http' in html
    assert "Second paragraph." in plain


def test_a_key_gives_a_notice_once(app, make):
    uid = make("trainee")
    assert give(app, uid, key="day-1-reminder") is not None
    assert give(app, uid, key="day-1-reminder") is None
    with app.app_context():
        assert len(notices_of(uid)) == 1
        assert db.session.get(User, uid).unread_notifications == 1
    assert len(outbox(app)) == 1


def test_header_count_list_marks_read_and_mark_all(app, make):
    uid = make("trainee", email="nia@example.org")
    for n in range(3):
        give(app, uid, subject=f"Notice {n}")
    client = client_for(app, "nia@example.org")
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert re.search(r"Notifications <span class=\"count-badge\">3<span", dashboard)
    listing = client.get("/notifications").get_data(as_text=True)
    assert listing.count(">New</span>") == 3
    assert listing.index("Notice 2") < listing.index("Notice 0")  # newest first
    # Opening the list marked them read: the header has no count, the list no "New".
    assert "count-badge" not in listing
    again = client.get("/notifications").get_data(as_text=True)
    assert ">New</span>" not in again
    with app.app_context():
        assert db.session.get(User, uid).unread_notifications == 0
        assert all(n.read_at is not None for n in notices_of(uid))
    give(app, uid, subject="A later one")
    assert "count-badge" in client.get("/dashboard").get_data(as_text=True)
    token = csrf_from(again)
    assert client.post("/notifications/read", data={"csrf_token": token}).status_code == 302
    assert "count-badge" not in client.get("/dashboard").get_data(as_text=True)
    with app.app_context():
        assert notices.recount(db.session.get(User, uid)) == 0


def test_email_choices_per_kind_keep_the_in_app_notice(app, make):
    uid = make("trainee", email="nia@example.org")
    client = client_for(app, "nia@example.org")
    page = client.get("/notifications/settings").get_data(as_text=True)
    assert 'name="email_review_returned" value="1" checked' in page
    # A trainee is not offered the officers' or facilitators' kinds.
    assert "email_request_waiting" not in page and "email_case_study_waiting" not in page
    data = {"csrf_token": csrf_from(page), "email_place_confirmed": "1"}
    assert client.post("/notifications/settings", data=data).status_code == 302
    page = client.get("/notifications/settings").get_data(as_text=True)
    assert 'name="email_review_returned" value="1" >' in page
    assert 'name="email_place_confirmed" value="1" checked' in page
    give(app, uid, kind="review_returned")
    give(app, uid, kind="place_confirmed", subject="Your place")
    assert [s for _t, s, _b in outbox(app)] == ["Your place"]
    with app.app_context():
        assert [n.kind for n in notices_of(uid)] == ["review_returned", "place_confirmed"]
        assert [n.is_emailed for n in notices_of(uid)] == [False, True]


def test_officer_is_offered_their_kinds(app, make):
    make("officer", email="olu@example.org")
    page = client_for(app, "olu@example.org").get("/notifications/settings").get_data(as_text=True)
    assert "email_request_waiting" in page and "email_region_certificate_expiring" in page
    assert "email_case_study_waiting" not in page


def test_case_study_sent_tells_the_facilitator_and_the_review_tells_the_trainee(app, make):
    from tests.functional.run_helpers import make_run
    from tests.functional.test_case_studies import answer, case_config

    fac = make("facilitator", email="fac@example.org", name="Femi Adeyemi")
    trainee = make("trainee", email="t@example.org", name="Tegan Morris")
    complete_course(app, trainee)
    run_id = make_run(app, facilitators=[fac])
    client = client_for(app, "t@example.org")
    client.post(f"/runs/{run_id}/sign-up", data={"csrf_token": get_csrf(client, "/courses/rep")})
    url = f"/learn/rep/{CASE}"
    page = client.get(url).get_data(as_text=True)
    client.post(url, data={"csrf_token": csrf_from(page), "answer": answer(160)})
    with app.app_context():
        [waiting] = [n for n in notices_of(fac) if n.kind == "case_study_waiting"]
        assert waiting.link.startswith("/facilitate/reviews/")
    # The email to the facilitator does not name the trainee.
    mails = [(s, b) for to, s, b in outbox(app) if to == "fac@example.org"]
    assert mails and all("Tegan" not in s + b for s, b in mails)

    facilitator = client_for(app, "fac@example.org")
    review_url = waiting.link
    page = facilitator.get(review_url).get_data(as_text=True)
    keys = [c.key for c in case_config(app).criteria]
    data = {
        "csrf_token": csrf_from(page),
        "decision": "needs_work",
        "comments": "Say how you would press for a review of the suspension.",
        **{f"criterion-{k}": "met" for k in keys},
    }
    assert facilitator.post(review_url, data=data).status_code == 302
    with app.app_context():
        [returned] = [n for n in notices_of(trainee) if n.kind == "review_returned"]
        assert "needs more work" in returned.body
        assert returned.link == url
    listing = client.get("/notifications").get_data(as_text=True)
    assert "Your answer has been reviewed: " in listing
    assert f'href="{url}"' in listing


def test_officer_decision_and_certificate_notices(app, make):
    uid = make("trainee", email="t@example.org")
    grant(app, uid, course="rep")
    with app.app_context():
        kinds = [n.kind for n in notices_of(uid)]
        assert "certificate_issued" in kinds
        [issued] = [n for n in notices_of(uid) if n.kind == "certificate_issued"]
        assert issued.link == "/certificates"


def test_daily_reminders_course_day_online_part_and_expired(app, make):
    fac = make("facilitator")
    booked = make("trainee", email="b@example.org")
    done = make("trainee", email="d@example.org")
    today = date(2027, 3, 1)
    with app.app_context():
        run = runs.create_run(
            runs.RunInput(
                course_slug="link-member",
                title="Link member course, Leeds",
                days=[today + timedelta(days=1)],
                capacity=8,
                venue="Leeds",
                facilitator_ids=(fac,),
                is_open=True,
            )
        )
        for uid in (booked, done):
            runs.admin_add(run, db.session.get(User, uid), db.session.get(User, fac))
        db.session.commit()
    complete_course(app, done)  # the online part is finished: no "due" notice
    grant(app, done, course="rep")
    with app.app_context():
        certificate = db.session.scalar(select(Certificate).where(Certificate.user_id == done))
        certificate.expires_at = certificate.issued_at - timedelta(days=1)
        db.session.commit()
        counts = notices.send_daily(today=today)
        db.session.commit()
        assert counts == {"course_day_reminder": 2, "online_part_due": 1, "certificate_expired": 1}
        assert notices.send_daily(today=today) == {
            "course_day_reminder": 0,
            "online_part_due": 0,
            "certificate_expired": 0,
        }
        [due] = [n for n in notices_of(booked) if n.kind == "online_part_due"]
        assert "2 March 2027" in due.subject and due.link == "/learn/link-member"
        assert not [n for n in notices_of(done) if n.kind == "online_part_due"]
        [reminder] = [n for n in notices_of(done) if n.kind == "course_day_reminder"]
        assert reminder.subject.startswith("Tomorrow: Link member course, Leeds, day 1")
        assert [n.kind for n in notices_of(done) if n.kind == "certificate_expired"]


def test_the_daily_job_is_registered_and_scheduled():
    from lms.jobs import services as jobs

    assert "notifications.send_daily" in jobs.registered()
    assert "notifications.send_daily" in jobs._DAILY


def test_a_link_must_be_a_path(app, make):
    uid = make("trainee")
    with app.app_context():
        user = db.session.get(User, uid)
        for bad in ("https://elsewhere.example/x", "//elsewhere.example/x"):
            try:
                notices.notify(user, "review_returned", "s", "b", link=bad)
            except notices.NotificationError:
                continue
            raise AssertionError(bad)


def test_marking_all_read_needs_the_form_token(app, make):
    uid = make("trainee", email="nia@example.org")
    give(app, uid)
    client = client_for(app, "nia@example.org")
    client.post("/notifications/read", data={})
    with app.app_context():
        assert db.session.get(User, uid).unread_notifications == 1
        assert notices_of(uid)[0].read_at is None


def test_places_run_changes_and_cancellation_tell_the_people_on_the_run(app, make):
    """Sign-up with room, a waiting-list place coming up, a run changed and cancelled:
    each person on the run gets the notice, through the runs domain's own services."""
    from tests.functional.run_helpers import make_run

    admin = make("admin")
    first = make("trainee", email="first@example.org")
    second = make("trainee", email="second@example.org")
    for uid in (first, second):
        complete_course(app, uid)
    run_id = make_run(app, capacity=1)
    with app.app_context():
        run = db.session.get(CourseRun, run_id)
        runs.sign_up(db.session.get(User, first), run)
        runs.sign_up(db.session.get(User, second), run)  # no room: the waiting list
        db.session.commit()
        assert [n.kind for n in notices_of(first)] == ["place_confirmed"]
        assert notices_of(second) == []
        place = runs.place_for(db.session.get(User, first), run)
        runs.withdraw(place)
        db.session.commit()
        [promoted] = notices_of(second)
        assert promoted.kind == "place_promoted" and "came up" in promoted.body

        run = db.session.get(CourseRun, run_id)
        moved = [d.day_date + timedelta(days=7) for d in run.days]
        data = runs.RunInput(
            course_slug=run.course_slug,
            title=run.title,
            days=moved,
            capacity=run.capacity,
            venue="Civic Hall, Leeds",
            is_open=True,
        )
        changes = runs.update_run(run, data)
        db.session.commit()
        assert changes
        [changed] = [n for n in notices_of(second) if n.kind == "run_changed"]
        assert "Venue is now Civic Hall, Leeds" in changed.body
        # The same change saved again tells nobody twice.
        runs.update_run(db.session.get(CourseRun, run_id), data)
        db.session.commit()
        assert len([n for n in notices_of(second) if n.kind == "run_changed"]) == 1

        runs.cancel_run(
            db.session.get(CourseRun, run_id), "The venue is closed.", db.session.get(User, admin)
        )
        db.session.commit()
        [cancelled] = [n for n in notices_of(second) if n.kind == "run_cancelled"]
        assert "The venue is closed." in cancelled.body
        assert cancelled.link == "/courses/rep"
    subjects = [s for to, s, _b in outbox(app) if to == "second@example.org"]
    assert any(s.startswith("A place has come up for you") for s in subjects)
    assert any(s.startswith("A course run has been cancelled") for s in subjects)

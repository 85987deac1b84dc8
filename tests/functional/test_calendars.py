"""Calendars: a run's and a place's iCalendar file, the personal feed, and what changes do
to them (same UID, higher SEQUENCE, cancelled events), read back with icalendar."""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from datetime import date, time, timedelta

from icalendar import Calendar
from sqlalchemy import select

from lms import signals
from lms.calendars.models import CalendarFeed
from lms.extensions import db
from lms.logs import add_filter, redact
from lms.runs import services as runs
from lms.runs.models import RunPlace
from tests.conftest import csrf_from, get_csrf, login
from tests.functional.run_helpers import complete_course, get_run, make_run

ICS = "text/calendar; charset=utf-8"


def client_for(app, email):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def ics(response) -> Calendar:
    assert response.status_code == 200, response.status_code
    assert response.headers["Content-Type"] == ICS
    assert response.headers["Content-Disposition"].startswith('attachment; filename="')
    assert response.headers["Content-Disposition"].endswith('.ics"')
    return Calendar.from_ical(response.data)


def events(cal: Calendar) -> list:
    return sorted(cal.events, key=lambda e: e.start)


@contextmanager
def captured(signal):
    sent = []

    def record(_sender, **kwargs):
        place = kwargs.get("place")
        if place is not None:  # read now: the object is gone after the request
            kwargs["user_id"] = place.user_id
        sent.append(kwargs)

    with signal.connected_to(record):
        yield sent


def book(app, email, run_id, name=None):
    """A trainee with the link member course done, booked on ``run_id``: (user id, client)."""
    from tests.conftest import get_user

    uid = make_person(app, email, name)
    complete_course(app, uid)
    client = client_for(app, email)
    token = get_csrf(client, "/courses/rep")
    client.post(f"/runs/{run_id}/sign-up", data={"csrf_token": token})
    with app.app_context():
        assert runs.place_for(get_user(app, uid), get_run(run_id)) is not None
    return uid, client


_maker = {}


def make_person(app, email, name=None, role="trainee"):
    return _maker["make"](role, email=email, name=name)


def run_form(run, **override):
    """The admin form's fields for ``run`` as it is, with ``override`` on top."""
    data = {
        "course_slug": run.course_slug,
        "title": run.title,
        "venue": run.venue or "",
        "capacity": str(run.capacity),
        "is_open": "y" if run.is_open else "",
        "online_url": run.online_url or "",
        "facilitator_ids": [str(i) for i in sorted(run.facilitator_ids())],
    }
    if run.is_online:
        data["is_online"] = "y"
    for i, day in enumerate(run.days):
        data[f"days-{i}"] = day.day_date.isoformat()
        data[f"starts-{i}"] = day.starts_at.strftime("%H:%M")
        data[f"ends-{i}"] = day.ends_at.strftime("%H:%M")
    data.update(override)
    return {k: v for k, v in data.items() if v is not None}


def _setup(app, make, **run_kwargs):
    _maker["make"] = make
    make("admin", email="office@example.org")
    fac = make("facilitator", email="fac@example.org", name="Femi Adeyemi")
    run_id = make_run(app, facilitators=[fac], **run_kwargs)
    return run_id, client_for(app, "office@example.org")


def test_a_run_file_has_each_day_in_london_time(app, make):
    run_id, office = _setup(app, make)
    with app.app_context():
        run = get_run(run_id)
        day_ids = [d.id for d in run.days]
        first = run.first_day
    cal = ics(office.get(f"/runs/{run_id}/calendar.ics"))
    assert cal["METHOD"] == "PUBLISH"
    assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["Europe/London"]
    got = events(cal)
    assert [str(e["UID"]) for e in got] == [
        f"run-{run_id}-day-{i}@training.mip.invalid" for i in day_ids
    ]
    assert [str(e["SUMMARY"]) for e in got] == [
        "rep run, London: day 1 of 2",
        "rep run, London: day 2 of 2",
    ]
    assert got[0].start.date() == first
    assert (got[0].start.time(), got[0].end.time()) == (time(9, 30), time(16, 30))
    assert str(got[0].start.tzinfo) == "Europe/London"
    assert b"DTSTART;TZID=Europe/London:" in office.get(f"/runs/{run_id}/calendar.ics").data
    assert str(got[0]["LOCATION"]) == "Congress House, London"
    assert got[0]["SEQUENCE"] == 0 and str(got[0]["STATUS"]) == "CONFIRMED"
    assert "/courses/rep" in str(got[0]["URL"])
    assert "09:30 to 16:30, UK time." in str(got[0]["DESCRIPTION"])


def test_summer_and_winter_days_carry_their_own_offsets(app, make):
    _setup(app, make)
    with app.app_context():
        run = runs.create_run(
            runs.RunInput(
                course_slug="rep",
                title="Two seasons",
                days=[date(2027, 7, 1), date(2027, 12, 1)],
                times={date(2027, 7, 1): (time(10, 0), time(15, 0))},
                capacity=5,
                venue="Leeds",
            )
        )
        db.session.commit()
        run_id = run.id
    office = client_for(app, "office@example.org")
    summer, winter = events(ics(office.get(f"/runs/{run_id}/calendar.ics")))
    assert summer.start.utcoffset() == timedelta(hours=1)  # BST
    assert (summer.start.hour, summer.end.hour) == (10, 15)
    assert winter.start.utcoffset() == timedelta(0)  # GMT
    assert (winter.start.hour, winter.start.minute) == (9, 30)


def test_a_change_keeps_the_uids_and_raises_the_sequence(app, make):
    run_id, office = _setup(app, make)
    book(app, "t@example.org", run_id)
    before = events(ics(office.get(f"/runs/{run_id}/calendar.ics")))
    with app.app_context():
        run = get_run(run_id)
        new_day2 = run.days[1].day_date + timedelta(days=7)
        data = run_form(
            run,
            **{
                "days-1": new_day2.isoformat(),
                "starts-0": "10:00",
                "starts-1": "10:00",
                "venue": "Civic Hall, Leeds",
            },
        )
    data["csrf_token"] = get_csrf(office, f"/admin/runs/{run_id}")
    with captured(signals.run_changed) as sent:
        assert office.post(f"/admin/runs/{run_id}", data=data).status_code == 302
    assert len(sent) == 1
    assert sent[0]["changes"] == [
        f"Day 2 moved to {new_day2.strftime('%-d %B %Y')}",
        "Start time is now 10:00",
        "Venue is now Civic Hall, Leeds",
    ]
    after = events(ics(office.get(f"/runs/{run_id}/calendar.ics")))
    assert [e["UID"] for e in after] == [e["UID"] for e in before]
    assert [e["SEQUENCE"] for e in after] == [1, 1]
    assert after[1].start.date() == new_day2
    assert after[0].start.time() == time(10, 0)
    assert str(after[0]["LOCATION"]) == "Civic Hall, Leeds"
    # Saving again with nothing attendees care about changed: no new sequence, no signal.
    with app.app_context():
        data = run_form(get_run(run_id), title="A new name", capacity="9")
    data["csrf_token"] = get_csrf(office, f"/admin/runs/{run_id}")
    with captured(signals.run_changed) as sent:
        assert office.post(f"/admin/runs/{run_id}", data=data).status_code == 302
    assert sent == []
    with app.app_context():
        assert get_run(run_id).sequence == 1


def test_one_days_time_and_an_online_link(app, make):
    run_id, office = _setup(app, make)
    with app.app_context():
        run = get_run(run_id)
        data = run_form(run, **{"ends-1": "13:00", "is_online": "y", "venue": ""})
    data["csrf_token"] = get_csrf(office, f"/admin/runs/{run_id}")
    # The link must be https.
    refused = office.post(f"/admin/runs/{run_id}", data={**data, "online_url": "http://x.example"})
    assert refused.status_code == 422
    assert "starting https://" in refused.get_data(as_text=True)
    with captured(signals.run_changed) as sent:
        data["online_url"] = "https://meet.example.org/rep-course"
        assert office.post(f"/admin/runs/{run_id}", data=data).status_code == 302
    assert sent[0]["changes"] == [
        "Day 2 now ends at 13:00",
        "The run is now online",
        "Online link is now https://meet.example.org/rep-course",
    ]
    day1, day2 = events(ics(office.get(f"/runs/{run_id}/calendar.ics")))
    assert day2.end.time() == time(13, 0) and day1.end.time() == time(16, 30)
    assert str(day1["LOCATION"]) == "https://meet.example.org/rep-course"
    # Someone who can only see the listing does not get the link.
    make_person(app, "curious@example.org")
    other = client_for(app, "curious@example.org")
    listed = events(ics(other.get(f"/runs/{run_id}/calendar.ics")))
    assert str(listed[0]["LOCATION"]) == "Online"
    assert "meet.example.org" not in other.get(f"/runs/{run_id}/calendar.ics").get_data(
        as_text=True
    )


def test_a_day_must_end_after_it_starts(app, make):
    run_id, office = _setup(app, make)
    with app.app_context():
        data = run_form(get_run(run_id), **{"starts-0": "15:00", "ends-0": "11:00"})
    data["csrf_token"] = get_csrf(office, f"/admin/runs/{run_id}")
    refused = office.post(f"/admin/runs/{run_id}", data=data)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "Day 1 must end after it starts." in html
    assert 'value="15:00"' in html  # what was typed is kept
    # Times as people type them; something that is not a time is named.
    data.update({"starts-0": "9.15", "ends-0": "1700", "starts-1": "half nine"})
    refused = office.post(f"/admin/runs/{run_id}", data=data)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "Give times on the 24-hour clock, like 09:30 or 14:00." in html
    assert 'value="half nine"' in html
    del data["starts-1"]
    assert office.post(f"/admin/runs/{run_id}", data=data).status_code == 302
    with app.app_context():
        day = get_run(run_id).days[0]
        assert (day.starts_at, day.ends_at) == (time(9, 15), time(17, 0))


def test_a_removed_day_leaves_the_feed(app, make):
    run_id, office = _setup(app, make, days=3)
    _uid, trainee = book(app, "t@example.org", run_id)
    page = trainee.post(
        "/account/calendar",
        data={"csrf_token": get_csrf(trainee, "/account/calendar"), "action": "create"},
    ).get_data(as_text=True)
    feed_path = re.search(r'value="https?://[^/]+(/calendar/[^"]+\.ics)"', page).group(1)
    assert len(events(ics(app.test_client().get(feed_path)))) == 3
    with app.app_context():
        run = get_run(run_id)
        removed = run.days[2].id
        data = run_form(run, **{"days-2": "", "starts-2": "", "ends-2": ""})
    data["csrf_token"] = get_csrf(office, f"/admin/runs/{run_id}")
    with captured(signals.run_changed) as sent:
        assert office.post(f"/admin/runs/{run_id}", data=data).status_code == 302
    assert sent[0]["changes"][0].endswith("is no longer a course day")
    left = events(ics(app.test_client().get(feed_path)))
    assert len(left) == 2
    assert all(f"-day-{removed}@" not in str(e["UID"]) for e in left)
    assert {e["SEQUENCE"] for e in left} == {1}


def test_cancelling_a_run(app, make):
    run_id, office = _setup(app, make)
    _uid, trainee = book(app, "t@example.org", run_id)
    other_run = make_run(app, title="rep run, Leeds")
    page = office.get(f"/admin/runs/{run_id}").get_data(as_text=True)
    assert f'href="/admin/runs/{run_id}/cancel"' in page
    assert f'href="/runs/{run_id}/calendar.ics"' in page
    confirm = office.get(f"/admin/runs/{run_id}/cancel").get_data(as_text=True)
    assert "1 person has a place" in confirm
    token = csrf_from(confirm)
    # A reason is required; without CSRF nothing happens.
    no_reason = office.post(f"/admin/runs/{run_id}/cancel", data={"csrf_token": token})
    assert no_reason.status_code == 422
    assert "Say why the run is cancelled" in no_reason.get_data(as_text=True)
    no_csrf = office.post(f"/admin/runs/{run_id}/cancel", data={"reason": "Venue flooded"})
    assert no_csrf.status_code == 400
    with app.app_context():
        assert get_run(run_id).cancelled_at is None
    with captured(signals.run_cancelled) as sent:
        done = office.post(
            f"/admin/runs/{run_id}/cancel", data={"csrf_token": token, "reason": "Venue flooded"}
        )
    assert done.status_code == 302
    assert sent and sent[0]["reason"] == "Venue flooded"
    with app.app_context():
        run = get_run(run_id)
        assert run.cancelled_at is not None and run.cancel_reason == "Venue flooded"
        assert not run.is_open and run.sequence == 1
        assert [p.status for p in run.places] == ["booked"]  # kept for history
    cal = ics(office.get(f"/runs/{run_id}/calendar.ics"))
    assert cal["METHOD"] == "CANCEL"
    assert {str(e["STATUS"]) for e in cal.events} == {"CANCELLED"}
    assert {e["SEQUENCE"] for e in cal.events} == {1}
    assert "Venue flooded" in str(cal.events[0]["DESCRIPTION"])
    # Shown as cancelled on the admin, list and facilitator pages.
    assert "Cancelled on" in office.get(f"/admin/runs/{run_id}").get_data(as_text=True)
    assert "Cancelled" in office.get("/admin/runs").get_data(as_text=True)
    fac = client_for(app, "fac@example.org")
    assert "Venue flooded" in fac.get(f"/facilitate/runs/{run_id}").get_data(as_text=True)
    # Cancelling again, editing, adding people: refused.
    again = office.get(f"/admin/runs/{run_id}/cancel")
    assert again.status_code == 302
    with app.app_context():
        data = run_form(get_run(run_id), title="Reopened")
    data["csrf_token"] = token
    edited = office.post(f"/admin/runs/{run_id}", data=data)
    assert edited.status_code == 422
    assert "has been cancelled" in edited.get_data(as_text=True)
    # The trainee's place file is the cancelled run; they may sign up for another run.
    with app.app_context():
        place_id = db.session.scalar(select(RunPlace.id).where(RunPlace.run_id == run_id))
    mine = ics(trainee.get(f"/my/places/{place_id}/calendar.ics"))
    assert {str(e["STATUS"]) for e in mine.events} == {"CANCELLED"}
    token = get_csrf(trainee, "/courses/rep")
    assert trainee.post(f"/runs/{other_run}/sign-up", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        assert [p.status for p in get_run(other_run).places] == ["booked"]


def test_place_booked_is_sent_whenever_a_place_becomes_booked(app, make):
    run_id, office = _setup(app, make, capacity=1)
    with captured(signals.place_booked) as sent:
        first, first_client = book(app, "first@example.org", run_id)
        second, _client = book(app, "second@example.org", run_id)  # waiting: nothing sent
        assert [(s["user_id"], s["promoted"]) for s in sent] == [(first, False)]
        token = get_csrf(first_client, "/courses/rep")
        first_client.post(f"/runs/{run_id}/withdraw", data={"csrf_token": token})
        assert [(s["user_id"], s["promoted"]) for s in sent][1:] == [(second, True)]
        make_person(app, "third@example.org")
        token = get_csrf(office, f"/admin/runs/{run_id}")
        office.post(
            f"/admin/runs/{run_id}/places",
            data={"csrf_token": token, "add-email": "third@example.org", "add-force_book": "y"},
        )
    assert [s["promoted"] for s in sent] == [False, True, False]


def test_feed_address_is_made_used_and_revoked(app, make):
    run_id, _office = _setup(app, make)
    uid, trainee = book(app, "t@example.org", run_id)
    page = trainee.get("/account/calendar").get_data(as_text=True)
    assert "You have no feed address" in page
    made = trainee.post(
        "/account/calendar", data={"csrf_token": csrf_from(page), "action": "create"}
    )
    assert made.status_code == 200
    html = made.get_data(as_text=True)
    https = re.search(r'value="(https?://[^"]+/calendar/([^"/]+)\.ics)"', html)
    token = https.group(2)
    assert f'href="webcal://localhost/calendar/{token}.ics"' in html
    with app.app_context():
        feed = db.session.scalar(select(CalendarFeed))
        assert feed.user_id == uid and token not in feed.token_hash and len(feed.token_hash) == 64
    # Shown once only.
    assert token not in trainee.get("/account/calendar").get_data(as_text=True)
    anonymous = app.test_client()
    cal = ics(anonymous.get(f"/calendar/{token}.ics"))
    assert len(cal.events) == 2
    assert str(cal["X-WR-CALNAME"]) == "MiP course days"
    assert not anonymous.get(f"/calendar/{token}.ics").headers.getlist("Set-Cookie")
    # A second one while the first is live: refused.
    again = trainee.post(
        "/account/calendar",
        data={"csrf_token": get_csrf(trainee, "/account/calendar"), "action": "create"},
        follow_redirects=True,
    )
    assert "Revoke it to make a new one" in again.get_data(as_text=True)
    revoked = trainee.post(
        "/account/calendar",
        data={"csrf_token": get_csrf(trainee, "/account/calendar"), "action": "revoke"},
    )
    assert revoked.status_code == 302
    assert anonymous.get(f"/calendar/{token}.ics").status_code == 404
    new = trainee.post(
        "/account/calendar",
        data={"csrf_token": get_csrf(trainee, "/account/calendar"), "action": "create"},
    ).get_data(as_text=True)
    new_token = re.search(r"/calendar/([^\"/]+)\.ics", new).group(1)
    assert new_token != token
    assert anonymous.get(f"/calendar/{new_token}.ics").status_code == 200
    assert anonymous.get(f"/calendar/{token}.ics").status_code == 404
    assert anonymous.get("/calendar/not-a-real-token-at-all-0123456789.ics").status_code == 404
    assert anonymous.get("/calendar/x.ics").status_code == 404


def test_others_are_refused(app, make):
    run_id, _office = _setup(app, make, is_open=False)  # not listed for sign-up
    trainee_id = make_person(app, "t@example.org")
    make("facilitator", email="elsewhere@example.org")
    with app.app_context():
        from tests.conftest import get_user

        trainee = get_user(app, trainee_id)
        place_id = runs.admin_add(get_run(run_id), trainee, trainee).id
        db.session.commit()
    make_person(app, "nosy@example.org")
    nosy = client_for(app, "nosy@example.org")
    assert nosy.get(f"/runs/{run_id}/calendar.ics").status_code == 404
    assert nosy.get(f"/my/places/{place_id}/calendar.ics").status_code == 404
    assert nosy.get("/runs/987654/calendar.ics").status_code == 404
    elsewhere = client_for(app, "elsewhere@example.org")
    assert elsewhere.get(f"/runs/{run_id}/calendar.ics").status_code == 404
    # The run's own facilitator, the admin and the booked trainee may.
    assert client_for(app, "fac@example.org").get(f"/runs/{run_id}/calendar.ics").status_code == 200
    owner = client_for(app, "t@example.org")
    assert owner.get(f"/runs/{run_id}/calendar.ics").status_code == 200
    assert owner.get(f"/my/places/{place_id}/calendar.ics").status_code == 200
    # Logged out: to the login page.
    anonymous = app.test_client()
    assert anonymous.get(f"/runs/{run_id}/calendar.ics").status_code == 302
    assert anonymous.get(f"/my/places/{place_id}/calendar.ics").status_code == 302
    assert anonymous.get("/account/calendar").status_code == 302


def test_a_place_given_up_gives_cancelled_events(app, make):
    run_id, _office = _setup(app, make)
    _uid, trainee = book(app, "t@example.org", run_id)
    with app.app_context():
        place_id = db.session.scalar(select(RunPlace.id).where(RunPlace.run_id == run_id))
    before = ics(trainee.get(f"/my/places/{place_id}/calendar.ics"))
    token = get_csrf(trainee, "/courses/rep")
    trainee.post(f"/runs/{run_id}/withdraw", data={"csrf_token": token})
    after = ics(trainee.get(f"/my/places/{place_id}/calendar.ics"))
    assert after["METHOD"] == "CANCEL"
    assert [e["UID"] for e in events(after)] == [e["UID"] for e in events(before)]
    assert {e["SEQUENCE"] for e in after.events} == {1}
    assert {str(e["STATUS"]) for e in after.events} == {"CANCELLED"}


def test_the_feed_token_never_reaches_a_log(app, make):
    run_id, _office = _setup(app, make)
    _uid, trainee = book(app, "t@example.org", run_id)
    html = trainee.post(
        "/account/calendar",
        data={"csrf_token": get_csrf(trainee, "/account/calendar"), "action": "create"},
    ).get_data(as_text=True)
    token = re.search(r"/calendar/([^\"/]+)\.ics", html).group(1)
    # A handler as the app's are: with the redaction filter (lms.logs.install).
    lines: list[str] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: lines.append(handler.format(record))
    add_filter(handler)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        app.test_client().get(f"/calendar/{token}.ics")
        app.test_client().get(f"/calendar/{token}x.ics")
        logging.getLogger("lms.test").warning("Fetched webcal://host/calendar/%s.ics", token)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    text = "\n".join(lines)
    assert token not in text
    assert "webcal://host/calendar/[redacted]" in text
    line = f'1.2.3.4 - - "GET /calendar/{token}.ics HTTP/1.1" 200 "webcal://h/calendar/{token}.ics"'
    assert token not in redact(line)
    assert redact("/account/calendar") == "/account/calendar"
    assert redact(f"/runs/{run_id}/calendar.ics") == f"/runs/{run_id}/calendar.ics"

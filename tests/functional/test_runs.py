"""Course runs: creating them, sign-up with a waiting list, facilitators' views, attendance."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from lms.extensions import db
from lms.runs import services as runs
from lms.runs.models import AttendanceMark
from tests.conftest import csrf_from, get_csrf, login
from tests.functional.run_helpers import complete_course, get_run, make_run


def client_for(app, user_email):
    client = app.test_client()
    assert login(client, user_email).status_code == 302
    return client


def sign_up(client, run_id, slug="rep"):
    token = get_csrf(client, f"/courses/{slug}")
    return client.post(f"/runs/{run_id}/sign-up", data={"csrf_token": token})


def test_admin_creates_a_two_day_run_on_the_web_page(app, make):
    make("admin", email="office@example.org")
    fac = make("facilitator", email="fac@example.org", name="Priya Natarajan")
    client = client_for(app, "office@example.org")
    page = client.get("/admin/runs/new").get_data(as_text=True)
    assert "Priya Natarajan" in page
    start = date.today() + timedelta(days=40)
    data = {
        "csrf_token": csrf_from(page),
        "course_slug": "rep",
        "title": "Rep course, Leeds",
        "days-0": start.isoformat(),
        "days-1": (start + timedelta(days=1)).isoformat(),
        "venue": "",
        "capacity": "8",
        "is_open": "y",
        "facilitator_ids": str(fac),
    }
    # No venue and not online: refused, and everything typed is kept.
    refused = client.post("/admin/runs/new", data=data)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "Give the venue, or tick “Online”." in html
    assert 'value="Rep course, Leeds"' in html
    assert f'value="{start.isoformat()}"' in html
    data["venue"] = "Civic Hall, Leeds"
    created = client.post("/admin/runs/new", data=data)
    assert created.status_code == 302
    with app.app_context():
        from lms.runs.models import CourseRun

        run = db.session.scalar(select(CourseRun))
        assert run.title == "Rep course, Leeds"
        assert [d.day_date for d in run.days] == [start, start + timedelta(days=1)]
        assert run.facilitator_ids() == {fac}
        assert run.capacity == 8 and run.venue == "Civic Hall, Leeds"


def test_sign_up_needs_prerequisites_and_then_books_and_enrols(app, make):
    trainee = make("trainee", email="t@example.org")
    run_id = make_run(app, capacity=2)
    client = client_for(app, "t@example.org")
    refused = sign_up(client, run_id)
    assert refused.status_code == 303
    page = client.get("/courses/rep").get_data(as_text=True)
    assert "once you have completed: MiP link member course" in page
    complete_course(app, trainee)
    ok = sign_up(client, run_id)
    assert ok.status_code == 302
    page = client.get("/courses/rep").get_data(as_text=True)
    assert "You have a place on rep run, London." in page
    assert "Continue where you left off" in page or "Start the course" in page
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert "My course days" in dashboard and "You have a place" in dashboard


def test_full_run_puts_people_on_a_waiting_list_that_moves_up_in_order(app, make):
    run_id = make_run(app, capacity=1)
    clients = []
    for name in ("first", "second", "third"):
        uid = make("trainee", email=f"{name}@example.org")
        complete_course(app, uid)
        clients.append(client_for(app, f"{name}@example.org"))
    for c in clients:
        sign_up(c, run_id)
    second_page = clients[1].get("/courses/rep").get_data(as_text=True)
    assert "waiting list for rep run, London (number 1)" in second_page
    third_page = clients[2].get("/courses/rep").get_data(as_text=True)
    assert "(number 2)" in third_page
    # The booked person gives up their place: the first on the waiting list moves up.
    token = get_csrf(clients[0], "/courses/rep")
    clients[0].post(f"/runs/{run_id}/withdraw", data={"csrf_token": token})
    assert "You have a place on" in clients[1].get("/courses/rep").get_data(as_text=True)
    assert "(number 1)" in clients[2].get("/courses/rep").get_data(as_text=True)
    with app.app_context():
        statuses = sorted(p.status for p in get_run(run_id).places)
        assert statuses == ["booked", "cancelled", "waiting"]


def test_closed_run_refuses_sign_up(app, make):
    uid = make("trainee", email="t@example.org")
    complete_course(app, uid)
    run_id = make_run(app, is_open=False)
    client = client_for(app, "t@example.org")
    assert sign_up(client, run_id).status_code == 303
    assert "This run is not open for sign-up." in client.get("/courses/rep").get_data(as_text=True)


def test_admin_adds_moves_and_removes_people(app, make):
    make("admin", email="office@example.org")
    a = make("trainee", email="a@example.org", name="Aled Price")
    b = make("trainee", email="b@example.org", name="Bea Quinn")
    run1 = make_run(app, capacity=1, title="Run one")
    run2 = make_run(app, capacity=5, title="Run two")
    client = client_for(app, "office@example.org")
    token = get_csrf(client, f"/admin/runs/{run1}")
    client.post(
        f"/admin/runs/{run1}/places", data={"csrf_token": token, "add-email": "a@example.org"}
    )
    client.post(
        f"/admin/runs/{run1}/places", data={"csrf_token": token, "add-email": "b@example.org"}
    )
    with app.app_context():
        places = {p.user_id: p.status for p in get_run(run1).places}
        assert places == {a: "booked", b: "waiting"}
        place_a = next(p.id for p in get_run(run1).places if p.user_id == a)
    moved = client.post(
        f"/admin/runs/{run1}/places/{place_a}/move", data={"csrf_token": token, "target": str(run2)}
    )
    assert moved.status_code == 302
    with app.app_context():
        assert {p.user_id: p.status for p in get_run(run1).places} == {a: "cancelled", b: "booked"}
        assert {p.user_id: p.status for p in get_run(run2).places} == {a: "booked"}
        place_b = next(p.id for p in get_run(run1).places if p.user_id == b)
    client.post(f"/admin/runs/{run1}/places/{place_b}/remove", data={"csrf_token": token})
    with app.app_context():
        assert {p.user_id: p.status for p in get_run(run1).places}[b] == "cancelled"
    # Forcing a place past capacity.
    client.post(
        f"/admin/runs/{run1}/places",
        data={"csrf_token": token, "add-email": "b@example.org", "add-force_book": "y"},
    )
    with app.app_context():
        assert {p.user_id: p.status for p in get_run(run1).places}[b] == "booked"


def test_facilitator_sees_only_their_runs(app, make):
    mine = make("facilitator", email="mine@example.org")
    other = make("facilitator", email="other@example.org")
    t = make("trainee", email="t@example.org", name="Tegan Morris")
    complete_course(app, t)
    run_mine = make_run(app, facilitators=[mine], title="My run")
    run_other = make_run(app, facilitators=[other], title="Their run")
    sign_up(client_for(app, "t@example.org"), run_other)
    client = client_for(app, "mine@example.org")
    listing = client.get("/facilitate").get_data(as_text=True)
    assert "My run" in listing and "Their run" not in listing
    assert client.get(f"/facilitate/runs/{run_mine}").status_code == 200
    assert client.get(f"/facilitate/runs/{run_other}").status_code == 403
    with app.app_context():
        day = get_run(run_other).days[0].id
    assert client.get(f"/facilitate/runs/{run_other}/days/{day}").status_code == 403
    theirs = client_for(app, "other@example.org").get(f"/facilitate/runs/{run_other}")
    html = theirs.get_data(as_text=True)
    assert "Tegan Morris" in html
    assert "Not marked" in html


def test_attendance_for_each_day_with_corrections_kept(app, make):
    fac = make("facilitator", email="fac@example.org", name="Femi Adeyemi")
    admin = make("admin", email="office@example.org", name="Office Person")
    people = []
    for i in range(3):
        uid = make("trainee", email=f"t{i}@example.org", name=f"Trainee {i}")
        complete_course(app, uid)
        people.append(uid)
    run_id = make_run(app, facilitators=[fac])
    for i in range(3):
        sign_up(client_for(app, f"t{i}@example.org"), run_id)
    with app.app_context():
        day1, day2 = (d.id for d in get_run(run_id).days)
    client = client_for(app, "fac@example.org")
    url = f"/facilitate/runs/{run_id}/days/{day1}"
    page = client.get(url).get_data(as_text=True)
    for uid in people:
        assert f'name="status-{uid}"' in page
    data = {
        "csrf_token": csrf_from(page),
        f"status-{people[0]}": "present",
        f"status-{people[1]}": "absent",
        f"status-{people[2]}": "excused",
        f"note-{people[2]}": "Caring responsibilities",
    }
    assert client.post(url, data=data).status_code == 302
    # Day 2, all present.
    url2 = f"/facilitate/runs/{run_id}/days/{day2}"
    data2 = {"csrf_token": csrf_from(page), **{f"status-{u}": "present" for u in people}}
    assert client.post(url2, data=data2).status_code == 302
    # A correction by the administrator on day 1: absent -> present.
    office = client_for(app, "office@example.org")
    data[f"status-{people[1]}"] = "present"
    data["csrf_token"] = get_csrf(office, url)
    assert office.post(url, data=data).status_code == 302
    with app.app_context():
        marks = db.session.scalars(
            select(AttendanceMark)
            .where(AttendanceMark.user_id == people[1])
            .order_by(AttendanceMark.id)
        ).all()
        assert [(m.run_day_id, m.status, m.marked_by_id) for m in marks] == [
            (day1, "absent", fac),
            (day2, "present", fac),
            (day1, "present", admin),
        ]
    html = client.get(url).get_data(as_text=True)
    assert "Record of marks and corrections" in html
    assert "Office Person" in html and "Femi Adeyemi" in html
    assert (
        f'id="status-{people[1]}-present" name="status-{people[1]}" value="present" checked' in html
    )
    run_page = client.get(f"/facilitate/runs/{run_id}").get_data(as_text=True)
    assert "Excused" in run_page


def test_attendance_with_expired_token_keeps_the_marks(app, make):
    fac = make("facilitator", email="fac@example.org")
    uid = make("trainee", email="t@example.org")
    complete_course(app, uid)
    run_id = make_run(app, facilitators=[fac])
    sign_up(client_for(app, "t@example.org"), run_id)
    with app.app_context():
        day = get_run(run_id).days[0].id
    client = client_for(app, "fac@example.org")
    response = client.post(
        f"/facilitate/runs/{run_id}/days/{day}",
        data={"csrf_token": "expired", f"status-{uid}": "excused", f"note-{uid}": "Train strike"},
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Your marks are still here" in html
    assert 'value="excused" checked' in html
    assert 'value="Train strike"' in html


def test_days_keep_their_identity_when_they_move_and_marked_days_stay(app, make):
    """A day moved to another date is the same day (same id, so the same calendar event);
    a day with attendance cannot be moved or removed."""
    make("admin", email="office@example.org")
    fac = make("facilitator", email="fac@example.org")
    uid = make("trainee", email="t@example.org")
    complete_course(app, uid)
    run_id = make_run(app, facilitators=[fac], days=2)
    sign_up(client_for(app, "t@example.org"), run_id)
    office = client_for(app, "office@example.org")
    page = office.get(f"/admin/runs/{run_id}").get_data(as_text=True)
    assert 'name="starts-0"' in page and 'value="09:30"' in page and 'value="16:30"' in page
    with app.app_context():
        run = get_run(run_id)
        ids = [d.id for d in run.days]
        day1, day2 = (d.day_date for d in run.days)
    base = {
        "csrf_token": csrf_from(page),
        "course_slug": "rep",
        "title": "rep run, London",
        "venue": "Congress House, London",
        "capacity": "8",
        "is_open": "y",
        "facilitator_ids": str(fac),
        "days-0": day1.isoformat(),
        "starts-0": "09:00",
        "ends-0": "17:00",
    }
    moved = day2 + timedelta(days=3)
    assert (
        office.post(f"/admin/runs/{run_id}", data={**base, "days-1": moved.isoformat()}).status_code
        == 302
    )
    with app.app_context():
        run = get_run(run_id)
        assert [(d.id, d.day_date) for d in run.days] == [(ids[0], day1), (ids[1], moved)]
        assert (run.days[0].starts_at.hour, run.days[0].ends_at.hour) == (9, 17)
        assert run.days[1].starts_at.strftime("%H:%M") == "09:30"  # empty time: the default
        assert run.sequence == 1
    # Attendance on day 2, then trying to move it: refused, nothing changes.
    fac_client = client_for(app, "fac@example.org")
    url = f"/facilitate/runs/{run_id}/days/{ids[1]}"
    token = get_csrf(fac_client, url)
    fac_client.post(url, data={"csrf_token": token, f"status-{uid}": "present"})
    refused = office.post(
        f"/admin/runs/{run_id}",
        data={**base, "days-1": (moved + timedelta(days=1)).isoformat()},
    )
    assert refused.status_code == 422
    assert "so it cannot be moved" in refused.get_data(as_text=True)
    with app.app_context():
        assert get_run(run_id).days[1].day_date == moved


def test_a_cancelled_run_refuses_sign_up_and_places(app, make):
    admin = make("admin", email="office@example.org")
    uid = make("trainee", email="t@example.org")
    complete_course(app, uid)
    run_id = make_run(app)
    with app.app_context():
        from tests.conftest import get_user

        runs.cancel_run(get_run(run_id), "Trainer ill", get_user(app, admin))
        db.session.commit()
    client = client_for(app, "t@example.org")
    page = client.get("/courses/rep").get_data(as_text=True)
    assert "rep run, London" not in page  # no longer listed
    assert sign_up(client, run_id).status_code == 303
    assert "This run has been cancelled." in client.get("/courses/rep").get_data(as_text=True)
    office = client_for(app, "office@example.org")
    token = get_csrf(office, f"/admin/runs/{run_id}")
    office.post(
        f"/admin/runs/{run_id}/places", data={"csrf_token": token, "add-email": "t@example.org"}
    )
    with app.app_context():
        assert get_run(run_id).places == []

"""Simultaneous sign-ups: places are never over-filled and no one is lost."""

from __future__ import annotations

import threading

from sqlalchemy import select

from lms.extensions import db
from lms.learning.models import Enrolment
from lms.runs.models import RunPlace
from tests.conftest import get_csrf, login
from tests.functional.run_helpers import complete_course, make_run


def ready_clients(app, make, count):
    clients = []
    for i in range(count):
        uid = make("trainee", email=f"racer{i}@example.org")
        complete_course(app, uid)
        client = app.test_client()
        assert login(client, f"racer{i}@example.org").status_code == 302
        clients.append((client, get_csrf(client, "/courses/rep")))
    return clients


def race(clients, run_id):
    """Send every sign-up at the same moment from its own thread."""
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []
    errors: list[BaseException] = []

    def go(client, token):
        try:
            barrier.wait()
            response = client.post(f"/runs/{run_id}/sign-up", data={"csrf_token": token})
            statuses.append(response.status_code)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=pair) for pair in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return statuses


def places(app, run_id):
    with app.app_context():
        return db.session.scalars(select(RunPlace).where(RunPlace.run_id == run_id)).all()


def test_two_trainees_racing_for_the_last_place(app, make):
    run_id = make_run(app, capacity=1)
    statuses = race(ready_clients(app, make, 2), run_id)
    assert statuses == [302, 302]
    found = places(app, run_id)
    assert sorted(p.status for p in found) == ["booked", "waiting"]


def test_twenty_simultaneous_sign_ups_lose_nothing(app, make):
    run_id = make_run(app, capacity=8)
    clients = ready_clients(app, make, 20)
    statuses = race(clients, run_id)
    assert statuses == [302] * 20
    found = places(app, run_id)
    assert len(found) == 20
    assert len({p.user_id for p in found}) == 20
    assert sum(p.status == "booked" for p in found) == 8
    waiting = sorted(
        (p for p in found if p.status == "waiting"), key=lambda p: (p.waiting_since, p.id)
    )
    assert len(waiting) == 12
    with app.app_context():
        enrolled = db.session.scalars(select(Enrolment).where(Enrolment.course_slug == "rep")).all()
        assert len(enrolled) == 20

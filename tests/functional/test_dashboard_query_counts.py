"""The dashboard runs no more SQL queries on a bigger site, for every role's panels.

As tests/functional/test_query_counts.py does for the other pages: a small demo site
(``lms.demo``) is generated, each person's ``/dashboard`` is loaded and its statements
counted, then more trainees are generated on the same database (fuller runs, a longer
review queue, more requests and certificates in the region) and the pages are counted
again. A count that went up is a query per row somewhere.

The people: the demo facilitator, officer and administrator; a generated trainee with
a booked place on an upcoming run and reviewed work (what is due, reviews returned,
the course days); the demo trainee (nothing but a course); and one person holding
every role, who facilitates the demo facilitator's runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from flask import Flask
from sqlalchemy import event, func, select

from lms.accounts import services as accounts
from lms.accounts.cli import demo_password
from lms.accounts.models import User
from lms.extensions import db, limiter
from lms.learning import services as learning
from lms.learning.models import Attempt, AttemptReview, Enrolment
from lms.runs.models import CourseRun, PlaceStatus, RunDay, RunFacilitator, RunPlace
from tests.conftest import clean_tables, login

SMALL = 30
LARGE = 250
_NOT_QUERIES = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA", "SET ")
EVERY_ROLE = "every.role@example.org"

PEOPLE = {
    "trainee with a run": None,  # chosen on the small site (see _busy_trainee)
    "demo trainee": "trainee@example.org",
    "facilitator": "facilitator@example.org",
    "officer": "officer@example.org",
    "admin": "admin@example.org",
    "every role": EVERY_ROLE,
}


class QueryCounter:
    def __init__(self, engine) -> None:
        self.engine = engine
        self.active = False
        self.statements: list[str] = []
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, _conn, _cursor, statement, _params, _context, _executemany) -> None:
        if self.active and not statement.lstrip().upper().startswith(_NOT_QUERIES):
            self.statements.append(statement)

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)


def _busy_trainee() -> User:
    """A generated trainee booked on a run still to come, with reviewed written work."""
    last_day = (
        select(func.max(RunDay.day_date))
        .where(RunDay.run_id == CourseRun.id)
        .correlate(CourseRun)
        .scalar_subquery()
    )
    reviewed = (
        select(Enrolment.user_id)
        .join(Attempt, Attempt.enrolment_id == Enrolment.id)
        .join(AttemptReview, AttemptReview.attempt_id == Attempt.id)
    )
    user = db.session.scalar(
        select(User)
        .join(RunPlace, RunPlace.user_id == User.id)
        .join(CourseRun, CourseRun.id == RunPlace.run_id)
        .where(
            RunPlace.status == PlaceStatus.BOOKED,
            last_day >= date.today(),
            User.id.in_(reviewed),
            User.email.not_like("%@example.org"),
        )
        .order_by(User.id)
        .limit(1)
    )
    if user is None:  # no reviewed work among them: any booked on a run to come
        user = db.session.scalar(
            select(User)
            .join(RunPlace, RunPlace.user_id == User.id)
            .join(CourseRun, CourseRun.id == RunPlace.run_id)
            .where(RunPlace.status == PlaceStatus.BOOKED, last_day >= date.today())
            .order_by(User.id)
            .limit(1)
        )
    assert user is not None, "no trainee is booked on a run still to come"
    return user


def _prepare_small_site(password: str) -> str:
    """The demo trainee joins a course; the busy trainee gets the demo password; the
    person of every role is made and facilitates the demo facilitator's runs."""
    trainee = db.session.scalar(select(User).where(User.email == "trainee@example.org"))
    learning.enrol(trainee, learning.catalogue().get("link-member"))
    busy = _busy_trainee()
    accounts.set_password(busy, password)
    created = accounts.create_user(
        EVERY_ROLE,
        "Alex Every",
        ("trainee", "facilitator", "officer", "admin"),
        accounts.region_by_name("North East"),
        send_link=False,
    )
    accounts.set_password(created.user, password)
    learning.create_enrolment(created.user, learning.catalogue().get("rep"))
    facilitator = db.session.scalar(select(User).where(User.email == "facilitator@example.org"))
    for run_id in db.session.scalars(
        select(RunFacilitator.run_id).where(RunFacilitator.user_id == facilitator.id)
    ):
        db.session.add(RunFacilitator(run_id=run_id, user_id=created.user.id))
    db.session.commit()
    return busy.email


def _measure(app: Flask, counter: QueryCounter, emails: dict[str, str]) -> dict[str, int]:
    with app.app_context():
        password = demo_password()
    limiter.reset()
    counts = {}
    for who, email in emails.items():
        client = app.test_client()
        assert login(client, email, password).status_code == 302, email
        first = client.get("/dashboard")  # warm: caches, lazily built things
        assert first.status_code == 200, (who, first.status_code)
        counter.statements = []
        counter.active = True
        try:
            response = client.get("/dashboard")
        finally:
            counter.active = False
        assert response.status_code == 200, (who, response.status_code)
        counts[who] = len(counter.statements)
    return counts


def _facts() -> dict[str, int]:
    """How big the site is where the panels look."""
    return {
        "people": db.session.scalar(select(func.count(User.id))),
        "places": db.session.scalar(select(func.count(RunPlace.id))),
    }


@pytest.fixture(scope="module")
def sites(session_app: Flask) -> Iterator[dict]:
    from lms.demo import services as demo

    app = session_app
    clean_tables(app)
    with app.app_context():
        counter = QueryCounter(db.engine)
    try:
        with app.app_context():
            demo.populate(SMALL, seed=21)
            db.session.commit()
            emails = dict(PEOPLE, **{"trainee with a run": _prepare_small_site(demo_password())})
            small_facts = _facts()
        small = _measure(app, counter, emails)
        with app.app_context():
            demo.populate(LARGE - SMALL, seed=22)
            db.session.commit()
            large_facts = _facts()
        large = _measure(app, counter, emails)
    finally:
        counter.close()
        with app.app_context():
            db.session.remove()
        clean_tables(app)
    print(f"\n{'dashboard of':<22} {small_facts['people']:>6} {large_facts['people']:>6}  people")
    for who in PEOPLE:
        print(f"{who:<22} {small[who]:>6} {large[who]:>6}")
    yield {"small": (small, small_facts), "large": (large, large_facts)}


def test_the_larger_site_is_larger(sites):
    small, large = sites["small"][1], sites["large"][1]
    assert large["people"] > small["people"] + 200
    assert large["places"] > small["places"]


@pytest.mark.parametrize("who", list(PEOPLE))
def test_dashboard_queries_do_not_grow_with_the_site(sites, who: str):
    small, large = sites["small"][0][who], sites["large"][0][who]
    assert large <= small, (
        f"{who}'s dashboard: {large} queries on a site of {sites['large'][1]['people']} people, "
        f"{small} on a site of {sites['small'][1]['people']}"
    )

"""No page runs more SQL queries because the site is bigger.

One site is generated with ``lms.demo`` (a small one), every page below is loaded
as the demo account that uses it and its SQL statements are counted; then more
trainees are generated on the same database (a larger site, with bigger runs, a
longer review queue, a larger register...) and the pages are counted again. A page
whose count went up runs a query per row somewhere.

The pages are chosen afresh on each site where the data grows (the demo
facilitator's fullest run, the oldest work waiting for review, the newest
certificate in the demo officer's region); the demo trainee's own pages are the same
pages on both. The small site's lists are shorter than a page and the larger site's
fill one, so a query per row shows as a higher count.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import event, func, select

from lms.accounts.cli import demo_password
from lms.accounts.models import User
from lms.accreditation import register
from lms.admin.routes import PAGE_SIZE as ADMIN_PAGE_SIZE
from lms.demo import services as demo
from lms.extensions import db, limiter
from lms.feedback.models import FeedbackResponse
from lms.feedback.services import MIN_RESPONSES
from lms.learning import services as learning
from lms.review import services as review
from lms.runs.models import CourseRun, PlaceStatus, RunDay, RunFacilitator, RunPlace
from tests.conftest import clean_tables, login

SMALL = 30  # trainees on the small site (enough for a run to show its feedback)
LARGE = 250  # trainees on the larger site (the small one plus more)

# Statements that are not queries: transaction control and connection set-up.
_NOT_QUERIES = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA", "SET ")

ACCOUNTS = {
    "trainee": "trainee@example.org",
    "facilitator": "facilitator@example.org",
    "officer": "officer@example.org",
    "admin": "admin@example.org",
}


@dataclass(frozen=True)
class Page:
    name: str
    who: str | None  # a key of ACCOUNTS, or None for a visitor
    url: str  # formatted with the site's targets (see _targets)


PAGES = [
    Page("trainee dashboard", "trainee", "/dashboard"),
    Page("reading page", "trainee", "/learn/link-member/{reading}"),
    Page("quiz page", "trainee", "/learn/link-member/{quiz}"),
    Page("review queue", "facilitator", "/facilitate/reviews"),
    Page("review queue, all work", "facilitator", "/facilitate/reviews?show=all"),
    Page("review item", "facilitator", "/facilitate/reviews/{attempt}"),
    Page("facilitator's runs", "facilitator", "/facilitate"),
    Page("run page", "facilitator", "/facilitate/runs/{run}"),
    Page("attendance", "facilitator", "/facilitate/runs/{run}/days/{day}"),
    Page("run feedback results", "facilitator", "/facilitate/runs/{run}/feedback"),
    Page("course feedback results", "facilitator", "/facilitate/courses/{course}/feedback"),
    Page("register", "officer", "/register"),
    Page("register CSV", "officer", "/register.csv"),
    Page("certificates list", "officer", "/register/certificates"),
    Page("certificate page", "officer", "/register/certificates/{certificate}"),
    Page("admin course runs", "admin", "/admin/runs"),
    Page("admin run roster", "admin", "/admin/runs/{run}"),
    Page("admin users", "admin", "/admin/users"),
    Page("admin jobs", "admin", "/admin/jobs"),
    Page("feedback results (admin)", "admin", "/facilitate/courses/{course}/feedback"),
    Page("verification page", None, "/verify/{token}"),
    Page("certificate API", None, "/api/v1/certificates/{token}"),
]


def _user(email: str) -> User:
    return db.session.scalar(select(User).where(User.email == email))


def _targets() -> dict[str, object]:
    """The rows the pages are about, on the site as it is now."""
    facilitator = _user(ACCOUNTS["facilitator"])
    officer = _user(ACCOUNTS["officer"])
    course = learning.catalogue().get("link-member")
    reading = next(a.key for a in course.activities if a.type == "reading")
    quiz = next(a.key for a in course.activities if a.type == "quiz")
    booked = func.count(RunPlace.id)
    run_id, course_slug = db.session.execute(
        select(CourseRun.id, CourseRun.course_slug)
        .join(RunFacilitator, RunFacilitator.run_id == CourseRun.id)
        .join(RunPlace, RunPlace.run_id == CourseRun.id)
        .where(RunFacilitator.user_id == facilitator.id, RunPlace.status == PlaceStatus.BOOKED)
        .group_by(CourseRun.id, CourseRun.course_slug)
        .order_by(booked.desc(), CourseRun.id)
        .limit(1)
    ).one()
    day_id = db.session.scalar(
        select(RunDay.id).where(RunDay.run_id == run_id).order_by(RunDay.day_date).limit(1)
    )
    waiting = review.queue(facilitator)
    assert waiting.items, "the demo facilitator has nothing to review"
    certificates = register.certificates_page(officer, register.CertificateFilters(), 1, 1)
    assert certificates.items, "no certificate in the demo officer's region"
    certificate = certificates.items[0]
    return {
        "reading": reading,
        "quiz": quiz,
        "run": run_id,
        "day": day_id,
        "course": course_slug,
        # A first answer on both sites: an answer sent again also shows the earlier
        # reviews (one more query, for their reviewers, however many there are).
        "attempt": next(
            (i.attempt.id for i in waiting.items if i.attempt.number == 1),
            waiting.items[0].attempt.id,
        ),
        "certificate": certificate.id,
        "token": certificate.token,
        "booked": db.session.scalar(
            select(booked).where(RunPlace.run_id == run_id, RunPlace.status == PlaceStatus.BOOKED)
        ),
        "waiting": waiting.total,
        "responses": db.session.scalar(
            select(func.count(FeedbackResponse.id)).where(FeedbackResponse.run_id == run_id)
        ),
        "trainees": db.session.scalar(select(func.count(User.id))),
    }


class QueryCounter:
    """Counts the SQL statements the app's engine runs while ``active``."""

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


def _measure(app: Flask, counter: QueryCounter) -> tuple[dict[str, int], dict[str, object]]:
    with app.app_context():
        targets = _targets()
        password = demo_password()
    limiter.reset()
    clients = {None: app.test_client()}
    for who, email in ACCOUNTS.items():
        client = app.test_client()
        assert login(client, email, password).status_code == 302, email
        clients[who] = client
    counts: dict[str, int] = {}
    for page in PAGES:
        url = page.url.format(**targets)
        client = clients[page.who]
        first = client.get(url)  # warm: caches, lazily built things
        assert first.status_code == 200, (page.name, url, first.status_code)
        counter.statements = []
        counter.active = True
        try:
            response = client.get(url)
        finally:
            counter.active = False
        assert response.status_code == 200, (page.name, url, response.status_code)
        counts[page.name] = len(counter.statements)
    return counts, targets


@pytest.fixture(scope="module")
def sites(session_app: Flask) -> Iterator[dict[str, tuple[dict[str, int], dict[str, object]]]]:
    """Query counts per page on the small site and on the larger one."""
    app = session_app
    clean_tables(app)
    with app.app_context():
        counter = QueryCounter(db.engine)
    try:
        with app.app_context():
            demo.populate(SMALL, seed=11)
            trainee = _user(ACCOUNTS["trainee"])
            learning.enrol(trainee, learning.catalogue().get("link-member"))
            db.session.commit()
        small = _measure(app, counter)
        with app.app_context():
            demo.populate(LARGE - SMALL, seed=12)
            db.session.commit()
        large = _measure(app, counter)
    finally:
        counter.close()
        with app.app_context():
            db.session.remove()
        clean_tables(app)
    # The figures, for anyone running this with -s.
    print(f"\n{'page':<28} {small[1]['trainees']:>6} {large[1]['trainees']:>6}  people")
    for page in PAGES:
        print(f"{page.name:<28} {small[0][page.name]:>6} {large[0][page.name]:>6}")
    yield {"small": small, "large": large}


def test_the_larger_site_is_larger(sites):
    small, large = sites["small"][1], sites["large"][1]
    assert large["trainees"] > small["trainees"] + 200
    assert large["booked"] > small["booked"], "the fullest run did not grow"
    assert large["waiting"] > small["waiting"], "the review queue did not grow"
    # Lists shorter than a page on the small site fill a page on the larger one, so a query
    # per row shows as a higher count.
    assert small["waiting"] < review.QUEUE_PAGE_SIZE <= large["waiting"]
    assert small["trainees"] < ADMIN_PAGE_SIZE <= large["trainees"]
    # Feedback results are shown (and their comments queried) from MIN_RESPONSES on: the
    # run on both sites has that many, so the two feedback pages do the same work.
    assert small["responses"] >= MIN_RESPONSES


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_query_count_does_not_grow_with_the_site(sites, page: Page):
    small, large = sites["small"][0][page.name], sites["large"][0][page.name]
    assert large <= small, (
        f"{page.name}: {large} queries on a site of {sites['large'][1]['trainees']} people, "
        f"{small} on a site of {sites['small'][1]['trainees']}"
    )

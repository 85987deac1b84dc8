"""Staff pages on a generated site: latency (median of N requests) and SQL queries per page.

Run from the project folder on a site made by ``lms setup`` and ``lms demo populate``::

    python3 -m uv run --frozen --no-sync python bench/staff_pages.py --site /tmp/q20k \
        [--requests 20] [--json out.json] [--only register --only "admin users"]

``--site DIR`` is an instance folder holding ``lms.db`` (SQLite) and ``demo_password``;
``--database-url`` overrides the database. Requests go through the Flask test client
in this one process (no server, no network, no concurrency), so a figure is the time
the app spends on one request: routing, queries, template, response. Each page is
loaded once to warm up, then ``--requests`` times; the median and the slowest are
printed with the number of SQL statements (transaction control left out) and the size
of the page.

The pages are the ones the demo facilitator, officer and administrator use, on the
rows that have most data: the demo facilitator's fullest run and its first day, the
course of that run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

NOT_QUERIES = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA", "SET ")

PAGES = [
    ("review queue", "facilitator", "/facilitate/reviews"),
    ("review queue, all", "facilitator", "/facilitate/reviews?show=all"),
    ("facilitator's runs", "facilitator", "/facilitate"),
    ("run page (roster)", "facilitator", "/facilitate/runs/{run}"),
    ("attendance", "facilitator", "/facilitate/runs/{run}/days/{day}"),
    ("run feedback", "facilitator", "/facilitate/runs/{run}/feedback"),
    ("course feedback", "facilitator", "/facilitate/courses/{course}/feedback"),
    ("register", "officer", "/register"),
    ("register CSV", "officer", "/register.csv"),
    ("certificates list", "officer", "/register/certificates"),
    ("admin runs", "admin", "/admin/runs"),
    ("admin run (places)", "admin", "/admin/runs/{run}"),
    ("admin users", "admin", "/admin/users"),
    ("course feedback, admin", "admin", "/facilitate/courses/{course}/feedback"),
]
ACCOUNTS = {
    "facilitator": "facilitator@example.org",
    "officer": "officer@example.org",
    "admin": "admin@example.org",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--site", required=True, help="instance folder (with lms.db)")
    parser.add_argument("--database-url", help="default: sqlite:///SITE/lms.db")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument(
        "--only",
        action="append",
        help="a page name as printed (repeat for several); default: every page",
    )
    args = parser.parse_args()
    site = Path(args.site).resolve()
    os.environ["LMS_INSTANCE_PATH"] = str(site)
    os.environ["LMS_DATABASE_URL"] = args.database_url or f"sqlite:///{site / 'lms.db'}"
    os.environ.setdefault("LMS_LOG_LEVEL", "WARNING")
    # The demo administrator logs in with a password alone here (a second factor is
    # asked of administrators by default: LMS_MFA_REQUIRED_ROLES).
    os.environ.setdefault("LMS_MFA_REQUIRED_ROLES", "")

    import logging

    from sqlalchemy import event, func, select

    from lms import create_app
    from lms.accounts.cli import demo_password
    from lms.accounts.models import User
    from lms.extensions import db
    from lms.runs.models import CourseRun, PlaceStatus, RunDay, RunFacilitator, RunPlace

    app = create_app()
    logging.getLogger().setLevel(logging.WARNING)
    with app.app_context():
        password = demo_password()
        people = db.session.scalar(select(func.count(User.id)))
        facilitator_id = db.session.scalar(
            select(User.id).where(User.email == ACCOUNTS["facilitator"])
        )
        booked = func.count(RunPlace.id)
        run_id, course, places = db.session.execute(
            select(CourseRun.id, CourseRun.course_slug, booked)
            .join(RunFacilitator, RunFacilitator.run_id == CourseRun.id)
            .join(RunPlace, RunPlace.run_id == CourseRun.id)
            .where(RunFacilitator.user_id == facilitator_id, RunPlace.status == PlaceStatus.BOOKED)
            .group_by(CourseRun.id, CourseRun.course_slug)
            .order_by(booked.desc(), CourseRun.id)
            .limit(1)
        ).one()
        day_id = db.session.scalar(
            select(RunDay.id).where(RunDay.run_id == run_id).order_by(RunDay.day_date).limit(1)
        )
        engine = db.engine
    targets = {"run": run_id, "day": day_id, "course": course}

    statements: list[str] = []
    counting = [False]

    @event.listens_for(engine, "before_cursor_execute")
    def _count(_conn, _cursor, statement, *_args):
        if counting[0] and not statement.lstrip().upper().startswith(NOT_QUERIES):
            statements.append(statement)

    clients = {}
    for who, email in ACCOUNTS.items():
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf_token"', 1)[1].split('value="', 1)[1].split('"', 1)[0]
        response = client.post(
            "/login", data={"csrf_token": token, "email": email, "password": password}
        )
        if response.status_code != 302:
            sys.exit(f"cannot log in as {email} ({response.status_code})")
        clients[who] = client

    print(f"{site}: {people:,} people; run {run_id} ({course}) with {places} booked places")
    print(f"{'page':<24} {'median ms':>10} {'max ms':>8} {'queries':>8} {'KB':>7}")
    figures = {"site": str(site), "people": people, "pages": {}}
    only = {n.strip() for n in args.only} if args.only else None
    for name, who, url in PAGES:
        if only is not None and name not in only:
            continue
        url = url.format(**targets)
        client = clients[who]
        first = client.get(url)
        if first.status_code != 200:
            sys.exit(f"{name}: {url} answered {first.status_code}")
        statements.clear()
        counting[0] = True
        client.get(url)
        counting[0] = False
        queries = len(statements)
        times = []
        size = 0
        for _ in range(args.requests):
            started = time.perf_counter()
            response = client.get(url)
            size = len(response.get_data())
            times.append((time.perf_counter() - started) * 1000)
        median = statistics.median(times)
        figures["pages"][name] = {
            "url": url,
            "median_ms": round(median, 1),
            "max_ms": round(max(times), 1),
            "queries": queries,
            "bytes": size,
        }
        print(f"{name:<24} {median:>10.1f} {max(times):>8.1f} {queries:>8} {size / 1024:>7.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""The cohort grid and its CSV run as many SQL queries for 30 trainees as for 3.

Every trainee has progress, work sent for review (some reviewed) and attendance marks, so a
query per trainee, per enrolment, per attempt or per mark shows as a higher count.
"""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select

from lms.extensions import db
from lms.runs.models import RunPlace
from tests.conftest import make_user
from tests.functional.run_helpers import make_run
from tests.functional.test_cohorts import (
    CASE_2,
    book,
    client_for,
    decide,
    draft,
    mark,
    read,
    send,
)
from tests.functional.test_query_counts import _NOT_QUERIES


def add_trainees(app, run_id: int, fac: int, start: int, stop: int) -> None:
    """Trainees ``start``..``stop``: a third have done nothing, a third are part way (a
    reading done, a draft kept), a third have one case study accepted and another waiting;
    everyone is marked present on both days."""
    added = []
    for n in range(start, stop):
        user_id = make_user(app, email=f"t{n}@example.org", name=f"Trainee {n:02d}", password=None)
        added.append(user_id)
        book(app, run_id, user_id)
        if n % 3 == 0:
            continue
        read(app, user_id)
        if n % 3 == 1:
            draft(app, user_id)
            continue
        decide(app, send(app, user_id), fac, "accepted")
        send(app, user_id, CASE_2)
    for day in (0, 1):
        mark(app, run_id, dict.fromkeys(added, "present"), fac, day)


def count(app, client, address: str) -> int:
    statements: list[str] = []

    def counted(_conn, _cursor, statement, *_args) -> None:
        if not statement.lstrip().upper().startswith(_NOT_QUERIES):
            statements.append(statement)

    with app.app_context():
        engine = db.engine
    assert client.get(address).status_code == 200  # warm
    event.listen(engine, "before_cursor_execute", counted)
    try:
        response = client.get(address)
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    assert response.status_code == 200, address
    return len(statements)


@pytest.mark.parametrize("query", ["", "?show=not-started", "?show=waiting"])
def test_grid_and_csv_queries_do_not_grow_with_the_cohort(app, make, query):
    fac = make("facilitator", email="fac@example.org", name="Femi Adeyemi")
    run_id = make_run(app, facilitators=[fac], capacity=40)
    add_trainees(app, run_id, fac, 0, 3)
    client = client_for(app, "fac@example.org")
    pages = [
        f"/facilitate/runs/{run_id}/progress{query}",
        f"/facilitate/runs/{run_id}/progress.csv{query}",
    ]
    small = [count(app, client, p) for p in pages]
    add_trainees(app, run_id, fac, 3, 30)
    with app.app_context():
        booked = db.session.scalar(select(func.count(RunPlace.id)).where(RunPlace.run_id == run_id))
    assert booked == 30
    large = [count(app, client, p) for p in pages]
    assert large == small, (pages, small, large)

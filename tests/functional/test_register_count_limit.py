"""The register counts its rows up to a limit (lms.accreditation.register
REGISTER_COUNT_LIMIT, and some pages past the one asked for): below it the count is the
full register's, above it the page says "more than" and every page is still reachable."""

from __future__ import annotations

import pytest

from lms.accounts.models import User
from lms.accreditation import register
from lms.accreditation.models import Accreditation, AccreditationStatus
from lms.extensions import db
from tests.conftest import login, region
from tests.functional.test_register import enrol, request_accreditation


@pytest.fixture()
def site(app, make):
    """An officer of the North East and 9 people there: enrolled, some on two courses,
    some with a request, one with two records for a course (a declined one and a newer
    request), one with a record and no enrolment."""
    officer = make("officer", email="officer@example.org", name="Zed Officer")
    people = []
    for n in range(9):
        person = make("trainee", email=f"p{n}@example.org", name=f"Person {n}")
        people.append(person)
        if n != 8:
            enrol(app, person)
        if n % 3 == 0 and n != 8:
            request_accreditation(app, person)
        if n % 4 == 1:
            enrol(app, person, "link-member")
    with app.app_context():
        north_east = region("North East")
        # A second record for a person and course (an earlier version's, declined).
        db.session.add(
            Accreditation(
                user_id=people[3],
                course_slug="rep",
                course_version="0",
                status=AccreditationStatus.DECLINED.value,
                region_id=north_east.id,
            )
        )
        # Someone with a record and no enrolment (a prior accreditation).
        db.session.add(
            Accreditation(
                user_id=people[8],
                course_slug="rep",
                course_version="1",
                status=AccreditationStatus.DECLINED.value,
                region_id=north_east.id,
            )
        )
        db.session.commit()
    return officer


def _everything(viewer):
    return [(r.person.id, r.course_slug) for r in register.rows(viewer, register.Filters())]


def test_below_the_limit_the_count_is_the_registers(app, site):
    with app.app_context():
        viewer = db.session.get(User, site)
        everything = _everything(viewer)
        assert len(everything) == 11  # 8 enrolled on rep, 2 also on link-member, 1 prior
        result = register.page(viewer, register.Filters(), 1, 5)
        assert result.total == len(everything)
        assert not result.more


def test_above_the_limit_every_page_is_reachable_and_the_page_says_more(app, site, monkeypatch):
    monkeypatch.setattr(register, "REGISTER_COUNT_LIMIT", 4)
    monkeypatch.setattr(register, "COUNT_PAGES_AHEAD", 1)
    with app.app_context():
        viewer = db.session.get(User, site)
        everything = _everything(viewer)
        first = register.page(viewer, register.Filters(), 1, 2)
        assert first.more and first.counted == 4
        # Follow "next" as a person would: the same rows in the same order, to the end.
        shown, number, page = [], 1, first
        while True:
            shown += [(r.person.id, r.course_slug) for r in page.items]
            if not page.has_next:
                break
            number += 1
            page = register.page(viewer, register.Filters(), number, 2)
        assert shown == everything
        assert not page.more  # near the end the count covers everything again
        assert page.total == len(everything)
    client = app.test_client()
    assert login(client, "officer@example.org").status_code == 302
    html = client.get("/register?per_page=2").get_data(as_text=True)
    assert "Showing 1–2 of more than 4 entries" in html
    assert "Page 1 of more than 2" in html

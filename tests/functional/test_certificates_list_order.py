"""The officer's certificates list reads its page along the (issued_at DESC, id) index or
through the region's records (whichever is cheaper, lms.accreditation.register
certificates_page): both give the same rows in the same order, on every page."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from lms.accounts.models import User
from lms.accreditation import register
from lms.accreditation.models import Accreditation, AccreditationStatus, Certificate
from lms.db import utcnow
from lms.extensions import db
from tests.conftest import region


def _certificates(app, make) -> tuple[int, list[int]]:
    """An officer of the North East; 10 certificates there and 30 in London, several
    issued at the same moment (ties are broken by id). Returns the officer and the North
    East's certificate ids, newest first."""
    officer = make("officer", region_name="North East")
    base = utcnow().replace(microsecond=0) - timedelta(days=400)
    in_north_east = [n % 5 == 0 or n in (1, 2) for n in range(40)]
    holders = [
        make("trainee", region_name="North East" if ne else "London") for ne in in_north_east
    ]
    with app.app_context():
        north_east, london = region("North East"), region("London")
        ids = []
        for n in range(40):
            where = north_east if in_north_east[n] else london
            holder = db.session.get(User, holders[n])
            record = Accreditation(
                user_id=holder.id,
                course_slug="rep",
                course_version="1",
                status=AccreditationStatus.ACCREDITED.value,
                region_id=where.id,
            )
            db.session.add(record)
            db.session.flush()
            certificate = Certificate(
                accreditation_id=record.id,
                user_id=holder.id,
                course_slug="rep",
                course_version="1",
                number=f"T-{n:04d}",
                token=f"token-{n:04d}-" + "x" * 40,
                holder_name=holder.name,
                accreditation_title="Accredited rep",
                course_title="Rep course",
                template="plain",
                # Pairs share a moment.
                issued_at=base + timedelta(days=n // 2),
            )
            db.session.add(certificate)
            db.session.flush()
            if where.id == north_east.id:
                ids.append((certificate.issued_at, certificate.id))
        db.session.commit()
    ids.sort(key=lambda pair: (-pair[0].timestamp(), pair[1]))
    return officer, [i for _, i in ids]


def test_every_page_of_every_size_is_the_regions_list_newest_first(app, make):
    officer_id, expected = _certificates(app, make)
    assert len(expected) == 10
    with app.test_request_context():
        officer = db.session.get(User, officer_id)
        for size in range(1, 11):
            shown = []
            for number in range(1, -(-len(expected) // size) + 1):
                page = register.certificates_page(
                    officer, register.CertificateFilters(), number, size
                )
                assert page.total == len(expected)
                shown += [c.id for c in page.items]
            assert shown == expected, size
        # A page past the end is the last page, as for any list.
        last = register.certificates_page(officer, register.CertificateFilters(), 99, 4)
        assert [c.id for c in last.items] == expected[8:]


def test_administrators_see_every_region(app, make):
    _officer, _ne = _certificates(app, make)
    admin_id = make("admin", region_name=None)
    with app.test_request_context():
        admin = db.session.get(User, admin_id)
        page = register.certificates_page(admin, register.CertificateFilters(), 1, 100)
        everyone = db.session.scalars(
            select(Certificate.id).order_by(Certificate.issued_at.desc(), Certificate.id)
        ).all()
        assert [c.id for c in page.items] == everyone
        assert page.total == 40


def test_the_page_links_each_certificate_and_names_its_status(app, make):
    from flask import url_for

    from tests.conftest import login

    officer_id, expected = _certificates(app, make)
    with app.app_context():
        email = db.session.get(User, officer_id).email
    client = app.test_client()
    assert login(client, email).status_code == 302
    html = client.get("/register/certificates?per_page=3").get_data(as_text=True)
    with app.test_request_context():
        for certificate_id in expected[:3]:
            link = url_for("accreditation.certificate", certificate_id=certificate_id)
            assert f'href="{link}"' in html
    assert html.count('data-label="Status">Valid<') == 3

"""The people's name key (what the register sorts and searches by) is kept on every way a
name is written, and the register's pages, read through it, are the full register's rows
in order: requests awaiting a decision first, then by name."""

from __future__ import annotations

from sqlalchemy import insert, select

from lms.accounts.models import User, name_key
from lms.accreditation import register
from lms.extensions import db
from tests.functional.test_register import enrol, request_accreditation


def key_of(app, user_id: int) -> str:
    with app.app_context():
        return db.session.scalar(select(User.name_key).where(User.id == user_id))


def test_name_key_is_normalised_and_case_folded():
    assert name_key("  ÉMILE   Dupont ") == "émile dupont"
    assert name_key("Straße") == "strasse"
    assert name_key("ﬁona") == "fiona"  # NFKC: the ligature is two letters
    assert len(name_key("x" * 500)) == 200


def test_name_key_is_kept_when_created_renamed_and_bulk_inserted(app, make):
    user_id = make("trainee", name="Ōta  Hiro")
    assert key_of(app, user_id) == "ōta hiro"
    with app.app_context():
        db.session.get(User, user_id).name = "BRONWEN Ellis"
        db.session.commit()
    assert key_of(app, user_id) == "bronwen ellis"
    with app.app_context():
        # As the demo generator writes people: a Core INSERT with a name and no key.
        db.session.execute(
            insert(User.__table__),
            [
                {"email": "bulk1@example.org", "name": "Zoë  Quill"},
                {"email": "bulk2@example.org", "name": "Ivor Ng"},
            ],
        )
        db.session.commit()
        keys = dict(db.session.execute(select(User.email, User.name_key)).all())
    assert keys["bulk1@example.org"] == "zoë quill"
    assert keys["bulk2@example.org"] == "ivor ng"


def test_pages_are_the_full_register_in_order(app, make):
    # More people than a page, some with requests that sort after others by name, some
    # with two rows, names that differ only in case.
    officer = make("officer", email="officer@example.org", name="Zed Officer")
    names = ["delyth", "Aled", "bryn", "Carys", "aled", "Eluned", "Ffion", "gwen", "Huw"]
    for n, name in enumerate(names):
        person = make("trainee", email=f"p{n}@example.org", name=f"{name} Person")
        enrol(app, person)
        if n % 3 == 0:
            request_accreditation(app, person)
        if n % 4 == 1:
            enrol(app, person, "link-member")
    with app.app_context():
        viewer = db.session.get(User, officer)
        everything = [
            (r.person.id, r.course_slug) for r in register.rows(viewer, register.Filters())
        ]
        assert len(everything) > 9
        statuses = [r.status for r in register.rows(viewer, register.Filters())]
        assert statuses[:3] == ["awaiting"] * 3 and "awaiting" not in statuses[3:]
        for size in (1, 2, 3, 4, 5, 50):
            paged = []
            first = register.page(viewer, register.Filters(), 1, size)
            for number in range(1, first.pages + 1):
                result = register.page(viewer, register.Filters(), number, size)
                assert result.total == len(everything)
                paged += [(r.person.id, r.course_slug) for r in result.items]
            assert paged == everything, size
        # A page past the end shows the last one; a search is the same rows filtered.
        last = register.page(viewer, register.Filters(), 999, 4)
        assert [(r.person.id, r.course_slug) for r in last.items] == everything[
            (last.pages - 1) * 4 :
        ]
        found = register.page(viewer, register.Filters(q="ALED"), 1, 1)
        assert found.total == 3  # "Aled" is on two courses
        assert {r.person.name for r in register.rows(viewer, register.Filters(q="aled"))} == {
            "Aled Person",
            "aled Person",
        }

"""The `flask lms ...` commands, run against the real database."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from lms.accounts import services as accounts
from lms.accounts.models import User
from lms.extensions import db


@pytest.fixture()
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=["lms", *args])


def users(app) -> dict[str, User]:
    with app.app_context():
        rows = db.session.scalars(select(User)).all()
        return {
            u.email: (u.name, sorted(u.role_names), u.region.name if u.region else None)
            for u in rows
        }


def test_users_create_prints_a_one_time_link(app, cli):
    result = cli(
        "users",
        "create",
        "--email",
        "Rhian.Lloyd@Example.org",
        "--name",
        "Rhian Lloyd",
        "--role",
        "officer",
        "--role",
        "trainee",
        "--region",
        "Wales",
    )
    assert result.exit_code == 0, result.output
    assert "Created rhian.lloyd@example.org (officer, trainee)." in result.output
    assert "One-time link to set the password: http" in result.output
    assert "/password/set/" in result.output
    assert users(app)["rhian.lloyd@example.org"] == ("Rhian Lloyd", ["officer", "trainee"], "Wales")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--email", "x@example.org", "--name", "X", "--role", "officer"],
            "A national officer needs a region.",
        ),
        (
            ["--email", "x@example.org", "--name", "X", "--role", "trainee", "--region", "Mars"],
            "no region 'Mars'",
        ),
        (
            ["--email", "not-an-email", "--name", "X", "--role", "trainee"],
            "Enter a valid email address",
        ),
        (["--email", "x@example.org", "--name", "X", "--role", "wizard"], "'wizard' is not one of"),
    ],
)
def test_users_create_refuses_bad_input(app, cli, args, message):
    result = cli("users", "create", *args)
    assert result.exit_code != 0
    assert message in result.output
    assert users(app) == {}


def test_users_create_refuses_a_taken_email(app, cli, make):
    make("trainee", email="taken@example.org")
    result = cli(
        "users", "create", "--email", "TAKEN@example.org", "--name", "Y", "--role", "trainee"
    )
    assert result.exit_code == 1
    assert "already exists" in result.output


GOOD_CSV = """email,name,roles,region
ana.silva@example.org,Ana Silva,trainee,London
bryn.jones@example.org,Bryn Jones,trainee;facilitator,Wales
chidi.obi@example.org,Chidi Obi,officer,North West
"""


def test_users_import_creates_everyone_and_reports_each_row(app, cli, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(GOOD_CSV)
    result = cli("users", "import", str(path))
    assert result.exit_code == 0, result.output
    for line, email in [(2, "ana.silva"), (3, "bryn.jones"), (4, "chidi.obi")]:
        assert f"line {line}: {email}@example.org: created" in result.output
    assert "Imported 3 accounts; 0 refused." in result.output
    assert "Checking and importing" in result.output  # the progress bar
    assert users(app)["bryn.jones@example.org"] == (
        "Bryn Jones",
        ["facilitator", "trainee"],
        "Wales",
    )
    outbox = app.extensions["lms.outbox"]
    assert sorted(to for to, _s, _b in outbox) == [
        "ana.silva@example.org",
        "bryn.jones@example.org",
        "chidi.obi@example.org",
    ]
    assert all("/password/set/" in body for _t, _s, body in outbox)


BAD_CSV = """email,name,roles,region
ana.silva@example.org,Ana Silva,trainee,London
not-an-email,Bad Email,trainee,London
dai.evans@example.org,Dai Evans,wizard,Wales
ana.silva@example.org,Ana Again,trainee,London
eve.ward@example.org,Eve Ward,officer,
fay.khan@example.org,Fay Khan,trainee,Atlantis
gus.reid@example.org,,trainee,London
existing@example.org,Existing Person,trainee,London
"""


def test_users_import_with_bad_rows_imports_nothing_and_says_why(app, cli, make, tmp_path):
    make("trainee", email="existing@example.org")
    path = tmp_path / "people.csv"
    path.write_text(BAD_CSV)
    result = cli("users", "import", str(path))
    assert result.exit_code == 1
    out = result.output
    assert "line 2: ana.silva@example.org: would be created" in out
    assert "line 3: not-an-email: refused: Enter a valid email address" in out
    assert "line 4: dai.evans@example.org: refused: Unknown role 'wizard'" in out
    assert "line 5: ana.silva@example.org: refused: same email as line 2" in out
    assert "line 6: eve.ward@example.org: refused: A national officer needs a region." in out
    assert "line 7: fay.khan@example.org: refused: no region 'Atlantis'" in out
    assert "line 8: gus.reid@example.org: refused: Enter the person's name." in out
    assert "line 9: existing@example.org: refused: An account with this email" in out
    assert "7 of 8 rows refused; nothing was imported." in out
    assert set(users(app)) == {"existing@example.org"}
    assert not app.extensions.get("lms.outbox")


def test_users_import_skip_bad_imports_the_good_rows(app, cli, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(BAD_CSV)
    result = cli("users", "import", "--skip-bad", str(path))
    assert result.exit_code == 0, result.output
    assert "line 2: ana.silva@example.org: created" in result.output
    assert "Imported 2 accounts; 6 refused." in result.output
    assert set(users(app)) == {"ana.silva@example.org", "existing@example.org"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("mail,name\nx@example.org,X\n", "The first line must name the columns"),
        ("email,name,roles,shoe_size\n", "Unknown column(s): shoe_size"),
        ("email,name,roles,region\n", "There are no rows to import"),
    ],
)
def test_users_import_refuses_a_malformed_file(app, cli, tmp_path, content, message):
    path = tmp_path / "people.csv"
    path.write_text(content)
    result = cli("users", "import", str(path))
    assert result.exit_code == 1
    assert message in result.output


def test_users_import_refuses_non_utf8(app, cli, tmp_path):
    path = tmp_path / "people.csv"
    path.write_bytes("email,name,roles\nz@example.org,Zo\xe9,trainee\n".encode("latin-1"))
    result = cli("users", "import", str(path))
    assert result.exit_code == 1
    assert "is not UTF-8 text" in result.output


def test_courses_list_json(app, cli):
    result = cli("courses", "list", "--json")
    assert result.exit_code == 0
    data = {c["slug"]: c for c in json.loads(result.output)}
    assert set(data) == {"link-member", "rep"}
    rep = data["rep"]
    assert rep["title"] == "MiP rep course"
    assert rep["version"] == "2027.1"
    assert rep["prerequisites"] == ["link-member"]
    assert len(rep["modules"]) == 10
    assert rep["modules"][0]["activities"] == [
        {"key": "role-of-reps-reading", "type": "reading", "title": "The role of MiP reps"},
        {
            "key": "role-of-reps-check",
            "type": "quiz",
            "title": "Knowledge check: the role of MiP reps",
        },
        {
            "key": "role-of-reps-case",
            "type": "case_study",
            "title": "Case study: A team going through years of change",
        },
    ]
    assert [a["type"] for a in rep["modules"][-1]["activities"]] == ["feedback"] * 3
    assert data["link-member"]["prerequisites"] == []


def test_setup_makes_demo_accounts_only_on_a_demo_site(app, cli, backend):
    """Demo accounts share one password (ASVS 2.5.4): made by default on the embedded
    SQLite database (``make run``), not on a server database unless asked."""
    result = cli("setup")
    assert result.exit_code == 0, result.output
    with app.app_context():
        made = accounts.find_by_email("admin@example.org") is not None
    assert made is (backend == "sqlite")
    if backend != "sqlite":
        assert "No demo accounts on a server database" in result.output
        assert cli("setup", "--no-demo").exit_code == 0
        with app.app_context():
            assert accounts.find_by_email("admin@example.org") is None


def test_setup_is_repeatable_and_keeps_data(app, cli, make):
    kept = make("trainee", email="kept@example.org")
    first = cli("setup", "--demo")
    assert first.exit_code == 0, first.output
    assert "admin@example.org" in first.output and "(new)" in first.output
    assert "password for all of them:" in first.output
    second = cli("setup", "--demo")
    assert second.exit_code == 0, second.output
    assert "(new)" not in second.output
    with app.app_context():
        assert db.session.get(User, kept) is not None
        assert db.session.scalar(select(func.count(User.id))) == 6
        roles = {u.email: u.role_names for u in db.session.scalars(select(User))}
    assert roles["officer@example.org"] == {"officer"}
    assert roles["admin@example.org"] == {"admin"}
    assert roles["facilitator@example.org"] == {"facilitator"}
    assert roles["trainee@example.org"] == {"trainee"}


def test_regions_are_data(app, cli):
    listed = cli("regions", "list")
    assert "North East" in listed.output and "Scotland" in listed.output
    added = cli("regions", "add", "Channel Islands")
    assert added.exit_code == 0
    assert "channel-islands\tChannel Islands" in cli("regions", "list").output
    assert cli("regions", "add", "channel islands").exit_code == 1

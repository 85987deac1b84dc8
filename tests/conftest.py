"""Shared fixtures: a real database (SQLite, and PostgreSQL when LMS_TEST_DATABASE_URL is set),
an app per backend built once per session, clean tables for every test, and helpers to log in."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from lms import create_app
from lms.accounts import services as accounts
from lms.accounts.models import Region, User
from lms.extensions import db, limiter

PASSWORD = "pelican kiln mosaic drizzle"  # not a published example: see password_problem
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("LMS_TEST_DATABASE_URL") else [])
CSRF_RE = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


class BufferedClient(FlaskClient):
    """The test client, reading every response whole and closing it (as a browser would).

    Files served with ``send_file`` (certificate PDFs) are then closed when the
    response is read, instead of being left to the garbage collector.
    """

    def open(self, *args, buffered: bool = True, **kwargs):
        return super().open(*args, buffered=buffered, **kwargs)


# Every app made in the tests (the session's and app_with's) uses it.
Flask.test_client_class = BufferedClient


def base_config(database_url: str, instance: Path) -> dict:
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(instance),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "LMS_ARGON2_TIME_COST": 1,
        "LMS_ARGON2_MEMORY_COST": 1024,
        "LMS_SMTP_HOST": None,
        "RATELIMIT_STORAGE_URI": "memory://",
        # Administrators log in with a password alone here; test_mfa.py turns it on.
        "LMS_MFA_REQUIRED_ROLES": [],
    }


def _postgres_url() -> str:
    from lms.config import normalise_database_url

    return normalise_database_url(os.environ["LMS_TEST_DATABASE_URL"])


def reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'lms.db'}"
    url = _postgres_url()
    reset_postgres(url)
    return url


@pytest.fixture(scope="session")
def session_app(database_url: str, tmp_path_factory) -> Iterator[Flask]:
    """One app per backend, its schema made by the real migrations."""
    from flask_migrate import upgrade

    app = create_app(base_config(database_url, tmp_path_factory.mktemp("instance")))
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
    yield app
    with app.app_context():
        db.engine.dispose()


def clean_tables(app: Flask) -> None:
    with app.app_context():
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        if db.engine.dialect.name == "postgresql":
            quoted = ", ".join(f'"{t}"' for t in tables)
            with db.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
        else:
            with db.engine.begin() as conn:
                for t in tables:
                    conn.execute(text(f'DELETE FROM "{t}"'))  # noqa: S608 - our table names


@pytest.fixture()
def app(session_app: Flask) -> Iterator[Flask]:
    clean_tables(session_app)
    with session_app.app_context():
        limiter.reset()
        from lms.accounts.cli import seed_regions

        seed_regions()
        db.session.commit()
    session_app.extensions.pop("lms.outbox", None)
    yield session_app
    with session_app.app_context():
        db.session.remove()


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def get_csrf(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    return csrf_from(response.get_data(as_text=True))


def login(client: FlaskClient, email: str, password: str = PASSWORD, next_url: str | None = None):
    token = get_csrf(client, "/login")
    data = {"csrf_token": token, "email": email, "password": password}
    if next_url is not None:
        data["next"] = next_url
    return client.post("/login", data=data)


def region(name: str) -> Region:
    found = accounts.region_by_name(name)
    assert found is not None, name
    return found


def make_user(
    app: Flask,
    email: str = "trainee1@example.org",
    name: str = "Ffion Bevan",
    roles: tuple[str, ...] = ("trainee",),
    region_name: str | None = "North East",
    password: str | None = PASSWORD,
) -> int:
    """Create a user with a password and return its id."""
    with app.app_context():
        created = accounts.create_user(
            email, name, roles, region(region_name) if region_name else None, send_link=False
        )
        if password:
            accounts.set_password(created.user, password)
        db.session.commit()
        return created.user.id


@pytest.fixture()
def make(app: Flask):
    """make(role_or_roles, email=..., region=...) -> user id, with PASSWORD."""

    counter = iter(range(1, 10_000))

    def _make(
        *roles: str,
        email: str | None = None,
        name: str | None = None,
        region_name: str | None = "North East",
    ) -> int:
        n = next(counter)
        return make_user(
            app,
            email=email or f"{'-'.join(roles)}{n}@example.org",
            name=name or f"Test Person {n}",
            roles=roles,
            region_name=region_name,
        )

    return _make


@pytest.fixture()
def trainee_client(app: Flask, make) -> FlaskClient:
    make("trainee", email="sam@example.org", name="Sam Okafor")
    client = app.test_client()
    assert login(client, "sam@example.org").status_code == 302
    return client


def get_user(app: Flask, user_id: int) -> User:
    return db.session.get(User, user_id)


@pytest.fixture()
def app_with(app: Flask, tmp_path):
    """app_with(**config) -> a second app on the same database (e.g. other course content).

    Its connections are closed at the end of the test.
    """
    made: list[Flask] = []

    def _make(**overrides) -> Flask:
        other = create_app(
            {
                **base_config(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path / "instance2"),
                # Stored PDFs go with the database they are recorded in.
                "LMS_CERTIFICATE_STORAGE_DIR": app.config["LMS_CERTIFICATE_STORAGE_DIR"],
                **overrides,
            }
        )
        made.append(other)
        return other

    yield _make
    for other in made:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


#: Tests that run on SQLite only, with why: each is covered on PostgreSQL by another test.
SQLITE_ONLY = {
    # Who may open each route, role by role (870 cases, about 2.5 minutes a backend): the
    # decision is made in Python, the same on every database. On PostgreSQL every GET
    # route is still opened by every role allowed it (test_headers_and_tokens.py's
    # no-store test), and every POST route's refusals and changes are tried
    # (test_access_matrix_post.py runs on both).
    "tests/functional/test_access_matrix.py::test_access",
}


def pytest_collection_modifyitems(config, items):
    keep, dropped = [], []
    for item in items:
        name = item.nodeid.split("[", 1)[0]
        (dropped if name in SQLITE_ONLY and "[postgresql" in item.nodeid else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep

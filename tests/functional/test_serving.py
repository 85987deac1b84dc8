"""Serving: SQLite reads beside a held write lock, and the production server as `make run`
starts it (gunicorn and the job worker), with secret tokens kept out of its access log."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from lms import create_app
from lms.extensions import db
from lms.learning.models import Enrolment
from tests.conftest import base_config, get_csrf, login, make_user

# Generous bounds on anything that waits, so a broken build fails instead of hanging.
WAIT = 60


@pytest.fixture()
def sqlite_app(tmp_path: Path):
    """An app on its own SQLite file, migrated, with one trainee."""
    path = tmp_path / "lms.db"
    app = create_app(base_config(f"sqlite:///{path}", tmp_path / "instance"))
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        from lms.accounts.cli import seed_regions

        seed_regions()
        db.session.commit()
    make_user(app, email="nia@example.org", name="Nia Lloyd")
    yield app, path
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


class InThread:
    """Run ``fn`` in a thread; ``result(timeout)`` joins it and returns or raises."""

    def __init__(self, fn):
        self._value = self._error = None
        self._thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self._thread.start()

    def _run(self, fn):
        try:
            self._value = fn()
        except BaseException as exc:  # noqa: BLE001 - raised again in result()
            self._error = exc

    def done(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def result(self, timeout: float = WAIT):
        assert self.done(timeout), "request still running"
        if self._error is not None:
            raise self._error
        return self._value


def test_reads_are_served_while_another_connection_holds_the_write_lock(sqlite_app):
    app, path = sqlite_app
    client = app.test_client()
    assert login(client, "nia@example.org").status_code == 302
    token = get_csrf(client, "/courses/link-member")

    holder = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        holder.execute("BEGIN IMMEDIATE")
        # Nobody else can write now; a connection asking for the lock gets SQLITE_BUSY.
        other = sqlite3.connect(path, isolation_level=None, timeout=0)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()

        # Pages are read in deferred transactions: served without waiting for the lock
        # (a GET that asked for it would wait the whole busy timeout, then fail).
        for url in ("/dashboard", "/courses", "/courses/link-member", "/verify"):
            response = InThread(lambda url=url: client.get(url)).result()
            assert response.status_code == 200, url

        # A write waits its turn behind the lock ...
        post = InThread(
            lambda: client.post("/courses/link-member/enrol", data={"csrf_token": token})
        )
        assert not post.done(timeout=1.0), "the POST wrote while another connection held the lock"
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    # ... and goes through once the lock is released.
    response = post.result()
    assert response.status_code == 302
    with app.app_context():
        enrolled = db.session.scalars(select(Enrolment.course_slug)).all()
    assert enrolled == ["link-member"]


def test_a_page_view_records_where_the_trainee_is_after_its_read(sqlite_app):
    # record_visit runs after the page's read transaction, in a write of its own.
    app, _path = sqlite_app
    client = app.test_client()
    assert login(client, "nia@example.org").status_code == 302
    token = get_csrf(client, "/courses/link-member")
    assert client.post("/courses/link-member/enrol", data={"csrf_token": token}).status_code == 302
    course = app.extensions["lms.courses"].get("link-member")
    second = course.activities[1]
    assert client.get(f"/learn/link-member/{second.key}").status_code == 200
    with app.app_context():
        enrolment = db.session.scalars(select(Enrolment)).one()
        assert enrolment.last_activity_key == second.key
        assert enrolment.last_visited_at is not None

"""Serving: SQLite reads beside a held write lock, and the production server as `make run`
starts it (gunicorn and the job worker), with secret tokens kept out of its access log."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from lms import create_app
from lms.extensions import db
from lms.learning.models import Enrolment
from tests.conftest import base_config, get_csrf, login, make_user

REDACTED_PATH = "[redacted]"
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


def test_a_page_view_is_served_when_its_bookkeeping_cannot_get_the_lock(sqlite_app, caplog):
    # Where the trainee left off is written after the page, waiting a little for the
    # lock; held longer, that write is given up and the page is still served.
    app, path = sqlite_app
    client = app.test_client()
    assert login(client, "nia@example.org").status_code == 302
    token = get_csrf(client, "/courses/link-member")
    assert client.post("/courses/link-member/enrol", data={"csrf_token": token}).status_code == 302
    second = app.extensions["lms.courses"].get("link-member").activities[1]

    holder = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        holder.execute("BEGIN IMMEDIATE")
        response = InThread(lambda: client.get(f"/learn/link-member/{second.key}")).result()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert response.status_code == 200
    assert "A write deferred by a page view failed" in caplog.text
    with app.app_context():
        assert db.session.scalars(select(Enrolment)).one().last_activity_key != second.key


# --- The production server, as `make run` starts it -------------------------------------

ROOT = Path(__file__).resolve().parents[2]
SERVE = ["bash", "scripts/serve.sh"]  # what `make run` runs after `lms setup`
START_TIMEOUT = 120  # a cold start on a loaded 2-core machine without bytecode is slow
STOP_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def instance(tmp_path_factory) -> dict[str, str]:
    """Environment for a fresh instance folder and SQLite database, set up by `lms setup`."""
    folder = tmp_path_factory.mktemp("served")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LMS_", "GUNICORN_", "FLASK_")) and key not in {"PORT", "HOST"}
    }
    env.update(
        LMS_INSTANCE_PATH=str(folder / "instance"),
        LMS_DATABASE_URL=f"sqlite:///{folder / 'lms.db'}",
        WEB_CONCURRENCY="2",
        LMS_STOP_TIMEOUT="30",
    )
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "lms", "setup", "--no-demo"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=START_TIMEOUT,
    )
    return env


def ours(marker: str) -> dict[int, str]:
    """Processes (pid -> command line) whose environment holds ``marker``."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in environ.split(b"\0") and state != "Z":
            found[int(entry.name)] = cmdline.replace(b"\0", b" ").decode(errors="replace")
    return found


def kill_all(marker: str) -> None:
    for pid in ours(marker):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


class Served:
    """scripts/serve.sh running in its own session, with its output in files."""

    def __init__(self, env: dict[str, str], folder: Path):
        self.port = free_port()
        # Every process it starts inherits this, so they can be found (and killed).
        self.marker = f"LMS_TEST_SERVE_ID={uuid.uuid4().hex}"
        key, value = self.marker.split("=", 1)
        self.out, self.err = folder / "stdout.log", folder / "stderr.log"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen(
                SERVE,
                cwd=ROOT,
                env={**env, "PORT": str(self.port), key: value},
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.base = f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.out.read_text(errors="replace") + self.err.read_text(errors="replace")

    def get(self, path: str, headers: dict[str, str] | None = None) -> int:
        request = urllib.request.Request(self.base + path, headers=headers or {})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def wait_ready(self) -> None:
        def answers() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve.sh exited {self.proc.returncode}:\n{self.output()}")
            try:
                return self.get("/courses") == 200
            except OSError:
                return False

        try:
            wait_until(answers, START_TIMEOUT, f"the server on {self.base}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.output()}") from None

    def processes(self) -> list[str]:
        return list(ours(self.marker).values())

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        kill_all(self.marker)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)


@pytest.fixture()
def served(instance, tmp_path):
    server = Served(instance, tmp_path)
    try:
        yield server
    finally:
        server.close()


def test_make_run_serves_with_gunicorn_and_a_job_worker_and_stops_on_ctrl_c(served):
    served.wait_ready()
    assert "Serving on http://127.0.0.1:" in served.out.read_text()

    verify_token, password_token, query_token = (secrets.token_urlsafe(24) for _ in range(3))
    assert served.get("/") in {200, 302}
    assert served.get(f"/verify/{verify_token}") == 404
    assert served.get(f"/password/set/{password_token}?token={query_token}") == 410
    # A token in the Referer (a page linked from a verification page).
    referer = {"Referer": f"{served.base}/verify/{verify_token}"}
    assert served.get("/static/css/app.css", headers=referer) in {200, 404}

    running = served.processes()
    assert any("gunicorn" in cmd and "wsgi:app" in cmd for cmd in running), running
    assert any("lms jobs worker" in cmd for cmd in running), running

    # Ctrl+C in a terminal: SIGINT to the foreground process group.
    os.killpg(served.proc.pid, signal.SIGINT)
    assert served.proc.wait(timeout=STOP_TIMEOUT) == 130
    wait_until(lambda: not served.processes(), 10, "every process to end")

    log = served.output()
    access = [line for line in log.splitlines() if '"GET ' in line]
    assert any(f'"GET /verify/{REDACTED_PATH}' in line for line in access), log
    assert any(f"/password/set/{REDACTED_PATH}?token=[redacted]" in line for line in access), log
    assert any(f'"{served.base}/verify/[redacted]"' in line for line in access), log
    for token in (verify_token, password_token, query_token):
        assert token not in log
    assert "Job worker stopped" in log


def test_when_the_job_worker_dies_the_web_server_is_stopped_too(served):
    served.wait_ready()
    workers = [pid for pid, cmd in ours(served.marker).items() if "lms jobs worker" in cmd]
    assert workers
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    code = served.proc.wait(timeout=STOP_TIMEOUT)
    assert code not in {0, 130}
    wait_until(lambda: not served.processes(), 10, "every process to end")
    assert "The job worker stopped" in served.output()

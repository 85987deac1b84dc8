"""Background jobs: recorded with the change that asks for them, retried with back-off,
recovered when a worker is lost, visible to administrators; and real workers (a Huey
consumer process) on SQLite and Redis storage."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lms.accounts import services as accounts
from lms.accreditation import services as accreditation
from lms.accreditation.models import Certificate, CertificateFile
from lms.config import PROJECT_ROOT
from lms.db import utcnow
from lms.extensions import db
from lms.jobs import services as jobs
from lms.jobs.models import Job, JobBatch, JobStatus
from tests.conftest import csrf_from, get_user, login

CALLS: list[dict] = []
FAILING = {"on": True}


@jobs.task("tests.record")
def _record(**kwargs) -> None:
    CALLS.append(kwargs)


@jobs.task("tests.flaky", retries=3)
def _flaky(note: str) -> None:
    if FAILING["on"]:
        raise ConnectionError(f"SMTP server not answering ({note})")
    CALLS.append({"note": note})


@pytest.fixture(autouse=True)
def _fresh(app):
    CALLS.clear()
    FAILING["on"] = True
    app.extensions["lms.queue"].huey.flush()
    yield


def job_rows(app) -> list[Job]:
    with app.app_context():
        rows = list(db.session.scalars(select(Job).order_by(Job.id)))
        db.session.expunge_all()
        return rows


# --- After the commit, never after a rollback ------------------------------------------------


def test_a_job_reaches_the_queue_after_the_commit_and_runs_in_a_fresh_session(app):
    with app.app_context():
        job = jobs.enqueue("tests.record", colour="green")
        assert job.id is not None and job.status == JobStatus.QUEUED
        db.session.flush()
        assert CALLS == []  # recorded, not yet handed over
        db.session.commit()
        assert CALLS == [{"colour": "green"}]
    [row] = job_rows(app)
    assert row.status == JobStatus.DONE and row.attempts == 1
    assert row.started_at is not None and row.finished_at >= row.started_at


def test_a_rolled_back_job_never_runs_and_leaves_no_row(app):
    with app.app_context():
        jobs.enqueue("tests.record", colour="red")
        db.session.rollback()
        # The next transaction commits: the rolled-back job must not ride along.
        jobs.enqueue("tests.record", colour="blue")
        db.session.commit()
    assert CALLS == [{"colour": "blue"}]
    assert [r.kwargs for r in job_rows(app)] == [{"colour": "blue"}]


def test_a_failed_request_sends_no_mail_and_a_successful_one_does(app, make, client, caplog):
    make("admin", email="boss@example.org")
    person = make("trainee", email="new@example.org")
    assert login(client, "boss@example.org").status_code == 302
    page = client.get(f"/admin/users/{person}").get_data(as_text=True)
    app.extensions.pop("lms.outbox", None)
    # A bad CSRF token: refused, rolled back, no job and no mail.
    client.post(f"/admin/users/{person}/password-link", data={"csrf_token": "wrong"})
    assert not app.extensions.get("lms.outbox")
    with caplog.at_level(logging.INFO):
        response = client.post(
            f"/admin/users/{person}/password-link", data={"csrf_token": csrf_from(page)}
        )
    assert response.status_code == 302
    [(to, subject, body)] = app.extensions["lms.outbox"]
    assert to == "new@example.org" and "/password/set/" in body
    # Without SMTP the message is a file; the log names it but never shows the link.
    link = body.split("/password/set/")[1].split()[0]
    assert link not in caplog.text and f"wrote {subject!r} to" in caplog.text
    [eml] = [p for p in (Path(app.instance_path) / "outbox").glob("*.eml") if link in p.read_text()]
    assert (eml.stat().st_mode & 0o777) == 0o600 and f"To: {to}" in eml.read_text()
    [job] = [j for j in job_rows(app) if j.task == "mail.send"]
    # Once sent, the kept row no longer holds the body (it carried a set-password link).
    assert job.status == JobStatus.DONE and "body" not in job.kwargs
    assert job.kwargs["to"] == "new@example.org"


# --- Retries, failures, the admin page -------------------------------------------------------


def test_failures_back_off_then_fail_and_an_administrator_retries(app, make, client):
    queue = app.extensions["lms.queue"]
    with app.app_context():
        job_id = jobs.enqueue("tests.flaky", note="secret-argument").id
        db.session.commit()  # the first try runs now and fails
    waits = []
    for _try in range(3):
        with app.app_context():
            job = db.session.get(Job, job_id)
            assert job.status == JobStatus.QUEUED
            # run_at is the failure time plus the back-off; the try failed as it started.
            waits.append(round((job.run_at - job.started_at).total_seconds()))
            # The retry waits in the queue's schedule, for when the back-off ends.
            assert job_id in queue.scheduled_job_ids()
            due = job.run_at
        with app.app_context():
            assert jobs.run_job(job_id, now=due - timedelta(seconds=5)) == "early"
        with app.app_context():
            outcome = jobs.run_job(job_id, now=due)
    assert waits == [10, 60, 300]
    assert outcome == "failed"
    [job] = job_rows(app)
    assert job.status == JobStatus.FAILED and job.attempts == job.max_attempts == 4
    assert job.last_error == "ConnectionError: SMTP server not answering (secret-argument)"

    make("admin", email="boss@example.org")
    assert login(client, "boss@example.org").status_code == 302
    html = client.get("/admin/jobs").get_data(as_text=True)
    assert "ConnectionError: SMTP server not answering" in html
    assert "Failed: 1" in html and f"/admin/jobs/{job_id}/retry" in html
    FAILING["on"] = False
    response = client.post(f"/admin/jobs/{job_id}/retry", data={"csrf_token": csrf_from(html)})
    assert response.status_code == 303 and response.location == "/admin/jobs"
    [job] = job_rows(app)
    assert job.status == JobStatus.DONE and CALLS == [{"note": "secret-argument"}]
    html = client.get("/admin/jobs").get_data(as_text=True)
    assert "Failed: 0" in html and f"Job {job_id} will be tried again now." in html
    # Retrying it again is refused politely.
    again = client.post(f"/admin/jobs/{job_id}/retry", data={"csrf_token": csrf_from(html)})
    assert again.status_code == 303
    assert "is not failed any more" in client.get("/admin/jobs").get_data(as_text=True)


def test_the_jobs_pages_are_for_administrators_only(app, make, client):
    make("officer", email="officer@example.org")
    assert client.get("/admin/jobs").status_code == 302  # logged out: log in first
    assert login(client, "officer@example.org").status_code == 302
    for url in ("/admin/jobs", "/admin/jobs/batches"):
        assert client.get(url).status_code == 403
    html = client.get("/account").get_data(as_text=True)
    assert client.post("/admin/jobs/reissue", data={"csrf_token": csrf_from(html)}).status_code == (
        403
    )


def test_cli_lists_and_retries_failed_jobs(app):
    with app.app_context():
        job = jobs.enqueue("tests.flaky", note="x")
        job.max_attempts = 1
        db.session.commit()
        job_id = job.id
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["lms", "jobs", "list", "--failed"])
    assert listed.exit_code == 0, listed.output
    assert "failed 1" in listed.output and "tests.flaky" in listed.output
    assert "ConnectionError: SMTP server not answering (x)" in listed.output
    FAILING["on"] = False
    retried = runner.invoke(args=["lms", "jobs", "retry", str(job_id)])
    assert retried.exit_code == 0 and "Queued 1 job(s) again." in retried.output
    again = runner.invoke(args=["lms", "jobs", "retry", str(job_id)])
    assert again.exit_code == 1 and f"job {job_id} is done" in again.output
    missing = runner.invoke(args=["lms", "jobs", "retry", "999999"])
    assert missing.exit_code == 1 and "no job 999999" in missing.output
    assert job_rows(app)[0].status == JobStatus.DONE


# --- Nothing lost: the sweeper -----------------------------------------------------------------


def test_the_sweeper_recovers_a_job_left_running_and_one_that_never_reached_the_queue(app):
    long_ago = utcnow() - timedelta(hours=1)
    with app.app_context():
        # A worker was killed mid-job: the row says running, nobody runs it.
        lost = Job(task="tests.record", kwargs={"n": 1}, status="running", attempts=1)
        lost.started_at = long_ago
        # The queue was down at the commit: the row is queued, the queue never heard.
        unsent = Job(task="tests.record", kwargs={"n": 2}, status="queued", run_at=long_ago)
        # Killed on its last try: it fails, visibly.
        last = Job(
            task="tests.record", kwargs={"n": 3}, status="running", attempts=4, max_attempts=4
        )
        last.started_at = long_ago
        # Running for a minute only: left alone.
        busy = Job(task="tests.record", kwargs={"n": 4}, status="running", attempts=1)
        busy.started_at = utcnow() - timedelta(minutes=1)
        db.session.add_all([lost, unsent, last, busy])
        db.session.commit()
        counts = jobs.sweep()
    assert counts == {"requeued": 1, "failed": 1, "redispatched": 1}
    assert sorted(c["n"] for c in CALLS) == [1, 2]
    by_n = {r.kwargs["n"]: r for r in job_rows(app)}
    assert by_n[1].status == JobStatus.DONE and by_n[1].attempts == 2
    assert by_n[2].status == JobStatus.DONE
    assert by_n[3].status == JobStatus.FAILED and "Interrupted" in by_n[3].last_error
    assert by_n[4].status == JobStatus.RUNNING
    with app.app_context():
        assert jobs.sweep() == {"requeued": 0, "failed": 0, "redispatched": 0}


def test_a_copy_of_a_job_delivered_twice_runs_once(app):
    with app.app_context():
        job_id = jobs.enqueue("tests.record", n=1).id
        db.session.commit()
        assert jobs.run_job(job_id) == "skipped"
        assert jobs.run_job(424242) == "skipped"
    assert CALLS == [{"n": 1}]


def test_reminders_are_one_job_a_day_however_many_workers_tick(app, make):
    make("officer", email="officer@example.org")
    uid = make("trainee", email="t@example.org")
    with app.app_context():
        user = get_user(app, uid)
        certificate = accreditation.grant_prior(user, app.extensions["lms.courses"].get("rep"), "x")
        certificate.expires_at = utcnow() + timedelta(days=20)
        db.session.commit()
    app.extensions.pop("lms.outbox", None)
    with app.app_context():
        morning = utcnow().replace(hour=12, minute=0)  # after 07:00 in the UK, all year
        # Before 07:00 UK time: only the session clean-up (from 03:00) is due.
        assert sorted(jobs.tick(morning.replace(hour=4))["daily"]) == [
            "privacy.retention",
            "sessions.clean_up",
        ]
        assert sorted(jobs.tick(morning)["daily"]) == [
            "accreditation.send_reminders",
            "notifications.send_daily",
        ]
        assert jobs.tick(morning + timedelta(minutes=5))["daily"] == []
        assert set(jobs.tick(morning + timedelta(days=1))["daily"]) == {
            "accreditation.send_reminders",
            "notifications.send_daily",
            "privacy.retention",
            "sessions.clean_up",
        }
    reminders = [j for j in job_rows(app) if j.task == "accreditation.send_reminders"]
    assert len(reminders) == 2 and all(j.status == JobStatus.DONE for j in reminders)
    sent = [to for to, subject, _b in app.extensions["lms.outbox"] if "expires" in subject]
    assert sorted(sent) == ["officer@example.org", "t@example.org"]  # once, not twice
    result = app.test_cli_runner().invoke(args=["lms", "accreditation", "remind"])
    assert "Sent reminders for 0 certificate(s)." in result.output


def test_expiring_is_one_query_with_each_course_window(app, make):
    uids = [make("trainee", email=f"p{n}@example.org") for n in range(3)]
    courses = app.extensions["lms.courses"]
    with app.app_context():
        for n, uid in enumerate(uids):
            cert = accreditation.grant_prior(get_user(app, uid), courses.get("rep"), "x")
            cert.expires_at = utcnow() + timedelta(days=[5, 400, -3][n])
        db.session.commit()
        window = courses.get("rep").certificate.reminder_days
        found = accreditation.expiring()
        assert [c.user.email for c in found] == ["p0@example.org"]
        assert len(accreditation.expiring(within_days=500)) == 2
        assert window >= 5


# --- Bulk re-issue -----------------------------------------------------------------------------


def _certificates(app, make, n: int, course: str = "link-member") -> None:
    with app.app_context():
        spec = app.extensions["lms.courses"].get(course)
        for i in range(n):
            created = accounts.create_user(
                f"holder{i}@example.org", f"Holder {i}", ("trainee",), None, send_link=False
            )
            accreditation.grant_prior(created.user, spec, "Pilot")
        db.session.commit()


def test_reissue_from_the_admin_page_in_parallel_jobs_with_progress(app, make, client):
    _certificates(app, make, 5)
    make("admin", email="boss@example.org")
    assert login(client, "boss@example.org").status_code == 302
    html = client.get("/admin/jobs").get_data(as_text=True)
    assert "Re-issue certificates" in html
    bad = client.post("/admin/jobs/reissue", data={"csrf_token": csrf_from(html), "course": ""})
    assert bad.status_code == 422 and "Choose a course." in bad.get_data(as_text=True)
    response = client.post(
        "/admin/jobs/reissue", data={"csrf_token": csrf_from(html), "course": "link-member"}
    )
    assert response.status_code == 302
    batch_url = response.location
    with app.app_context():
        batch = db.session.scalar(select(JobBatch))
        assert batch.total == 5 and batch.started_by.email == "boss@example.org"
        assert batch_url == f"/admin/jobs/batches/{batch.id}"
        assert db.session.scalar(select(func.count(CertificateFile.id))) == 10
        assert db.session.scalar(select(func.count(Job.id)).where(Job.batch_id == batch.id)) == 1
    page = client.get(batch_url).get_data(as_text=True)
    assert "5 of 5 done" in page and "finished" in page
    progress = client.get(batch_url + "/progress").get_json()
    assert progress == {
        "total": 5,
        "done": 5,
        "failed": 0,
        "percent": 100,
        "finished": True,
        "text": "5 of 5 done · finished",
    }
    assert "Re-issue MiP link member course certificates" in client.get(
        "/admin/jobs/batches"
    ).get_data(as_text=True)


def test_reissue_jobs_are_split_and_a_repeated_job_renders_nothing_twice(app, make):
    _certificates(app, make, 5)
    with app.app_context():
        batch = accreditation.start_reissue(
            app.extensions["lms.courses"].get("link-member"), chunk=2
        )
        db.session.commit()
        batch_id = batch.id
        ids = jobs.batch_job_ids(batch, status=None)
        assert len(ids) == 3
        assert [db.session.get(Job, i).items for i in ids] == [2, 2, 1]
        files = db.session.scalar(select(func.count(CertificateFile.id)))
        assert files == 10
        # A job delivered again after it was done (at-least-once) changes nothing...
        db.session.get(Job, ids[0]).status = JobStatus.QUEUED.value
        db.session.commit()
    with app.app_context():
        assert jobs.run_job(ids[0]) == "done"
        assert db.session.scalar(select(func.count(CertificateFile.id))) == 10
        progress = jobs.batch_progress([batch_id])[batch_id]
        assert (progress.done, progress.failed, progress.total) == (5, 0, 5)


def test_reissue_cli_runs_here_and_refuses_to_wait_for_no_worker(app, make, app_with, tmp_path):
    _certificates(app, make, 3)
    result = app.test_cli_runner().invoke(
        args=["lms", "certificates", "reissue", "--course", "link-member", "--chunk", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "Re-issued 3 certificate(s) with template 'link-member'." in result.output
    # On a real queue with no worker running: waiting would never end.
    other = app_with(LMS_QUEUE_URL=f"sqlite:///{tmp_path / 'queue.db'}")
    runner = other.test_cli_runner()
    refused = runner.invoke(args=["lms", "certificates", "reissue", "--course", "link-member"])
    assert refused.exit_code == 1 and "no job worker is running" in refused.output
    queued = runner.invoke(
        args=["lms", "certificates", "reissue", "--course", "link-member", "--no-wait"]
    )
    assert queued.exit_code == 0 and "Queued." in queued.output
    here = runner.invoke(
        args=["lms", "certificates", "reissue", "--course", "link-member", "--here"]
    )
    assert here.exit_code == 0, here.output
    assert "Re-issued 3 certificate(s)" in here.output
    with app.app_context():
        # 3 issued + 3 (first re-issue) + 3 (--here); the --no-wait batch waits for a worker.
        assert db.session.scalar(select(func.count(CertificateFile.id))) == 9
        assert (
            db.session.scalar(
                select(func.count(Job.id)).where(Job.status == JobStatus.QUEUED.value)
            )
            == 1
        )


def test_a_bad_queue_url_stops_the_app_with_a_clear_message(app, app_with):
    from lms.jobs.queue import QueueConfigError

    with pytest.raises(QueueConfigError, match="unknown queue 'amqp://guest:\\*\\*\\*@mq/'"):
        app_with(LMS_QUEUE_URL="amqp://guest:secret@mq/")


# --- Real workers ------------------------------------------------------------------------------


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


def _start_worker(
    database_url: str, queue_url: str, instance: Path, pdfs: Path
) -> subprocess.Popen:
    env = {
        "LMS_CERTIFICATE_STORAGE_DIR": str(pdfs),
        **os.environ,
        "LMS_DATABASE_URL": database_url,
        "LMS_QUEUE_URL": queue_url,
        "LMS_INSTANCE_PATH": str(instance),
        "LMS_SECRET_KEY": "test-secret-key-not-for-production",
        "LMS_BASE_URL": "https://training.example.org",
        "LMS_SMTP_HOST": "",
        "PYTHONUNBUFFERED": "1",
    }
    flask = Path(sys.executable).with_name("flask")
    return subprocess.Popen(
        [str(flask), "--app", "wsgi", "lms", "jobs", "worker", "--workers", "2"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_done(app, job_ids: list[int], worker: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.app_context():
            statuses = set(db.session.scalars(select(Job.status).where(Job.id.in_(job_ids))))
        if statuses == {JobStatus.DONE.value}:
            return
        assert worker.poll() is None, worker.stdout.read()
        time.sleep(0.3)
    raise AssertionError(f"jobs {job_ids} not done: {statuses}")


def _round_trip(app, app_with, queue_url: str, tmp_path: Path) -> None:
    instance = tmp_path / "worker-instance"
    pdfs = tmp_path / "pdfs"
    worker = _start_worker(app.config["SQLALCHEMY_DATABASE_URI"], queue_url, instance, pdfs)
    try:
        sender = app_with(LMS_QUEUE_URL=queue_url, LMS_CERTIFICATE_STORAGE_DIR=str(pdfs))
        with sender.app_context():
            assert not sender.extensions["lms.queue"].immediate
            created = accounts.create_user(
                "worker@example.org", "Wyn Roberts", ("trainee",), None, send_link=True
            )
            certificate = accreditation.grant_prior(
                created.user, sender.extensions["lms.courses"].get("link-member"), "Pilot"
            )
            db.session.commit()
            certificate_id = certificate.id
            job_ids = list(db.session.scalars(select(Job.id)))
            assert {db.session.get(Job, i).task for i in job_ids} == {
                "mail.send",
                "accreditation.render_certificate",
            }
        _wait_done(app, job_ids, worker)
        with sender.app_context():
            # The worker reports in, and the administrator's page can say so.
            deadline = time.monotonic() + 20
            while not sender.extensions["lms.queue"].workers() and time.monotonic() < deadline:
                time.sleep(0.2)
            [info] = sender.extensions["lms.queue"].workers()
            assert info.pid == worker.pid and info.workers == 2
            stored = db.session.get(Certificate, certificate_id).current_file
            assert stored is not None and stored.size > 1000
            assert stored.pdf.startswith(b"%PDF")
        # The set-password link and the notice of the certificate, each an email.
        texts = [p.read_text() for p in (instance / "outbox").glob("*.eml")]
        assert len(texts) == 2
        assert any("Your MiP training account" in t for t in texts)
        assert any("Your certificate is ready" in t for t in texts)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            output, _ = worker.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
            raise
    assert worker.returncode == 0, output
    assert "Job worker started: 2 process(es)" in output and "Job worker stopped" in output
    assert "password/set/" not in output  # the link went to the outbox, not the log


def test_a_real_worker_process_on_sqlite_storage_sends_mail_and_renders(app, app_with, tmp_path):
    _round_trip(app, app_with, f"sqlite:///{tmp_path / 'queue.db'}", tmp_path)


@pytest.mark.skipif(not _redis_answers(), reason="no Redis on 127.0.0.1:6379")
def test_a_real_worker_process_on_redis_sends_mail_and_renders(app, app_with, tmp_path):
    import redis

    url = "redis://127.0.0.1:6379/9"  # this test's own database number
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        _round_trip(app, app_with, url, tmp_path)
    finally:
        client.flushdb()
        client.close()

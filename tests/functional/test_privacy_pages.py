"""Privacy pages: subject access exports through the job queue, erasure with confirmation
(certificates kept as anonymous, withdrawn records), secure delete, and retention of the
learning records of people who left."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from lms.accounts.models import User
from lms.accreditation import storage
from lms.accreditation.models import Certificate, CertificateFile
from lms.audit import services as audit
from lms.audit.models import AuditEntry
from lms.db import utcnow
from lms.extensions import db
from lms.notifications.models import Notification
from lms.privacy import services
from lms.privacy.models import ExportStatus, PrivacyExport
from lms.privacy.providers import PROVIDERS
from tests.conftest import csrf_from, get_csrf, login
from tests.functional.accreditation_helpers import grant

ADMIN = "admin.person@example.org"
HOLDER = "holder.person@example.org"
HOLDER_NAME = "Hester Quayle"


@pytest.fixture()
def people(app, make):
    admin = make("admin", email=ADMIN, name="Ada Administrator")
    holder = make("trainee", email=HOLDER, name=HOLDER_NAME)
    other = make("trainee", email="other.member@example.org", name="Otto Member")
    return {"admin": admin, "holder": holder, "other": other}


def client_for(app, email):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def zip_of(response) -> zipfile.ZipFile:
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "application/zip"
    return zipfile.ZipFile(io.BytesIO(response.get_data()))


def the_export(app) -> PrivacyExport:
    with app.app_context():
        record = db.session.scalars(select(PrivacyExport).order_by(PrivacyExport.id.desc())).first()
        db.session.expunge(record)
        return record


def test_admin_export_through_the_page_runs_the_job_and_the_zip_has_everything(app, people):
    grant(app, people["holder"])
    admin = client_for(app, ADMIN)
    page = admin.get(f"/admin/privacy?email={HOLDER}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert HOLDER_NAME in html and "Prepare a copy of their data" in html
    response = admin.post(
        f"/admin/privacy/people/{people['holder']}/export", data={"csrf_token": csrf_from(html)}
    )
    assert response.status_code == 303
    record = the_export(app)
    assert record.status == ExportStatus.READY.value  # the job ran after the commit
    assert record.requested_by_id == people["admin"] and record.user_id == people["holder"]
    listing = admin.get(f"/admin/privacy?email={HOLDER}").get_data(as_text=True)
    assert "Ready" in listing and f"/admin/privacy/exports/{record.id}/download" in listing

    zf = zip_of(admin.get(f"/admin/privacy/exports/{record.id}/download"))
    names = set(zf.namelist())
    assert {f"{p.name}.json" for p in PROVIDERS} <= names
    assert [n for n in names if n.startswith("certificates/") and n.endswith(".pdf")]
    assert "Anonymous feedback is, by design, not included" in zf.read("README.txt").decode()
    assert json.loads(zf.read("accounts.json"))["user"][0]["email"] == HOLDER
    # Stored in the instance's privacy folder under a random name, readable by us only.
    path = services_path(app, record)
    assert path.parent.name == "privacy" and HOLDER.split("@")[0] not in path.name
    assert path.stat().st_mode & 0o077 == 0
    # The person is told, and finds it on their own page.
    with app.app_context():
        kinds = db.session.scalars(
            select(Notification.kind).where(Notification.user_id == people["holder"])
        ).all()
    assert "data_export_ready" in kinds


def services_path(app, record):
    with app.test_request_context():
        return services.export_path(record)


def test_person_asks_for_and_downloads_their_own_copy_and_no_one_else_can(app, people):
    holder = client_for(app, HOLDER)
    account = holder.get("/account").get_data(as_text=True)
    assert "/account/my-data" in account
    page = holder.get("/account/my-data").get_data(as_text=True)
    assert "Anonymous feedback is, by design, not included" in page
    response = holder.post("/account/my-data/export", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 303 and response.location == "/account/my-data"
    record = the_export(app)
    assert record.requested_by_id == people["holder"]
    page = holder.get("/account/my-data").get_data(as_text=True)
    assert "Ready" in page
    url = f"/account/my-data/exports/{record.id}/download"
    assert url in page
    zf = zip_of(holder.get(url))
    assert json.loads(zf.read("accounts.json"))["user"][0]["email"] == HOLDER

    other = client_for(app, "other.member@example.org")
    assert other.get(url).status_code == 404
    assert "/download" not in other.get("/account/my-data").get_data(as_text=True)
    assert other.get(f"/admin/privacy/exports/{record.id}/download").status_code == 403
    assert other.get("/admin/privacy").status_code == 403
    assert app.test_client().get(url).status_code == 302  # to log in


def test_asking_again_while_one_is_prepared_is_refused_and_expired_copies_go(app, people):
    holder = client_for(app, HOLDER)
    token = get_csrf(holder, "/account/my-data")
    with app.app_context():
        person = db.session.get(User, people["holder"])
        services.start_export(person, person)
        with pytest.raises(services.PrivacyError):
            services.start_export(person, person)
        db.session.rollback()
    assert holder.post("/account/my-data/export", data={"csrf_token": token}).status_code == 303
    record = the_export(app)
    path = services_path(app, record)
    assert path.is_file()
    with app.app_context():
        db.session.get(PrivacyExport, record.id).expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
        from lms.privacy import retention

        assert retention.apply(dry_run=True)[retention.EXPIRED_EXPORTS] == 1
        assert path.is_file()
        assert retention.apply()[retention.EXPIRED_EXPORTS] == 1
        db.session.commit()
    assert not path.exists()
    response = holder.get(f"/account/my-data/exports/{record.id}/download")
    assert response.status_code == 303
    assert "Expired" in holder.get("/account/my-data").get_data(as_text=True)


def test_export_without_the_form_token_starts_nothing(app, people):
    holder = client_for(app, HOLDER)
    assert holder.post("/account/my-data/export", data={}).status_code in (303, 400)
    admin = client_for(app, ADMIN)
    admin.post(f"/admin/privacy/people/{people['holder']}/export", data={})
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PrivacyExport)) == 0


def test_erasure_needs_the_email_typed_then_the_certificate_is_withdrawn(app, people):
    _cid, number, token = grant(app, people["holder"])
    with app.app_context():
        hashes = db.session.scalars(select(CertificateFile.sha256)).all()
        paths = [storage.path_for(h) for h in hashes]
        person = db.session.get(User, people["holder"])
        services.start_export(person, person)
        db.session.commit()
    export_file = services_path(app, the_export(app))
    assert paths and all(p.is_file() for p in paths) and export_file.is_file()

    admin = client_for(app, ADMIN)
    url = f"/admin/privacy/people/{people['holder']}/erase"
    page = admin.get(url).get_data(as_text=True)
    assert "What stays" in page and "withdrawn" in page and "keyed hash" in page
    wrong = admin.post(url, data={"csrf_token": csrf_from(page), "confirm_email": "nope@x.org"})
    assert wrong.status_code == 422
    assert "not this person’s email" in wrong.get_data(as_text=True)
    assert 'value="nope@x.org"' in wrong.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, people["holder"]) is not None

    done = admin.post(url, data={"csrf_token": csrf_from(page), "confirm_email": HOLDER.upper()})
    assert done.status_code == 303 and done.location == "/admin/privacy"
    with app.app_context():
        assert db.session.get(User, people["holder"]) is None
        cert = db.session.scalar(select(Certificate).where(Certificate.number == number))
        assert cert.user_id is None and cert.accreditation_id is None
        assert cert.holder_name == "" and cert.region_name is None and cert.officer_name is None
        assert cert.withdrawn_at is not None and cert.status_at(utcnow()).value == "withdrawn"
        # The file hashes stay with the record; the files themselves are gone.
        assert sorted(h for h in db.session.scalars(select(CertificateFile.sha256))) == sorted(
            hashes
        )
        assert audit.verify_chain().ok
        entries = db.session.scalars(select(AuditEntry)).all()
        actions = [e.action for e in entries]
        assert "withdrawn" in actions and actions[-1] == "erased"
        logged = " ".join(f"{e.subject} {e.data}" for e in entries).lower()
        assert HOLDER not in logged and "hester" not in logged and "quayle" not in logged
        # The erasure's own entries do not even carry the person's keyed reference.
        ref = audit.person_ref(people["holder"])
        assert all(ref not in e.data for e in entries if e.action in ("withdrawn", "erased"))
    assert not any(p.exists() for p in paths)
    assert not export_file.exists()

    visitor = app.test_client()
    by_token = visitor.get(f"/verify/{token}").get_data(as_text=True)
    assert "Withdrawn on" in by_token and "at the holder’s request" in by_token
    assert "Hester" not in by_token and "Quayle" not in by_token
    assert "Check the holder’s name" not in by_token
    form = visitor.get("/verify").get_data(as_text=True)
    by_number = visitor.post(
        "/verify", data={"csrf_token": csrf_from(form), "number": number, "surname": "Anyone"}
    )
    assert by_number.status_code == 200
    assert "Withdrawn on" in by_number.get_data(as_text=True)
    api = visitor.get(f"/api/v1/certificates/{token}").get_json()
    assert api["status"] == "withdrawn" and api["holder"] is None
    assert api["withdrawn_on"] and api["revoked_on"] is None
    # The administrators' register says so too, and offers neither the PDF nor revocation.
    register = admin.get(f"/register/certificates/{_cid}").get_data(as_text=True)
    assert "Withdrawn on" in register and "Revoke this certificate" not in register
    assert (
        "withdrawn"
        in admin.get("/register/certificates?status=withdrawn").get_data(as_text=True).lower()
    )


def test_an_administrator_cannot_erase_themselves_here(app, people):
    admin = client_for(app, ADMIN)
    url = f"/admin/privacy/people/{people['admin']}/erase"
    token = get_csrf(admin, url)
    response = admin.post(url, data={"csrf_token": token, "confirm_email": ADMIN})
    assert response.status_code == 422
    with app.app_context():
        assert db.session.get(User, people["admin"]) is not None


def test_sqlite_overwrites_deleted_rows(app):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("PostgreSQL: VACUUM, see docs/privacy.md")
        assert db.session.execute(text("PRAGMA secure_delete")).scalar() == 1
        db.session.rollback()
        with db.engine.connect() as conn:  # every pooled connection, not only the session's
            assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1


# --- Retention: learning records of people who left ---------------------------------------


def _learning(app, user_id: int, when) -> None:
    enrolment = db.metadata.tables["enrolment"]
    progress = db.metadata.tables["activity_progress"]
    attempt = db.metadata.tables["attempt"]
    with app.app_context():
        eid = db.session.execute(
            enrolment.insert().values(
                user_id=user_id,
                course_slug="rep",
                enrolled_at=when,
                enrolled_version="1",
                last_visited_at=when,
            )
        ).inserted_primary_key[0]
        db.session.execute(
            progress.insert().values(
                enrolment_id=eid,
                activity_key="case",
                is_complete=False,
                attempt_count=1,
                state={"draft": "My half-written answer"},
                updated_at=when,
            )
        )
        db.session.execute(
            attempt.insert().values(
                enrolment_id=eid,
                activity_key="quiz",
                activity_type="quiz",
                number=1,
                content_version="1",
                data={"answers": [1]},
                submitted_at=when,
            )
        )
        db.session.get(User, user_id).last_login_at = when
        db.session.commit()


def test_retention_removes_attempts_and_drafts_of_people_who_left(app, make):
    from lms.cli import lms_cli
    from lms.privacy.cli import privacy_cli

    if "privacy" not in lms_cli.commands:
        lms_cli.add_command(privacy_cli)
    left = make("trainee", email="left@example.org")
    stays = make("trainee", email="stays@example.org")
    long_ago = utcnow() - timedelta(days=7 * 365)
    _learning(app, left, long_ago)
    _learning(app, stays, long_ago)
    with app.app_context():  # signed in lately: not someone who left
        db.session.get(User, stays).last_login_at = utcnow() - timedelta(days=3)
        db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["lms", "privacy", "retention", "--dry-run"])
    assert "Would remove 1 attempts and case-study answers of people who left." in result.output
    assert "Would remove 1 progress records and drafts of people who left." in result.output
    attempt = db.metadata.tables["attempt"]
    progress = db.metadata.tables["activity_progress"]
    enrolment = db.metadata.tables["enrolment"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(attempt)) == 2
    result = runner.invoke(args=["lms", "privacy", "retention"])
    assert "Removed 1 attempts and case-study answers of people who left." in result.output
    with app.app_context():
        owners = select(enrolment.c.user_id).where(enrolment.c.id == attempt.c.enrolment_id)
        assert db.session.scalars(select(owners.scalar_subquery())).all() == [stays]
        assert db.session.scalar(select(func.count()).select_from(progress)) == 1
        # The enrolment (when they enrolled and completed) stays.
        assert db.session.scalar(select(func.count()).select_from(enrolment)) == 2
    # A shorter period from the configuration catches someone gone for a year.
    app.config["LMS_RETAIN_LEFT_LEARNING_DAYS"] = 2
    try:
        result = runner.invoke(args=["lms", "privacy", "retention", "--dry-run"])
        assert "Would remove 1 attempts and case-study answers" in result.output
    finally:
        app.config.pop("LMS_RETAIN_LEFT_LEARNING_DAYS")


def test_a_copy_whose_job_failed_shows_failed_and_does_not_block_a_new_one(app, people):
    from lms.jobs.models import Job, JobStatus

    with app.app_context():
        person = db.session.get(User, people["holder"])
        record = services.start_export(person, person)
        db.session.get(Job, record.job_id).status = JobStatus.FAILED.value  # every try failed
        db.session.commit()
        first = record.id
    holder = client_for(app, HOLDER)
    page = holder.get("/account/my-data").get_data(as_text=True)
    assert "Failed" in page
    response = holder.post("/account/my-data/export", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 303
    with app.app_context():
        statuses = dict(db.session.execute(select(PrivacyExport.id, PrivacyExport.status)).all())
    assert statuses[first] == ExportStatus.FAILED.value
    assert sorted(statuses.values()) == ["failed", "ready"]


def test_the_admin_list_of_copies_does_not_grow_in_queries_with_its_length(app, people, make):
    from sqlalchemy import event

    def queries_for_page(client) -> int:
        seen: list[str] = []

        def count(_conn, _cursor, statement, *_args) -> None:
            if statement.lstrip().upper().startswith("SELECT"):
                seen.append(statement)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            assert client.get("/admin/privacy").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(seen)

    def add_exports(n: int) -> None:
        ids = [make("trainee", email=f"many{n}-{i}@example.org") for i in range(n)]
        with app.app_context():
            admin = db.session.get(User, people["admin"])
            for uid in ids:
                services.start_export(db.session.get(User, uid), admin)
            db.session.commit()

    admin = client_for(app, ADMIN)
    add_exports(2)
    few = queries_for_page(admin)
    add_exports(5)
    assert queries_for_page(admin) == few

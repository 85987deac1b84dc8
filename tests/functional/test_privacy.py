"""Privacy: every table naming a person is covered; export and erasure through the CLI."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from sqlalchemy import func, select

from lms.extensions import db
from lms.privacy.cli import privacy_cli
from lms.privacy.providers import PROVIDERS


@pytest.fixture()
def cli(app):
    from lms.cli import lms_cli

    if "privacy" not in lms_cli.commands:
        lms_cli.add_command(privacy_cli)
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=["lms", "privacy", *args])


def person_columns():
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if any(fk.column.table.name == "user" for fk in column.foreign_keys):
                yield table.name, column.name


def test_every_table_naming_a_person_is_covered_by_a_provider(app):
    covered = set().union(*(p.covers() for p in PROVIDERS)) | {"user"}
    missing = {t for t, _ in person_columns()} - covered
    assert not missing, f"tables naming a person with no privacy provider: {sorted(missing)}"


def test_export_has_a_file_per_domain_and_says_anonymous_feedback_is_left_out(
    app, make, cli, tmp_path
):
    make("trainee", email="dana@example.org")
    out = tmp_path / "dana.zip"
    result = cli("export", "--email", "dana@example.org", "-o", str(out))
    assert result.exit_code == 0, result.output
    zf = zipfile.ZipFile(io.BytesIO(out.read_bytes()))
    names = set(zf.namelist())
    assert {f"{p.name}.json" for p in PROVIDERS} <= names
    assert "Anonymous feedback" in zf.read("README.txt").decode()
    accounts = json.loads(zf.read("accounts.json"))
    assert accounts["user"][0]["email"] == "dana@example.org"
    assert "password_hash" not in json.dumps(accounts) or "held, not shown" in json.dumps(accounts)


def test_erase_removes_every_row_naming_the_person(app, make, cli):
    uid = make("trainee", email="erin@example.org")
    other = make("trainee", email="other@example.org")
    assert cli("erase", "--email", "erin@example.org").exit_code != 0
    result = cli("erase", "--email", "erin@example.org", "--yes")
    assert result.exit_code == 0, result.output
    assert "erin" not in result.output
    with app.app_context():
        for table, column in list(person_columns()) + [("user", "id")]:
            t = db.metadata.tables[table]
            assert not db.session.scalar(select(func.count()).where(t.c[column] == uid)), table
        user = db.metadata.tables["user"]
        assert db.session.scalar(select(func.count()).where(user.c.id == other)) == 1


def test_export_holds_the_certificate_pdf_and_erasure_deletes_the_file(app, make, cli, tmp_path):
    from lms.accreditation import storage
    from lms.accreditation.models import CertificateFile
    from tests.functional.accreditation_helpers import grant

    uid = make("trainee", email="cara@example.org")
    grant(app, uid)
    with app.app_context():
        files = db.session.scalars(select(CertificateFile)).all()
        paths = [storage.path_for(f.sha256) for f in files]
    out = tmp_path / "cara.zip"
    assert cli("export", "--email", "cara@example.org", "-o", str(out)).exit_code == 0
    pdfs = [n for n in zipfile.ZipFile(out).namelist() if n.endswith(".pdf")]
    assert paths and len(pdfs) == len(paths)
    assert cli("erase", "--email", "cara@example.org", "--yes").exit_code == 0
    assert not any(p.exists() for p in paths)


def test_retention_dry_run_counts_and_the_real_run_removes(app, make, cli):
    from datetime import timedelta

    from lms.db import utcnow

    uid = make("trainee", email="old@example.org")
    notice = db.metadata.tables["notification"]
    with app.app_context():
        old = utcnow() - timedelta(days=400)
        for read_at in (old, None):
            db.session.execute(
                notice.insert().values(
                    user_id=uid,
                    kind="test",
                    subject="s",
                    body="b",
                    link="",
                    created_at=old,
                    read_at=read_at,
                    is_emailed=False,
                )
            )
        db.session.commit()
    result = cli("retention", "--dry-run")
    assert "Would remove 1 read notices." in result.output, result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(notice)) == 2
    result = cli("retention")
    assert "Removed 1 read notices." in result.output, result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(notice)) == 1


def test_retention_removes_old_finished_jobs_only(app, cli):
    from datetime import timedelta

    from lms.db import utcnow
    from lms.jobs.models import Job, JobBatch

    with app.app_context():
        old, recent = utcnow() - timedelta(days=40), utcnow() - timedelta(days=2)
        batch = JobBatch(kind="reissue", description="Re-issue a course", total=1)
        db.session.add(batch)
        db.session.flush()
        for status, finished, batch_id in (
            ("done", old, None),  # the one to go
            ("done", recent, None),
            ("failed", old, None),  # waits for an administrator
            ("done", old, batch.id),  # counts in its batch's progress
        ):
            db.session.add(
                Job(
                    task="mail.send",
                    kwargs={"to": "someone@example.org"},
                    status=status,
                    finished_at=finished,
                    batch_id=batch_id,
                )
            )
        db.session.commit()
        batch_id = batch.id
    result = cli("retention", "--dry-run")
    assert "Would remove 1 finished background jobs." in result.output, result.output
    result = cli("retention")
    assert "Removed 1 finished background jobs." in result.output, result.output
    with app.app_context():
        left = db.session.execute(select(Job.status, Job.batch_id)).all()
        assert sorted(left, key=str) == sorted(
            [("done", None), ("failed", None), ("done", batch_id)], key=str
        )

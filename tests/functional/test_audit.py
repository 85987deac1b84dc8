"""The issuance and decisions log: an entry for every issue, re-issue, revocation,
confirmation and decline, hash-chained, append-only, naming nobody."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError

from lms.accounts.models import User
from lms.accreditation import services as accreditation
from lms.accreditation.models import Accreditation, Certificate
from lms.audit import services as audit
from lms.audit.models import AuditEntry
from lms.extensions import db
from tests.conftest import login
from tests.functional.accreditation_helpers import grant, write_plain_templates


def entries() -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


@pytest.fixture()
def simple(app_with, tmp_path: Path):
    """The app with one-line certificate templates (re-issues stay quick)."""
    return app_with(LMS_CERTIFICATES_DIR=str(write_plain_templates(tmp_path / "c", "Cert")))


def test_each_event_is_one_entry_chained_to_the_last(simple, make):
    app = simple
    trainee = make("trainee", email="tia@example.org", name="Tia Marsh")
    officer = make("officer", email="olu@example.org", name="Olu Bright")
    admin = make("admin")
    grant(app, trainee, course="rep")
    with app.app_context():
        certificate = db.session.scalar(select(Certificate))
        accreditation.reissue(certificate)
        accreditation.revoke(certificate, db.session.get(User, admin), "Issued by mistake")
        record = Accreditation(
            user_id=trainee,
            course_slug="link-member",
            course_version="2027.1",
            status="pending",
            region_id=db.session.get(User, trainee).region_id,
        )
        db.session.add(record)
        db.session.flush()
        accreditation.decline(record, db.session.get(User, officer), "Attend day 2 first.")
        db.session.commit()
        rows = entries()
        assert [e.action for e in rows] == ["issued", "reissued", "revoked", "declined"]
        assert rows[0].subject == f"certificate:{certificate.number}"
        assert rows[3].subject == f"accreditation:{record.id}"
        assert rows[0].prev_hash == audit.GENESIS
        assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:], strict=False))
        facts = json.loads(rows[2].data)
        assert facts["holder"] == audit.person_ref(trainee) and facts["by"]
        # Nothing in the log names anyone or repeats what was typed.
        dump = " ".join(e.subject + e.data for e in rows)
        for personal in ("Tia", "Marsh", "tia@example.org", "Olu", "mistake", "day 2"):
            assert personal not in dump
        assert audit.verify_chain().ok and audit.verify_chain().entries == 4


def test_an_entry_cannot_be_changed(simple, make):
    grant(simple, make("trainee"), course="rep")
    with simple.app_context():
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(update(AuditEntry).values(action="revoked"))
            db.session.flush()
        db.session.rollback()


def test_verify_reports_the_first_broken_link(simple, make):
    app = simple
    for _n in range(3):
        grant(app, make("trainee"), course="rep")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["lms", "audit", "verify"])
    assert result.exit_code == 0 and "whole: 3 entries" in result.output
    with app.app_context():
        second = entries()[1]
        # Put entry 2 back with other contents but its old hashes: the chain breaks there.
        kept = {c: getattr(second, c) for c in ("id", "at", "action", "subject", "prev_hash")}
        kept["hash"] = second.hash
        db.session.execute(delete(AuditEntry).where(AuditEntry.id == second.id))
        db.session.add(AuditEntry(**kept, data=second.data.replace("rep", "link-member")))
        db.session.commit()
        report = audit.verify_chain()
        assert report.broken_at == 2 and "do not match" in report.reason
    result = runner.invoke(args=["lms", "audit", "verify"])
    assert result.exit_code == 1 and "breaks at entry 2" in result.output
    with app.app_context():
        db.session.execute(delete(AuditEntry).where(AuditEntry.id == 2))
        db.session.commit()
        report = audit.verify_chain()
        assert report.broken_at == 2 and "missing" in report.reason


def test_administrators_read_the_log_and_check_it(simple, make):
    app = simple
    make("admin", email="office@example.org")
    grant(app, make("trainee"), course="rep")
    client = app.test_client()
    login(client, "office@example.org")
    page = client.get("/admin/audit?check=1").get_data(as_text=True)
    assert "Issuance and decisions log" in page and "issued" in page
    assert "The log is whole: 1 entries" in page
    with app.app_context():
        number = db.session.scalar(select(Certificate.number))
    one = client.get(f"/admin/audit?subject=certificate:{number}").get_data(as_text=True)
    assert f"certificate:{number}" in one


def test_a_writer_that_read_an_old_last_entry_follows_the_newer_one(simple, monkeypatch):
    """Two writers that read the same last entry cannot both follow it (prev_hash is
    unique): the one that comes second tries again after the other's entry."""
    with simple.app_context():
        audit.append("issued", "certificate:TEST-1", course="rep")
        stale = audit._last()
        audit.append("issued", "certificate:TEST-2", course="rep")  # the other writer
        calls = []
        real = audit._last

        def last_seen_late():
            calls.append(1)
            return stale if len(calls) == 1 else real()

        monkeypatch.setattr(audit, "_last", last_seen_late)
        entry = audit.append("revoked", "certificate:TEST-1", course="rep")
        db.session.commit()
        assert len(calls) == 2 and entry.id == 3
        report = audit.verify_chain()
        assert report.ok and report.entries == 3

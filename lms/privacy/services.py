"""Subject access export and erasure across every provider.

Exports asked for on the pages are rows of :class:`PrivacyExport` made by the job
``privacy.export`` into ``instance/privacy/`` (or ``LMS_PRIVACY_EXPORT_DIR``; random
file names, 0600), downloadable
by the person and by administrators until ``LMS_PRIVACY_EXPORT_DAYS`` (default 7) have
passed; the daily retention job then deletes the file (:func:`expire_exports`).

Erasure (:func:`erase_user`) deletes every row naming the person, their stored PDFs and
export files and the account; their certificates stay only as an anonymous record
(number, course, dates, file hashes) that verification shows as withdrawn. The audit
log gets a "withdrawn" entry per certificate and one "erased" entry, none naming the
person.
"""

from __future__ import annotations

import io
import json
import logging
import secrets
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import selectinload

from lms.accreditation import storage
from lms.db import utcnow
from lms.extensions import db
from lms.jobs import services as jobs
from lms.privacy.models import ExportStatus, PrivacyExport
from lms.privacy.providers import PROVIDERS, erase, export

log = logging.getLogger("lms.privacy")

#: Days a finished export can be downloaded before its file is deleted.
EXPORT_DAYS = 7

README = """Your data from the MiP training platform

One JSON file per part of the platform, and your certificates as PDFs.
Secrets (password and token hashes, second-factor secrets) are held but not shown.
Anonymous feedback is, by design, not included: it is not linked to you, so
no one, including us, can tell which anonymous answers were yours.
To correct anything, contact the training office.
"""


class PrivacyError(ValueError):
    """A request the privacy pages refuse, with a message for the person."""


def _certificate_files(user_id: int) -> list[tuple[str, str]]:
    cert = db.metadata.tables["certificate"]
    cfile = db.metadata.tables["certificate_file"]
    rows = db.session.execute(
        select(cert.c.number, cfile.c.sha256)
        .join(cfile, cfile.c.certificate_id == cert.c.id)
        .where(cert.c.user_id == user_id)
    )
    return [(r.number, r.sha256) for r in rows]


def export_zip(user) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("README.txt", README)
        for provider in PROVIDERS:
            data = export(provider, user)
            zf.writestr(f"{provider.name}.json", json.dumps(data, indent=2, default=str))
        for number, sha in _certificate_files(user.id):
            try:
                zf.writestr(f"certificates/{number}-{sha[:8]}.pdf", storage.read_verified(sha))
            except (OSError, storage.StoredFileError):
                log.warning("privacy export: a stored certificate file is missing")
    return buf.getvalue()


# --- Exports asked for on the pages -------------------------------------------------------


def export_dir() -> Path:
    """``LMS_PRIVACY_EXPORT_DIR``, by default ``instance/privacy/`` (workers and web servers
    on several machines need a shared folder, as for the certificate PDFs): made on first
    use, readable by this process's user only."""
    configured = current_app.config.get("LMS_PRIVACY_EXPORT_DIR")
    folder = Path(configured) if configured else Path(current_app.instance_path) / "privacy"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def export_days() -> int:
    return int(current_app.config.get("LMS_PRIVACY_EXPORT_DAYS") or EXPORT_DAYS)


def export_path(record: PrivacyExport) -> Path | None:
    if not record.file_name:
        return None
    return export_dir() / record.file_name


def exports_of(user) -> list[PrivacyExport]:
    return list(
        db.session.scalars(
            select(PrivacyExport)
            .where(PrivacyExport.user_id == user.id)
            .order_by(PrivacyExport.id.desc())
        )
    )


def recent_exports_stmt():
    """Exports, newest first, with the people they are for and by (two queries more per
    page, however long it is)."""
    return (
        select(PrivacyExport)
        .options(selectinload(PrivacyExport.user), selectinload(PrivacyExport.requested_by))
        .order_by(PrivacyExport.id.desc())
    )


def job_statuses(records) -> dict[int, str]:
    """The status of each record's job (to show a failed one), in one query."""
    from lms.jobs.models import Job

    ids = [r.job_id for r in records if r.job_id]
    if not ids:
        return {}
    return dict(db.session.execute(select(Job.id, Job.status).where(Job.id.in_(ids))).all())


def shown_status(record: PrivacyExport, job_status: str | None, now: datetime) -> str:
    """queued, ready, failed or expired, as the pages show it."""
    if record.status == ExportStatus.QUEUED.value and job_status == "failed":
        return ExportStatus.FAILED.value
    if record.status == ExportStatus.READY.value and not record.is_downloadable(now):
        return ExportStatus.EXPIRED.value
    return record.status


def start_export(user, requested_by) -> PrivacyExport:
    """Record an export of ``user``'s data and queue the job making it (flushed, not committed).

    Raises PrivacyError when one is already waiting to be made. One whose job failed
    for good is marked failed and no longer stands in the way.
    """
    waiting = list(
        db.session.scalars(
            select(PrivacyExport).where(
                PrivacyExport.user_id == user.id,
                PrivacyExport.status == ExportStatus.QUEUED.value,
            )
        )
    )
    statuses = job_statuses(waiting)
    for record in waiting:
        if statuses.get(record.job_id) == "failed":
            record.status = ExportStatus.FAILED.value
        else:
            raise PrivacyError(
                "A copy is already being prepared. It will be listed here when ready."
            )
    record = PrivacyExport(
        user_id=user.id, requested_by_id=requested_by.id if requested_by else None
    )
    db.session.add(record)
    db.session.flush()
    record.job_id = jobs.enqueue("privacy.export", export_id=record.id).id
    db.session.flush()
    return record


def _write_private(folder: Path, data: bytes) -> str:
    name = f"{secrets.token_urlsafe(24)}.zip"
    storage.write_atomically(folder / name, data, 0o600)
    return name


@jobs.task("privacy.export", retries=2)
def export_job(export_id: int) -> None:
    """Job: make the ZIP of an export asked for, then tell the person it is ready.

    A repeat finds the record no longer queued and does nothing.
    """
    from lms.notifications.services import notify

    record = db.session.get(PrivacyExport, export_id)
    if record is None or record.status != ExportStatus.QUEUED.value:
        return
    user = record.user
    data = export_zip(user)
    name = _write_private(export_dir(), data)
    now = utcnow()
    record.file_name = name
    record.size = len(data)
    record.status = ExportStatus.READY.value
    record.ready_at = now
    record.expires_at = now + timedelta(days=export_days())
    db.session.flush()
    notify(
        user,
        "data_export_ready",
        "A copy of your data is ready",
        "The copy of the data this platform holds about you is ready to download from "
        f"your account, for {export_days()} days. Anonymous feedback is not included: "
        "nothing links it to you.",
        link="/account/my-data",
        key=f"privacy-export:{record.id}",
    )


def expire_exports(dry_run: bool = False, now: datetime | None = None) -> int:
    """Delete the files of exports past their time (the records stay, marked expired)."""
    now = now or utcnow()
    due = list(
        db.session.scalars(
            select(PrivacyExport).where(
                PrivacyExport.status == ExportStatus.READY.value, PrivacyExport.expires_at <= now
            )
        )
    )
    if not dry_run:
        for record in due:
            path = export_path(record)
            if path is not None:
                path.unlink(missing_ok=True)
            record.file_name = None
            record.status = ExportStatus.EXPIRED.value
        db.session.flush()
    return len(due)


# --- Erasure ------------------------------------------------------------------------------


def _withdraw_certificates(user_id: int, now: datetime) -> list[tuple[str, str, str]]:
    """Keep the person's certificates as anonymous, withdrawn records; returns (number,
    course, version) of each."""
    cert = db.metadata.tables["certificate"]
    rows = db.session.execute(
        select(cert.c.id, cert.c.number, cert.c.course_slug, cert.c.course_version).where(
            cert.c.user_id == user_id
        )
    ).all()
    if rows:
        db.session.execute(
            update(cert)
            .where(cert.c.user_id == user_id)
            .values(
                user_id=None,
                accreditation_id=None,
                holder_name="",
                region_name=None,
                officer_name=None,
                revocation_reason=None,
                # Withdrawn is also revoked: every list of current certificates leaves it out.
                revoked_at=func.coalesce(cert.c.revoked_at, now),
                withdrawn_at=now,
            )
        )
    _revoke_credentials([r.id for r in rows])
    return [(r.number, r.course_slug, r.course_version) for r in rows]


def _revoke_credentials(certificate_ids: list[int]) -> None:
    """Set the withdrawn certificates' bits in the credentials' revocation status list
    (the list is published again by a job): their Open Badges credentials stop verifying."""
    from lms.credentials.services import revoke_certificate_status

    for certificate_id in certificate_ids:
        revoke_certificate_status(certificate_id)


def _delete_unshared_files(hashes: set[str]) -> None:
    """Delete stored PDFs no certificate still in use refers to (withdrawn ones keep
    only the hash)."""
    cert = db.metadata.tables["certificate"]
    cfile = db.metadata.tables["certificate_file"]
    for sha in hashes:
        in_use = db.session.scalar(
            select(func.count())
            .select_from(cfile.join(cert, cert.c.id == cfile.c.certificate_id))
            .where(cfile.c.sha256 == sha, cert.c.withdrawn_at.is_(None))
        )
        if not in_use:
            storage.path_for(sha).unlink(missing_ok=True)


def _delete_mail_jobs(email: str) -> None:
    """Kept mail jobs hold the address and subject: the person's go with them."""
    from lms.jobs.models import Job

    wanted = email.strip().lower()
    ids = [
        job_id
        for job_id, kwargs in db.session.execute(
            select(Job.id, Job.kwargs).where(Job.task == "mail.send")
        )
        if str((kwargs or {}).get("to", "")).strip().lower() == wanted
    ]
    for i in range(0, len(ids), 500):
        db.session.execute(delete(Job).where(Job.id.in_(ids[i : i + 500])))


def erase_user(user, by=None) -> int:
    """Remove the person's data; the caller commits. Returns the audit entry's id.

    Deleted rows are overwritten in the file on SQLite (``PRAGMA secure_delete``, set
    on every connection by :func:`lms.db.configure_sqlite` and again here).
    """
    from lms.audit import services as audit

    if db.engine.dialect.name == "sqlite":
        db.session.execute(text("PRAGMA secure_delete=ON"))
    uid, email = user.id, user.email
    by_ref = audit.person_ref(by.id) if by is not None else None
    hashes = {sha for _, sha in _certificate_files(uid)}
    export_files = [p for p in (export_path(r) for r in exports_of(user)) if p is not None]
    now = utcnow()
    withdrawn = _withdraw_certificates(uid, now)
    for provider in PROVIDERS:
        erase(provider, user)
    accreditation = db.metadata.tables["accreditation"]
    db.session.execute(delete(accreditation).where(accreditation.c.user_id == uid))
    _delete_mail_jobs(email)
    user_table = db.metadata.tables["user"]
    db.session.execute(delete(user_table).where(user_table.c.id == uid))
    db.session.expunge(user)
    db.session.flush()
    for number, course, version in withdrawn:
        audit.append("withdrawn", f"certificate:{number}", course=course, version=version)
    entry = audit.append("erased", "account", certificates_withdrawn=len(withdrawn), by=by_ref)
    _delete_unshared_files(hashes)
    for path in export_files:
        path.unlink(missing_ok=True)
    log.info("privacy: an account was erased (audit entry %s)", entry.id)
    return entry.id


def after_erasure_commit() -> None:
    """On SQLite, fold the write-ahead log into the database file and empty it, so the
    erased rows' old pages do not stay in the WAL file (best effort: readers may hold it)."""
    if db.engine.dialect.name != "sqlite":
        return
    try:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    except Exception:  # pragma: no cover - a busy database checkpoints later by itself
        log.warning("privacy: the WAL checkpoint after an erasure did not run", exc_info=True)

"""Subject access export and erasure across every provider."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import zipfile

from sqlalchemy import delete, func, select, text

from lms.accreditation import storage
from lms.extensions import db
from lms.privacy.providers import PROVIDERS, erase, export

log = logging.getLogger("lms.privacy")

README = """Your data from the MiP training platform

One JSON file per part of the platform, and your certificates as PDFs.
Secrets (password and token hashes, second-factor secrets) are held but not shown.
Anonymous feedback is, by design, not linked to you and so is not included:
no one, including us, can tell which anonymous answers were yours.
To correct anything, contact the training office.
"""


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


def user_reference(user_id: int) -> str:
    return hashlib.sha256(f"lms-user:{user_id}".encode()).hexdigest()[:16]


def erase_user(user) -> None:
    """Remove the person's data; the caller commits. Rows are overwritten on SQLite."""
    if db.engine.dialect.name == "sqlite":
        db.session.execute(text("PRAGMA secure_delete=ON"))
    uid = user.id
    files = _certificate_files(uid)
    for provider in PROVIDERS:
        erase(provider, user)
    cert = db.metadata.tables["certificate"]
    cfile = db.metadata.tables["certificate_file"]
    accreditation = db.metadata.tables["accreditation"]
    ids = select(cert.c.id).where(cert.c.user_id == uid)
    db.session.execute(delete(cfile).where(cfile.c.certificate_id.in_(ids)))
    db.session.execute(delete(cert).where(cert.c.user_id == uid))
    db.session.execute(delete(accreditation).where(accreditation.c.user_id == uid))
    user_table = db.metadata.tables["user"]
    db.session.execute(delete(user_table).where(user_table.c.id == uid))
    db.session.expunge(user)
    db.session.flush()
    for _, sha in files:
        still = db.session.scalar(select(func.count()).where(cfile.c.sha256 == sha))
        if not still:
            storage.path_for(sha).unlink(missing_ok=True)
    log.info("privacy: an account was erased (ref %s)", user_reference(uid))

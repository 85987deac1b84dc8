"""One row per event of the issuance and decisions log.

Each entry's ``hash`` is the SHA-256 of the previous entry's hash and this entry's
canonical JSON (id, time, action, subject, data); ``prev_hash`` is unique, so two
writers can never both follow the same entry (the chain cannot fork). Entries hold
no name, email or free text about a person: a person is named by a keyed hash of
their id, so erasing them leaves the chain whole.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lms.db import utcnow
from lms.extensions import db


class AuditEntry(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(40))
    #: What it is about, e.g. "certificate:MIP-R-2026-ABCD" or "accreditation:12".
    subject: Mapped[str] = mapped_column(String(120), index=True)
    #: Canonical JSON (sorted keys, no spaces) of the facts, exactly as hashed.
    data: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)

"""Writing and checking the issuance and decisions log.

:func:`append` adds an entry; the accreditation domain's signals call it for every
issue, re-issue, revocation, confirmation and decline (:func:`connect_signals`), in the
same transaction as the change, so an entry exists exactly when the change does.
:func:`verify_chain` recomputes every hash in order and reports the first entry that
does not follow from the one before (changed, removed or inserted).

A person appears only as ``person_ref``: an HMAC of their id under the site's secret
key, the same for all their entries, meaningless without the key, and unchanged when
their account is erased. Certificate numbers and course slugs are not personal.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from lms import signals
from lms.audit.models import AuditEntry
from lms.db import utcnow
from lms.extensions import db

log = logging.getLogger(__name__)

GENESIS = "0" * 64
#: "withdrawn" and "erased" are written by lms.privacy when a person's data is erased.
ACTIONS = ("issued", "reissued", "revoked", "confirmed", "declined", "withdrawn", "erased")


def person_ref(user_id: int | None) -> str | None:
    """A stable, keyed reference to a person that names nobody without the secret key."""
    if user_id is None:
        return None
    key = current_app.config["SECRET_KEY"]
    key = key.encode() if isinstance(key, str) else key
    return hmac.new(key, f"audit-person:{user_id}".encode(), hashlib.sha256).hexdigest()[:32]


def canonical(entry_id: int, at: datetime, action: str, subject: str, data: str) -> bytes:
    """The bytes an entry's hash covers (with the previous hash in front)."""
    return json.dumps(
        {"id": entry_id, "at": at.isoformat(), "action": action, "subject": subject, "data": data},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def entry_hash(prev_hash: str, entry_id: int, at: datetime, action: str, subject: str, data: str):
    return hashlib.sha256(
        prev_hash.encode() + canonical(entry_id, at, action, subject, data)
    ).hexdigest()


def _last() -> tuple[int, str]:
    row = db.session.execute(
        select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    return (row.id, row.hash) if row else (0, GENESIS)


def append(action: str, subject: str, **facts: Any) -> AuditEntry:
    """Append an entry (flushed, committed with the change it records).

    ``facts`` must be JSON values and hold no name, email or free text about a
    person. Two writers at once cannot both follow the same entry (``prev_hash`` is
    unique): the one that loses tries again after the other's entry.
    Raises ValueError for an unknown action.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    data = json.dumps(facts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for _attempt in range(5):
        last_id, prev = _last()
        at = utcnow().replace(microsecond=0)
        entry = AuditEntry(
            id=last_id + 1, at=at, action=action, subject=subject, data=data, prev_hash=prev
        )
        entry.hash = entry_hash(prev, entry.id, at, action, subject, data)
        try:
            with db.session.begin_nested():
                db.session.add(entry)
            return entry
        except IntegrityError:
            continue  # another writer appended first: follow theirs
    raise RuntimeError("could not append to the audit log")


@dataclass(frozen=True)
class ChainReport:
    entries: int
    broken_at: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify_chain(batch: int = 1000) -> ChainReport:
    """Recompute every entry's hash in order; the first that does not follow is reported."""
    prev, expected_id, count = GENESIS, 1, 0
    after = 0
    while True:
        rows = db.session.scalars(
            select(AuditEntry).where(AuditEntry.id > after).order_by(AuditEntry.id).limit(batch)
        ).all()
        if not rows:
            return ChainReport(count)
        for entry in rows:
            if entry.id != expected_id:
                return ChainReport(count, expected_id, f"entry {expected_id} is missing")
            if entry.prev_hash != prev:
                return ChainReport(
                    count, entry.id, "it does not name the entry before it as its predecessor"
                )
            if (
                entry_hash(prev, entry.id, entry.at, entry.action, entry.subject, entry.data)
                != entry.hash
            ):
                return ChainReport(count, entry.id, "its contents do not match its hash")
            prev, expected_id, count = entry.hash, entry.id + 1, count + 1
        after = rows[-1].id
        db.session.expire_all()


def entries_stmt(subject: str | None = None):
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc())
    if subject:
        stmt = stmt.where(AuditEntry.subject == subject)
    return stmt


# --- What is recorded: the accreditation domain's signals ----------------------------------


def _certificate_facts(certificate) -> dict[str, Any]:
    return {
        "course": certificate.course_slug,
        "version": certificate.course_version,
        "holder": person_ref(certificate.user_id),
    }


def _on_issued(_sender: Any, certificate, **_kw: Any) -> None:
    append(
        "issued",
        f"certificate:{certificate.number}",
        **_certificate_facts(certificate),
        expires=certificate.expires_at.isoformat() if certificate.expires_at else None,
    )


def _on_reissued(_sender: Any, certificate, file=None, **_kw: Any) -> None:
    append(
        "reissued",
        f"certificate:{certificate.number}",
        **_certificate_facts(certificate),
        sha256=getattr(file, "sha256", None),
        template=certificate.template,
    )


def _on_revoked(_sender: Any, certificate, actor=None, **_kw: Any) -> None:
    # The reason is free text that may name people: it stays on the certificate only.
    append(
        "revoked",
        f"certificate:{certificate.number}",
        **_certificate_facts(certificate),
        by=person_ref(actor.id if actor is not None else None),
    )


def _on_decided(_sender: Any, record, decision: str, **_kw: Any) -> None:
    append(
        "confirmed" if decision == "confirmed" else "declined",
        f"accreditation:{record.id}",
        course=record.course_slug,
        trainee=person_ref(record.user_id),
        by=person_ref(record.decided_by_id),
    )


def connect_signals() -> None:
    signals.certificate_issued.connect(_on_issued)
    signals.certificate_reissued.connect(_on_reissued)
    signals.certificate_revoked.connect(_on_revoked)
    signals.accreditation_decided.connect(_on_decided)

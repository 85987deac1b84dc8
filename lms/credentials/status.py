"""Revocation as a W3C Bitstring Status List (v1.0).

Every credential carries a ``BitstringStatusListEntry`` naming its list (a URL on this
site, readable without login) and its position. Positions are drawn at random from
``STATUS_LIST_LENGTH`` (131,072) so that a position says nothing about when someone
qualified; a list is filled to half at most, then the next list is opened. The
``(list, position)`` pair is unique in the database: two simultaneous issuers never share
a bit (the loser of the race draws again).

Revoking a certificate (``signals.certificate_revoked``) sets its bit in the database and
records a job that publishes the list again: the signed ``BitstringStatusListCredential``
(Data Integrity, eddsa-rdfc-2022) is stored and served as it is. ``encodedList`` is the
multibase base64url (``u``, no padding) of the GZIP-compressed bitstring; index 0 is the
left-most bit of the first byte.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import secrets
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from lms import signals
from lms.credentials import services
from lms.credentials.models import CredentialStatusEntry, CredentialStatusList
from lms.db import utcnow
from lms.extensions import db
from lms.jobs import services as jobs

log = logging.getLogger(__name__)

STATUS_LIST_LENGTH = 131_072  # the specification's minimum (16 KiB), for herd privacy
FILL_LIMIT = STATUS_LIST_LENGTH // 2  # then open the next list: random draws stay cheap
DRAWS = 40
PURPOSE = "revocation"
PUBLISH_JOB = "credentials.publish_status_list"


class StatusListError(ValueError):
    """A status list value that cannot be read (bad encoding, wrong length)."""


# --- Encoding ------------------------------------------------------------------------------


def encode_bits(bits: bytes) -> str:
    """``u`` + base64url (no padding) of the GZIP-compressed bitstring."""
    compressed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).decode("ascii").rstrip("=")


def decode_encoded_list(encoded: str) -> bytes:
    """The raw bitstring from an ``encodedList``. Raises StatusListError."""
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise StatusListError("The status list is not multibase base64url ('u').")
    body = encoded[1:]
    try:
        return gzip.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, OSError, EOFError) as exc:
        raise StatusListError("The status list is not a GZIP-compressed bitstring.") from exc


def bit_at(bits: bytes, index: int) -> bool:
    """Bit ``index`` of ``bits``; index 0 is the left-most (most significant) bit of byte 0."""
    if not 0 <= index < len(bits) * 8:
        raise StatusListError(f"Position {index} is outside the status list.")
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def set_bit(bits: bytearray, index: int) -> None:
    bits[index // 8] |= 0x80 >> (index % 8)


# --- Lists and entries ---------------------------------------------------------------------


def status_list_url(list_id: int = 1) -> str:
    return f"{services.site_url()}/credentials/status/{list_id}"


def list_id_from_url(url: str) -> int | None:
    """The list number of a ``statusListCredential`` URL on this site, else None."""
    prefix = status_list_url(0)[:-1]
    if not isinstance(url, str) or not url.startswith(prefix):
        return None
    rest = url[len(prefix) :]
    return int(rest) if rest.isdigit() else None


def _open_list() -> CredentialStatusList:
    """The list new positions are drawn from: the newest one not yet half full."""
    newest = db.session.scalar(
        select(CredentialStatusList)
        .where(CredentialStatusList.purpose == PURPOSE)
        .order_by(CredentialStatusList.id.desc())
        .limit(1)
    )
    if newest is not None:
        used = db.session.scalar(
            select(func.count(CredentialStatusEntry.id)).where(
                CredentialStatusEntry.list_id == newest.id
            )
        )
        if used < FILL_LIMIT:
            return newest
    return _new_list((newest.id if newest is not None else 0) + 1)


def _new_list(list_id: int) -> CredentialStatusList:
    status_list = CredentialStatusList(
        id=list_id, purpose=PURPOSE, length=STATUS_LIST_LENGTH, version=0
    )
    try:
        with db.session.begin_nested():
            db.session.add(status_list)
    except IntegrityError:
        # Another issuer opened this list at the same moment: use theirs.
        existing = db.session.get(CredentialStatusList, list_id)
        if existing is None:
            raise
        return existing
    # Not published until a bit is set: until then the route signs the empty list itself.
    return status_list


def entry_of(certificate) -> CredentialStatusEntry | None:
    return db.session.scalar(
        select(CredentialStatusEntry).where(CredentialStatusEntry.certificate_id == certificate.id)
    )


def ensure_entry(certificate) -> CredentialStatusEntry:
    """The certificate's position, drawn at random the first time (flushed, not committed)."""
    existing = entry_of(certificate)
    if existing is not None:
        return existing
    for _attempt in range(3):
        status_list = _open_list()
        for _draw in range(DRAWS):
            entry = CredentialStatusEntry(
                list_id=status_list.id,
                position=secrets.randbelow(status_list.length),
                certificate_id=certificate.id,
                revoked=certificate.revoked_at is not None,
            )
            try:
                with db.session.begin_nested():
                    db.session.add(entry)
            except IntegrityError:
                # Position taken, or a simultaneous request gave this certificate one.
                existing = entry_of(certificate)
                if existing is not None:
                    return existing
                continue
            if entry.revoked:
                _changed(status_list)
            return entry
        # Improbable (the list is at most half full): open the next list.
        _new_list(status_list.id + 1)
    raise RuntimeError("No free status list position found")


def entry_for(certificate) -> dict[str, Any]:
    """The credential's ``credentialStatus`` (creating its position on first use)."""
    entry = ensure_entry(certificate)
    url = status_list_url(entry.list_id)
    return {
        "id": f"{url}#{entry.position}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": PURPOSE,
        "statusListIndex": str(entry.position),
        "statusListCredential": url,
    }


def status_list_bits(list_id: int = 1) -> bytes:
    """The list's bitstring as it is now in the database (the truth, maybe newer than the
    published credential). Empty lists and unknown ids give all zeros / StatusListError."""
    status_list = db.session.get(CredentialStatusList, list_id)
    if status_list is None:
        raise StatusListError(f"There is no status list {list_id}.")
    bits = bytearray(status_list.length // 8)
    rows = db.session.execute(
        select(CredentialStatusEntry.position).where(
            CredentialStatusEntry.list_id == list_id,
            (CredentialStatusEntry.revoked.is_(True))
            | (CredentialStatusEntry.certificate_id.is_(None)),
        )
    )
    for (position,) in rows:
        set_bit(bits, position)
    return bytes(bits)


def is_revoked(index: int, list_id: int = 1) -> bool:
    """Whether position ``index`` of list ``list_id`` is set, from the database."""
    entry = db.session.scalar(
        select(CredentialStatusEntry).where(
            CredentialStatusEntry.list_id == list_id, CredentialStatusEntry.position == index
        )
    )
    return entry is not None and (entry.revoked or entry.certificate_id is None)


def _changed(status_list: CredentialStatusList) -> None:
    status_list.version = (status_list.version or 0) + 1
    db.session.flush()
    jobs.enqueue(PUBLISH_JOB, list_id=status_list.id)


def mark_revoked(certificate) -> CredentialStatusEntry:
    """Set the certificate's bit and record the publish job (flushed, not committed)."""
    entry = ensure_entry(certificate)
    if not entry.revoked:
        entry.revoked = True
        _changed(entry.status_list)
    return entry


def revoke_certificate_id(certificate_id: int) -> CredentialStatusEntry | None:
    """Set the bit of the certificate with this id (e.g. withdrawn at erasure), by id alone:
    the caller may have changed the row with a Core UPDATE. None if there is no such row."""
    from lms.accreditation.models import Certificate

    entry = db.session.scalar(
        select(CredentialStatusEntry).where(CredentialStatusEntry.certificate_id == certificate_id)
    )
    if entry is None:
        certificate = db.session.get(Certificate, certificate_id)
        if certificate is None:
            return None
        entry = ensure_entry(certificate)
    if not entry.revoked:
        entry.revoked = True
        _changed(entry.status_list)
    return entry


# --- The status list credential ------------------------------------------------------------


def build_list_credential(list_id: int, at: datetime | None = None) -> dict[str, Any]:
    """The signed BitstringStatusListCredential for the list as it is in the database,
    valid from and signed at ``at`` (now by default). Ed25519 signatures are
    deterministic, so the same list, address and ``at`` give the same bytes."""
    from lms.credentials import dataintegrity

    at = at or utcnow()
    url = status_list_url(list_id)
    credential = {
        "@context": [services.VC_V2],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": services.issuer_did(),
        "validFrom": services._iso(at),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": PURPOSE,
            "encodedList": encode_bits(status_list_bits(list_id)),
        },
    }
    return dataintegrity.sign(credential, created=services._iso(at))


def publish(list_id: int) -> bool:
    """Store the signed list credential unless the stored one is current. True if made."""
    status_list = db.session.get(CredentialStatusList, list_id)
    if status_list is None:
        return False
    version = status_list.version
    if status_list.published is not None and status_list.published_version == version:
        return False
    if not current_app.config.get("LMS_BASE_URL"):
        log.info(
            "Status list %s not published: without LMS_BASE_URL it is signed when asked for",
            list_id,
        )
        return False
    status_list.published = json.dumps(build_list_credential(list_id), ensure_ascii=False)
    status_list.published_version = version
    status_list.published_at = utcnow()
    db.session.flush()
    log.info("Status list %s published (version %s)", list_id, version)
    return True


@jobs.task(PUBLISH_JOB, retries=3, priority=5)
def publish_status_list_job(list_id: int) -> None:
    """Job: sign and store the status list again after a bit changed (skips if current)."""
    publish(list_id)


def published_list(list_id: int) -> tuple[str, CredentialStatusList] | None:
    """The stored list credential's JSON text (made now if never published) and its row."""
    status_list = db.session.get(CredentialStatusList, list_id)
    if status_list is None:
        return None
    stored = status_list.published
    if stored is None or json.loads(stored).get("id") != status_list_url(list_id):
        # Never published (without LMS_BASE_URL a job cannot know the site's address and
        # DID), or published under another address: signed now, for the address asked,
        # dated from the list's creation so that the same list gives the same bytes (and
        # ETag) on every request until a bit changes.
        text = json.dumps(
            build_list_credential(list_id, at=status_list.created_at), ensure_ascii=False
        )
        return text, status_list
    return stored, status_list


def _on_revoked(_sender: Any, certificate, **_kw: Any) -> None:
    mark_revoked(certificate)


def _on_issued(_sender: Any, certificate, **_kw: Any) -> None:
    ensure_entry(certificate)


def connect_signals() -> None:
    signals.certificate_revoked.connect(_on_revoked)
    signals.certificate_issued.connect(_on_issued)

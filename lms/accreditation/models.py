"""Accreditation requests and decisions, certificates, and the stored PDF files.

A certificate is unique per person, course and course version (a database
constraint), carries a short human-readable number and a long unguessable token
for verification, and is never deleted: revocation and expiry are statuses.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.db import utcnow
from lms.extensions import db


class AccreditationStatus(StrEnum):
    PENDING = "pending"  # waiting for the national officer
    DECLINED = "declined"
    ACCREDITED = "accredited"


class CertificateStatus(StrEnum):
    VALID = "valid"
    REVOKED = "revoked"
    EXPIRED = "expired"
    #: Kept only as an anonymous record after the holder's data was erased.
    WITHDRAWN = "withdrawn"


class Accreditation(db.Model):
    __table_args__ = (UniqueConstraint("user_id", "course_slug", "course_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    course_slug: Mapped[str] = mapped_column(String(80))
    course_version: Mapped[str] = mapped_column(String(40))
    # Indexed: requests awaiting a decision are found among pending records alone.
    status: Mapped[str] = mapped_column(String(12), index=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"), index=True)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    decision_note: Mapped[str | None] = mapped_column(Text)
    is_prior: Mapped[bool] = mapped_column(default=False)
    prior_reason: Mapped[str | None] = mapped_column(Text)

    user = relationship("User", foreign_keys=[user_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])
    region = relationship("Region")
    certificate: Mapped[Certificate | None] = relationship(back_populates="accreditation")


def certificate_status(
    revoked_at: datetime | None,
    expires_at: datetime | None,
    now: datetime,
    withdrawn_at: datetime | None = None,
) -> CertificateStatus:
    """Withdrawn, revoked, expired at ``now``, or valid: one rule for certificates and for
    rows of them. A withdrawn certificate (its holder's data erased) is revoked too."""
    if withdrawn_at is not None:
        return CertificateStatus.WITHDRAWN
    if revoked_at is not None:
        return CertificateStatus.REVOKED
    if expires_at is not None and expires_at <= now:
        return CertificateStatus.EXPIRED
    return CertificateStatus.VALID


class Certificate(db.Model):
    __table_args__ = (UniqueConstraint("user_id", "course_slug", "course_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Both empty once the holder's data is erased (lms.privacy): the certificate is then
    # an anonymous record (number, course, dates, file hashes) that verification shows
    # as withdrawn; holder_name, region_name, officer_name and the reason are emptied.
    accreditation_id: Mapped[int | None] = mapped_column(
        ForeignKey("accreditation.id", ondelete="CASCADE"), unique=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    course_slug: Mapped[str] = mapped_column(String(80))
    course_version: Mapped[str] = mapped_column(String(40))
    number: Mapped[str] = mapped_column(String(24), unique=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    holder_name: Mapped[str] = mapped_column(String(200))
    accreditation_title: Mapped[str] = mapped_column(String(200))
    course_title: Mapped[str] = mapped_column(String(200))
    region_name: Mapped[str | None] = mapped_column(String(120))
    officer_name: Mapped[str | None] = mapped_column(String(200))
    template: Mapped[str] = mapped_column(String(80))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Indexed: certificates lapsing soon are a range of this column, not a scan.
    expires_at: Mapped[datetime | None] = mapped_column(index=True)
    reminded_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    revocation_reason: Mapped[str | None] = mapped_column(Text)
    #: When the holder's data was erased and the certificate withdrawn at their request.
    withdrawn_at: Mapped[datetime | None]

    accreditation: Mapped[Accreditation | None] = relationship(back_populates="certificate")
    user = relationship("User", foreign_keys=[user_id])
    revoked_by = relationship("User", foreign_keys=[revoked_by_id])
    files: Mapped[list[CertificateFile]] = relationship(
        back_populates="certificate", order_by="CertificateFile.id", cascade="all, delete-orphan"
    )

    def status_at(self, now: datetime) -> CertificateStatus:
        return certificate_status(self.revoked_at, self.expires_at, now, self.withdrawn_at)

    @property
    def current_file(self) -> CertificateFile | None:
        current = [f for f in self.files if f.is_current]
        return current[-1] if current else None

    @property
    def surname(self) -> str:
        parts = self.holder_name.split()
        return parts[-1] if parts else ""


# The certificates list, newest first (issued_at DESC, id: the order it pages in), reads
# its first pages along this index instead of sorting a region's certificates
# (lms.accreditation.register.certificates_page).
Index("ix_certificate_issued_at", Certificate.issued_at.desc(), Certificate.id)


class CertificateFile(db.Model):
    """One rendering of a certificate. Re-issuing adds a file; earlier ones are kept."""

    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[int] = mapped_column(
        ForeignKey("certificate.id", ondelete="CASCADE"), index=True
    )
    # The PDF itself is a file in storage named by this hash (lms.accreditation.storage).
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int]
    template: Mapped[str] = mapped_column(String(80))
    is_current: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    certificate: Mapped[Certificate] = relationship(back_populates="files")

    @property
    def path(self):
        """Where the stored PDF lives (lms.accreditation.storage)."""
        from lms.accreditation import storage

        return storage.path_for(self.sha256)

    @property
    def pdf(self) -> bytes:
        """The stored bytes, checked against the hash. Raises storage.StoredFileError."""
        from lms.accreditation import storage

        return storage.read_verified(self.sha256)

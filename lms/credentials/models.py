"""W3C Bitstring Status Lists: one row per list, one row per credential's position in it.

A certificate's position is chosen at random when its credential is first made and never
changes (a re-issued certificate keeps it). ``(list_id, position)`` is unique, so two
simultaneous issuers can never take the same bit; the loser tries another position.
The bit is set when the entry is revoked, or when its certificate no longer exists.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.db import utcnow
from lms.extensions import db


class CredentialStatusList(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    purpose: Mapped[str] = mapped_column(String(20), default="revocation")
    length: Mapped[int]
    #: Bumped whenever a bit changes; the published credential says which version it shows.
    version: Mapped[int] = mapped_column(default=0)
    published_version: Mapped[int | None]
    #: The signed BitstringStatusListCredential (JSON) as served, made by the publish job.
    published: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    entries: Mapped[list[CredentialStatusEntry]] = relationship(back_populates="status_list")


class CredentialStatusEntry(db.Model):
    __table_args__ = (UniqueConstraint("list_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("credential_status_list.id"), index=True)
    position: Mapped[int]
    #: SET NULL: an erased certificate's position stays taken and reads as revoked.
    certificate_id: Mapped[int | None] = mapped_column(
        ForeignKey("certificate.id", ondelete="SET NULL"), unique=True
    )
    revoked: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    status_list: Mapped[CredentialStatusList] = relationship(back_populates="entries")

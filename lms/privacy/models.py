"""Subject access exports: one row per copy of a person's data asked for (by them or an
administrator), made by the job ``privacy.export`` into ``instance/privacy/`` and kept
for ``LMS_PRIVACY_EXPORT_DAYS`` days (the retention job then deletes the file)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.db import utcnow
from lms.extensions import db


class ExportStatus(StrEnum):
    QUEUED = "queued"  # waiting for the job
    READY = "ready"  # the file can be downloaded until expires_at
    FAILED = "failed"
    EXPIRED = "expired"  # the file was deleted


class PrivacyExport(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    #: The person whose data it is (deleted with them).
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    #: Who asked: the person, or the administrator who started it.
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(12), default=ExportStatus.QUEUED.value)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    ready_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    #: The file's name in the privacy folder: random, never derived from the person.
    file_name: Mapped[str | None] = mapped_column(String(80))
    size: Mapped[int | None]
    #: The job making it (no foreign key: finished jobs may be cleared away).
    job_id: Mapped[int | None]

    user = relationship("User", foreign_keys=[user_id])
    requested_by = relationship("User", foreign_keys=[requested_by_id])

    def is_downloadable(self, now: datetime) -> bool:
        return (
            self.status == ExportStatus.READY.value
            and self.expires_at is not None
            and self.expires_at > now
        )

"""What people were told: one row per notice in a person's in-app list, and their email choices.

The count of unread notices is kept on the person's row (``User.unread_notifications``),
so the header shows it without a query of its own; it is changed only by
:mod:`lms.notifications.services`, with atomic ``UPDATE ... SET n = n + 1``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lms.db import utcnow
from lms.extensions import db


class Notification(db.Model):
    __table_args__ = (
        # The same notice is never given twice (a reminder, a review, a day's change).
        UniqueConstraint("user_id", "dedupe_key", name="uq_notification_user_id_dedupe_key"),
        # A person's list, newest first.
        Index("ix_notification_user_id_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # A path inside the platform (never an outside address) where the person acts on it.
    link: Mapped[str | None] = mapped_column(String(500))
    dedupe_key: Mapped[str | None] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]
    is_emailed: Mapped[bool] = mapped_column(default=False)


class NotificationPreference(db.Model):
    """A person's choice for one kind of notice; no row means the kind's default (email on)."""

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    wants_email: Mapped[bool] = mapped_column(default=True)

"""A person's calendar feed: the secret address calendar apps subscribe to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from lms.db import TimestampMixin
from lms.extensions import db


class CalendarFeed(TimestampMixin, db.Model):
    """One feed address of a person. Only the SHA-256 of its token is kept, so the address
    is shown once, when it is made; revoking it (``revoked_at``) stops it working for
    good and lets the person make a new one."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    revoked_at: Mapped[datetime | None]

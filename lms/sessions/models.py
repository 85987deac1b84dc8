"""Tables of server-side sessions.

``web_session`` holds session data (Flask-Session's) when the app's database is the
store; with ``LMS_SESSION_URL=redis://...`` the data lives in Redis instead.
``login_session`` is always in the database: one row per place a person is logged in,
which the account page lists and which ending a session deletes.

Neither table holds a session id as the browser sends it: both are keyed by its
SHA-256 (:func:`lms.sessions.store.store_key`), so a copy of the database opens no
session. Times are whole seconds since the epoch (UTC): they are read on every
request without the ORM (see :mod:`lms.sessions.store`).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.extensions import db


class WebSession(db.Model):
    """A session's data, encoded by Flask-Session, under the SHA-256 of its id."""

    __tablename__ = "web_session"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    expires: Mapped[int] = mapped_column(BigInteger, index=True)


class LoginSession(db.Model):
    """One place where a person is logged in."""

    __tablename__ = "login_session"
    __table_args__ = (Index("ix_login_session_user_seen", "user_id", "seen"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The store key of the session (SHA-256 of its current id); changes when it rotates.
    key: Mapped[str] = mapped_column(String(80), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    created: Mapped[int] = mapped_column(BigInteger)
    seen: Mapped[int] = mapped_column(BigInteger)
    address: Mapped[str] = mapped_column(String(64), default="")
    agent: Mapped[str] = mapped_column(String(300), default="")
    #: The roles (and regions) the session id was issued for: a change rotates the id.
    roles: Mapped[str] = mapped_column(String(400), default="")

    user = relationship("User")

"""People, their roles, the regions national officers cover, and one-time password tokens."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from datetime import datetime
from enum import StrEnum

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from lms.db import TimestampMixin, utcnow
from lms.extensions import db
from lms.i18n import _l


class Role(StrEnum):
    TRAINEE = "trainee"
    FACILITATOR = "facilitator"
    OFFICER = "officer"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return str(ROLE_LABELS[self])


ROLE_LABELS = {
    Role.TRAINEE: _l("Trainee"),
    Role.FACILITATOR: _l("Facilitator"),
    Role.OFFICER: _l("National officer"),
    Role.ADMIN: _l("Administrator"),
}


NAME_KEY_LENGTH = 200


def name_key(name: str | None) -> str:
    """A person's name as the register sorts and searches it: Unicode-normalised (NFKC),
    spaces collapsed, case-folded (so "ÉMILE  Dupont" and "émile dupont" are one key),
    cut to the column's length."""
    folded = unicodedata.normalize("NFKC", " ".join((name or "").split())).casefold()
    return folded[:NAME_KEY_LENGTH]


def _name_key_default(context) -> str:
    # For Core INSERTs that give a name but no key (the demo generator's bulk inserts).
    return name_key(context.get_current_parameters().get("name"))


class Region(db.Model):
    """A region covered by an MiP national officer. Regions are data, added by administrators."""

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)

    def __repr__(self) -> str:
        return f"<Region {self.slug}>"


class User(UserMixin, TimestampMixin, db.Model):
    __table_args__ = (
        # The register and officers' lists start from the people of a region. Partial
        # (people with a region): SQLite never picks it to read every person (for the
        # admin list it did, at twice the cost of reading the table).
        Index(
            "ix_user_region_id",
            "region_id",
            sqlite_where=text("region_id IS NOT NULL"),
            postgresql_where=text("region_id IS NOT NULL"),
        ),
        # The register's first page: a region's people in name order, read from the
        # start of the index rather than sorting everyone in the region.
        Index(
            "ix_user_region_name_key",
            "region_id",
            "name_key",
            sqlite_where=text("region_id IS NOT NULL"),
            postgresql_where=text("region_id IS NOT NULL"),
        ),
        # Everyone in name order (the administrators' list): its first page read from
        # the index, not by sorting every person (0.1 ms against 7 at 20,000 people).
        Index("ix_user_name_key_id", "name_key", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # ``name_key(name)``, kept by ``_keep_name_key`` (ORM) and the column default (Core
    # inserts): what the register sorts and searches by.
    name_key: Mapped[str] = mapped_column(String(NAME_KEY_LENGTH), default=_name_key_default)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active_account: Mapped[bool] = mapped_column(default=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    last_login_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]
    # The holder's choice: may public certificate verification show their name?
    is_name_public: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Kept by lms.notifications.services: the header's unread count, read with the person.
    unread_notifications: Mapped[int] = mapped_column(default=0, server_default=text("0"))

    region: Mapped[Region | None] = relationship()
    roles: Mapped[list[RoleAssignment]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="RoleAssignment.id"
    )

    @validates("name")
    def _keep_name_key(self, _key: str, value: str) -> str:
        self.name_key = name_key(value)
        return value

    # Flask-Login asks is_active; a deactivated account cannot log in.
    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.is_active_account

    def get_id(self) -> str:
        # The session carries this id and a fingerprint of the password hash, so
        # changing the password ends every other session. The fingerprint is a keyed
        # hash: the (readable) session cookie reveals nothing of the password hash.
        key = current_app.config["SECRET_KEY"].encode()
        digest = hmac.new(key, (self.password_hash or "").encode(), hashlib.sha256).hexdigest()
        return f"{self.id}:{digest[:20]}"

    def has_role(self, role: Role | str) -> bool:
        return any(r.role == role for r in self.roles)

    @property
    def role_names(self) -> set[str]:
        return {r.role for r in self.roles}

    def officer_regions(self) -> list[Region]:
        return [r.region for r in self.roles if r.role == Role.OFFICER and r.region is not None]

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.split() else self.name

    def __repr__(self) -> str:
        return f"<User {self.id}>"


class RoleAssignment(db.Model):
    """A role a person holds. National officers hold the role for a region."""

    __table_args__ = (UniqueConstraint("user_id", "role", "region_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))

    user: Mapped[User] = relationship(back_populates="roles")
    region: Mapped[Region | None] = relationship()


class PasswordToken(db.Model):
    """A one-time token to set or reset a password. Only its SHA-256 is stored."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(10))  # "setup" or "reset"
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class LoginFailure(db.Model):
    """Failed logins counted under a key: one email from one address (``pair:``), or
    one email from anywhere (``account:``). Keys are SHA-256 hashes: the table holds
    no email address and no IP address. See :mod:`lms.accounts.throttle`."""

    __tablename__ = "login_failure"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    #: Whole seconds since the epoch (UTC).
    first_at: Mapped[int] = mapped_column(BigInteger)
    last_at: Mapped[int] = mapped_column(BigInteger, index=True)
    #: When the account's owner was last told of failed attempts (``account:`` keys).
    notified_at: Mapped[int | None] = mapped_column(BigInteger)

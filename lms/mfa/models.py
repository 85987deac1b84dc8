"""Second factors: an authenticator app's secret, recovery codes, security keys.

Times are whole seconds since the epoch (UTC), like ``login_failure``'s. No secret is
stored as given: the app's secret is encrypted (:func:`lms.mfa.services.encrypt`),
recovery codes are salted SHA-256 hashes, and a security key is only its public key.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lms.extensions import db


class TotpFactor(db.Model):
    """A person's authenticator app (at most one)."""

    __tablename__ = "mfa_totp"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    #: The base32 secret, Fernet-encrypted with a key derived from SECRET_KEY.
    secret_encrypted: Mapped[str] = mapped_column(Text)
    #: The last 30-second time step whose code was accepted: a code is used once.
    last_step: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[int] = mapped_column(BigInteger)


class RecoveryCode(db.Model):
    """One single-use recovery code, as a salted SHA-256 hash."""

    __tablename__ = "mfa_recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    salt: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[int | None] = mapped_column(BigInteger)


class SecurityKey(db.Model):
    """A FIDO security key (WebAuthn credential) a person registered."""

    __tablename__ = "mfa_security_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    #: The credential id, base64url without padding.
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    name: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[int] = mapped_column(BigInteger)
    last_used_at: Mapped[int | None] = mapped_column(BigInteger)

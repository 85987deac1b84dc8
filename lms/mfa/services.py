"""Second factors: an authenticator app (TOTP), recovery codes, and the login's second step.

- **Authenticator app** (ASVS 2.8): RFC 6238 codes of 6 digits every 30 seconds,
  accepted one step either side of now (a phone's clock drifts). A code is used at
  most once: the row keeps the last accepted time step, and only a later step is
  accepted, by one atomic ``UPDATE`` (two requests with the same code: one wins).
  The secret (160 random bits) is stored Fernet-encrypted under a key derived from
  ``SECRET_KEY`` by HKDF, so a copy of the database alone does not give it.
- **Recovery codes** (ASVS 2.6): ten random codes of 60 bits, shown once when made,
  stored as salted SHA-256 hashes, each accepted once.
- **Guessing is slowed**: after ``FREE_FAILURES`` wrong codes for one person (from
  anywhere: whoever is guessing already has the password), each further try waits,
  twice as long after each failure, ``LMS_LOGIN_DELAY_MAX_SECONDS`` at most. Counts
  are ``login_failure`` rows under ``mfa:`` keys (see :mod:`lms.accounts.throttle`,
  whose daily clean-up removes them too).
- **The second step of logging in**: a right password for a person with a second
  factor logs nobody in. The session keeps only a pending marker (who, since when,
  where to go next) for ``PENDING_SECONDS``; the second step's page logs in.

Functions flush but never commit; the request commits once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask, current_app, session
from sqlalchemy import delete, func, select, update

from lms.accounts import throttle
from lms.accounts.models import LoginFailure, User
from lms.errors import ServiceError
from lms.extensions import db
from lms.i18n import _
from lms.mail import send_mail
from lms.mfa.models import RecoveryCode, SecurityKey, TotpFactor

log = logging.getLogger(__name__)

#: Seconds a code stands for, and how many steps either side of now are accepted.
STEP_SECONDS = 30
DRIFT_STEPS = 1
CODE_DIGITS = 6
ISSUER = "MiP training"

RECOVERY_CODE_COUNT = 10
#: Characters of a recovery code: no 0/o, 1/l/i to misread (32 symbols, 5 bits each).
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_RECOVERY_LENGTH = 12  # 12 x 5 bits = 60 bits, salted and hashed (ASVS 2.6.2)

#: Wrong codes one person may make before each further try has to wait.
FREE_FAILURES = 5
#: A person's count of wrong codes starts again after this long without one.
FAILURE_WINDOW_SECONDS = 15 * 60

#: The session key of the pending marker, and how long it lasts.
PENDING_KEY = "_mfa_pending"
PENDING_SECONDS = 5 * 60
#: The session key of an authenticator secret being set up (not yet confirmed).
NEW_SECRET_KEY = "_mfa_new_secret"  # noqa: S105 - a session key, not a secret


class MfaError(ServiceError):
    """A second-factor request that cannot be carried out."""


def init_app(app: Flask) -> None:
    """Defaults of this module's settings.

    ``LMS_MFA_REQUIRED_ROLES``: people holding any of these roles must have a second
    factor before any other page works for them (ASVS 4.3.1). From the environment, a
    comma-separated list (empty: nobody is required to).
    """
    import os

    if "LMS_MFA_REQUIRED_ROLES" not in app.config:
        raw = os.environ.get("LMS_MFA_REQUIRED_ROLES")
        roles = ["admin"] if raw is None else [r.strip() for r in raw.split(",") if r.strip()]
        app.config["LMS_MFA_REQUIRED_ROLES"] = roles


# Encrypting the authenticator secret ----------------------------------------------------


def _fernet() -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"lms.mfa.totp-secret").derive(
        current_app.config["SECRET_KEY"].encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    """The secret in ``token``. Raises MfaError if SECRET_KEY has changed since."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise MfaError(_("This authenticator app can no longer be checked.")) from exc


# Setting up an authenticator app --------------------------------------------------------


def new_secret() -> str:
    """A new base32 secret of 160 random bits (RFC 4226's recommended length)."""
    return pyotp.random_base32(32)


def provisioning_uri(user: User, secret: str) -> str:
    """The ``otpauth://`` address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret, digits=CODE_DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=user.email, issuer_name=ISSUER
    )


def qr_data_uri(text: str) -> str:
    """``text`` as a QR code: an SVG ``data:`` address (the CSP allows images from data:)."""
    return segno.make(text, error="m").svg_data_uri(scale=5, border=4)


def grouped(secret: str) -> str:
    """The secret in groups of four, easier to type into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _clean_code(code: str) -> str:
    return "".join((code or "").split())


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step (of now, or one either side) whose code is ``code``, or None."""
    code = _clean_code(code)
    if len(code) != CODE_DIGITS or not code.isdigit():
        return None
    now = time.time() if now is None else now
    totp = pyotp.TOTP(secret, digits=CODE_DIGITS, interval=STEP_SECONDS)
    current = int(now) // STEP_SECONDS
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        # Every step is compared (no early return): the time taken tells nothing.
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            found = step
    return found


def totp_of(user_id: int) -> TotpFactor | None:
    return db.session.get(TotpFactor, user_id)


def has_second_factor(user_id: int) -> bool:
    """Whether the person has an authenticator app or a security key."""
    if db.session.get(TotpFactor, user_id) is not None:
        return True
    return (
        db.session.scalar(select(SecurityKey.id).where(SecurityKey.user_id == user_id).limit(1))
        is not None
    )


def enable_totp(user: User, secret: str, code: str, now: float | None = None) -> list[str]:
    """Turn on the authenticator app with ``secret``, confirmed by a current ``code``.

    Returns new recovery codes (to show once), unless the person already has some
    (from a security key), in which case they keep theirs and the list is empty.
    Raises MfaError if the code is not right, or if an app is already set up.
    """
    if totp_of(user.id) is not None:
        raise MfaError(_("An authenticator app is already set up."))
    step = matching_step(secret, code, now)
    if step is None:
        raise MfaError(_("That code is not right. Type the code your app shows now."), "code")
    db.session.add(
        TotpFactor(
            user_id=user.id,
            secret_encrypted=encrypt(secret),
            last_step=step,
            created_at=int(now or time.time()),
        )
    )
    db.session.flush()
    log.info("User %s set up an authenticator app", user.id)
    if recovery_codes_left(user.id):
        return []
    return new_recovery_codes(user.id, now)


def use_totp(user_id: int, code: str, now: float | None = None) -> bool:
    """Whether ``code`` is a current code of the person's app not used before; a right
    code is then spent (this and every earlier step are refused from now on)."""
    factor = totp_of(user_id)
    if factor is None:
        return False
    step = matching_step(decrypt(factor.secret_encrypted), code, now)
    if step is None:
        return False
    result = db.session.execute(
        update(TotpFactor)
        .where(TotpFactor.user_id == user_id, TotpFactor.last_step < step)
        .values(last_step=step)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(factor)
    if result.rowcount != 1:
        # A right code of a step already used: replayed, or watched over a shoulder.
        log.warning("User %s: an authenticator code was used again", user_id)
        return False
    return True


def disable_totp(user_id: int) -> None:
    """Remove the person's authenticator app; their recovery codes go too unless a
    security key remains (they recover that)."""
    db.session.execute(delete(TotpFactor).where(TotpFactor.user_id == user_id))
    if not has_second_factor(user_id):
        db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    db.session.flush()
    log.info("User %s removed their authenticator app", user_id)


# Recovery codes ------------------------------------------------------------------------


def _code_hash(salt: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def _normalise_recovery(code: str) -> str:
    return "".join(ch for ch in (code or "").lower() if ch.isalnum())


def new_recovery_codes(user_id: int, now: float | None = None) -> list[str]:
    """Replace the person's recovery codes with ten new ones; returns them, shown as
    ``xxxx-xxxx-xxxx`` (hyphens and case are ignored when one is typed)."""
    now = int(now or time.time())
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = []
    for _n in range(RECOVERY_CODE_COUNT):
        code = "".join(secrets.choice(_RECOVERY_ALPHABET) for _i in range(_RECOVERY_LENGTH))
        salt = secrets.token_hex(16)
        db.session.add(
            RecoveryCode(
                user_id=user_id, salt=salt, code_hash=_code_hash(salt, code), created_at=now
            )
        )
        codes.append("-".join(code[i : i + 4] for i in range(0, _RECOVERY_LENGTH, 4)))
    db.session.flush()
    return codes


def recovery_codes_left(user_id: int) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
    )


def use_recovery_code(user_id: int, code: str, now: float | None = None) -> bool:
    """Whether ``code`` is one of the person's unused recovery codes; it is then spent."""
    typed = _normalise_recovery(code)
    if len(typed) != _RECOVERY_LENGTH:
        return False
    rows = db.session.scalars(
        select(RecoveryCode).where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
    ).all()
    match = None
    for row in rows:
        if hmac.compare_digest(row.code_hash, _code_hash(row.salt, typed)):
            match = row
    if match is None:
        return False
    result = db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.id == match.id, RecoveryCode.used_at.is_(None))
        .values(used_at=int(now or time.time()))
        .execution_options(synchronize_session=False)
    )
    db.session.expire(match)
    return result.rowcount == 1


def check_code(user_id: int, code: str, now: float | None = None) -> str | None:
    """Spend ``code`` if it is a right code of the app or a recovery code: returns
    ``"app"`` or ``"recovery"``, or None if it is neither."""
    if use_totp(user_id, code, now):
        return "app"
    if use_recovery_code(user_id, code, now):
        return "recovery"
    return None


# Slowing down guesses ------------------------------------------------------------------


def _failure_key(user_id: int) -> str:
    return "mfa:" + hashlib.sha256(f"user:{user_id}".encode()).hexdigest()


@dataclass(frozen=True)
class Wait:
    seconds: int

    @property
    def message(self) -> str:
        return _(
            "Too many wrong codes. Wait %(seconds)d seconds and try again.", seconds=self.seconds
        )


def _delay_after(failures: int) -> int:
    if failures < FREE_FAILURES:
        return 0
    cap = int(current_app.config["LMS_LOGIN_DELAY_MAX_SECONDS"])
    return min(cap, 2 ** (failures - FREE_FAILURES + 1))


def wait_for(user_id: int, now: float | None = None) -> Wait | None:
    """How long the person must still wait before their next code is checked, or None."""
    now = int(now or time.time())
    row = db.session.get(LoginFailure, _failure_key(user_id))
    if row is None or now - row.last_at > FAILURE_WINDOW_SECONDS:
        return None
    left = row.last_at + _delay_after(row.failures) - now
    return Wait(left) if left > 0 else None


def failed(user_id: int, now: float | None = None) -> None:
    """Count a wrong code (or wrong password when turning the app off). Flushes."""
    now = int(now or time.time())
    # The same atomic count as failed logins, under a key of its own.
    row = throttle.count_failure(_failure_key(user_id), FAILURE_WINDOW_SECONDS, now)
    if row.failures == FREE_FAILURES:
        log.warning("User %s: %d wrong second-factor codes", user_id, row.failures)


def succeeded(user_id: int) -> None:
    db.session.execute(delete(LoginFailure).where(LoginFailure.key == _failure_key(user_id)))


# The second step of logging in ---------------------------------------------------------


def begin_pending(user: User, next_url: str | None, now: float | None = None) -> None:
    """Remember, in this session only, that ``user`` gave the right password. The
    marker names the password's fingerprint too: a password changed meanwhile voids it."""
    session[PENDING_KEY] = {
        "user": user.get_id(),
        "at": int(now or time.time()),
        "next": next_url or "",
    }


def pending(now: float | None = None) -> tuple[User, str] | None:
    """The person who gave their password in this session less than ``PENDING_SECONDS``
    ago, and where they were going; None (and the marker dropped) if there is none."""
    marker = session.get(PENDING_KEY)
    if not isinstance(marker, dict):
        return None
    now = int(now or time.time())
    raw_id = str(marker.get("user", "")).partition(":")[0]
    at = marker.get("at")
    if not raw_id.isdigit() or not isinstance(at, int) or now - at > PENDING_SECONDS:
        clear_pending()
        return None
    user = db.session.get(User, int(raw_id))
    if user is None or not user.is_active or user.get_id() != marker.get("user"):
        clear_pending()
        return None
    return user, str(marker.get("next") or "")


def clear_pending() -> None:
    session.pop(PENDING_KEY, None)


def needs_setup(user: User) -> bool:
    """Whether ``user`` holds a role that must have a second factor, and has none."""
    roles = current_app.config.get("LMS_MFA_REQUIRED_ROLES") or ()
    if not any(user.has_role(role) for role in roles):
        return False
    return not has_second_factor(user.id)


# Telling the person -------------------------------------------------------------------


def tell_factor_changed(user: User, change: str) -> None:
    """Email the person that a second factor was added or removed (ASVS 2.5.5): if it
    was not them, they know at once. ``change`` says what happened, in their words."""
    send_mail(
        user.email,
        _("Your MiP training account's second factor was changed"),
        _(
            "Hello %(name)s,\n\n"
            "On your MiP training account, just now: %(change)s\n\n"
            "If this was you, there is nothing to do. If it was not, change your password "
            "from your account page at once and tell the MiP training office.\n",
            name=user.first_name,
            change=change,
        ),
    )


def remove_all(user: User) -> int:
    """Remove every second factor of ``user`` and their recovery codes (the training
    office, after checking who is asking: ASVS 2.5.7). Returns how many factors went."""
    removed = db.session.execute(delete(TotpFactor).where(TotpFactor.user_id == user.id)).rowcount
    removed += db.session.execute(
        delete(SecurityKey).where(SecurityKey.user_id == user.id)
    ).rowcount
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.flush()
    log.warning("User %s: every second factor removed by the training office", user.id)
    return removed or 0

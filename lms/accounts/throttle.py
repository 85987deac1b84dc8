"""Failed logins slowed down without locking anyone out.

Two protections, neither of which lets a stranger stop the owner of an account:

- **Per address** (Flask-Limiter on the login route, ``LMS_LOGIN_LIMIT_PER_ADDRESS``):
  one address guessing at many accounts is refused for a while. The owner, from
  their own address, is not affected.
- **Per account and address** (here): after ``FREE_FAILURES`` wrong passwords for
  one email from one address, that pair waits before its next try, twice as long
  after each further failure (``LMS_LOGIN_DELAY_MAX_SECONDS`` at most). It is a
  delay for that pair only: the same email from another address (the owner at their
  desk) logs in at once, and a right password after the wait logs in and clears it.

When one account sees ``LMS_LOGIN_ALERT_FAILURES`` failures within an hour, from
anywhere, its owner is emailed (at most once a day): someone may be guessing.

Counts are rows of ``login_failure`` under SHA-256 keys (no email, no address is
stored), so every web process and machine shares them. Rows of attempts older than
a day are deleted by the daily clean-up job.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass

from flask import current_app, request
from sqlalchemy import case, delete, func, select

from lms.accounts.models import LoginFailure, User
from lms.db import dialect_insert
from lms.extensions import db
from lms.i18n import _, ngettext
from lms.mail import send_mail

log = logging.getLogger(__name__)

#: Wrong passwords a pair (email, address) may make before it has to wait.
FREE_FAILURES = 3
#: A pair's count starts again after this long without a failure.
PAIR_WINDOW_SECONDS = 15 * 60
#: The window in which an account's failures (from anywhere) are added up.
ACCOUNT_WINDOW_SECONDS = 60 * 60
#: The owner is told at most this often.
NOTIFY_EVERY_SECONDS = 24 * 60 * 60


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _email_key(email: str) -> str:
    return (email or "").strip().lower()


def pair_key(email: str, address: str) -> str:
    return "pair:" + _hash(_email_key(email), address or "")


def account_key(email: str) -> str:
    return "account:" + _hash(_email_key(email))


def delay_after(failures: int) -> int:
    """Seconds a pair waits after its ``failures``-th wrong password (0 while free)."""
    if failures < FREE_FAILURES:
        return 0
    cap = int(current_app.config["LMS_LOGIN_DELAY_MAX_SECONDS"])
    return min(cap, 2 ** (failures - FREE_FAILURES + 1))


@dataclass(frozen=True)
class Wait:
    seconds: int

    @property
    def message(self) -> str:
        return ngettext(
            "Too many wrong passwords for this account from here. "
            "Wait %(num)d second and try again.",
            "Too many wrong passwords for this account from here. "
            "Wait %(num)d seconds and try again.",
            self.seconds,
        )


def wait_for(email: str, now: float | None = None) -> Wait | None:
    """How long this request's (email, address) pair must still wait, or None."""
    now = int(now or time.time())
    row = db.session.get(LoginFailure, pair_key(email, request.remote_addr or ""))
    if row is None or now - row.last_at > PAIR_WINDOW_SECONDS:
        return None
    left = row.last_at + delay_after(row.failures) - now
    return Wait(left) if left > 0 else None


def count_failure(key: str, window: int, now: int) -> LoginFailure:
    """Add one failure under ``key`` (starting again after ``window``), atomically."""
    table = LoginFailure.__table__
    stmt = dialect_insert(table).values(key=key, failures=1, first_at=now, last_at=now)
    fresh = table.c.last_at < now - window
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            "failures": case((fresh, 1), else_=table.c.failures + 1),
            "first_at": case((fresh, now), else_=table.c.first_at),
            "last_at": now,
        },
    )
    db.session.execute(stmt)
    row = db.session.get(LoginFailure, key, populate_existing=True)
    assert row is not None
    return row


def failed(email: str, now: float | None = None) -> None:
    """Record a wrong password for ``email`` from this request's address; tell the
    owner if their account has seen many lately. Flushes, in the request's transaction."""
    now = int(now or time.time())
    count_failure(pair_key(email, request.remote_addr or ""), PAIR_WINDOW_SECONDS, now)
    account = count_failure(account_key(email), ACCOUNT_WINDOW_SECONDS, now)
    threshold = int(current_app.config["LMS_LOGIN_ALERT_FAILURES"])
    if account.failures < threshold:
        return
    if account.notified_at is not None and now - account.notified_at < NOTIFY_EVERY_SECONDS:
        return
    user = db.session.scalar(select(User).where(func.lower(User.email) == _email_key(email)))
    account.notified_at = now
    db.session.flush()
    if user is None or not user.is_active:
        return
    log.warning("Account %s: %d failed logins within an hour; owner told", user.id, threshold)
    send_mail(
        user.email,
        _("Failed attempts to log in to your MiP training account"),
        _(
            "Hello %(name)s,\n\n"
            "There have been %(count)d attempts with a wrong password to log in to your "
            "MiP training account in the last hour. If they were not you, someone may be "
            "guessing your password: nothing has been changed, and your account is not "
            "locked.\n\n"
            "If you did not make them, change your password from your account page, or "
            "reset it from the login page, and tell the MiP training office.\n",
            name=user.first_name,
            count=account.failures,
        ),
    )


def succeeded(email: str) -> None:
    """A right password: this pair's count starts again (the account's stays)."""
    db.session.execute(
        delete(LoginFailure).where(LoginFailure.key == pair_key(email, request.remote_addr or ""))
    )


def clean_up(now: float | None = None) -> int:
    """Delete counts whose last failure is over a day old. Returns rows deleted."""
    now = int(now or time.time())
    result = db.session.execute(
        delete(LoginFailure).where(LoginFailure.last_at < now - NOTIFY_EVERY_SECONDS)
    )
    return result.rowcount or 0

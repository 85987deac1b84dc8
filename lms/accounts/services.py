"""Accounts: creating people, roles, passwords and one-time password links.

Functions flush but never commit; the request (or CLI command) commits once.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from email_validator import EmailNotValidError, validate_email
from flask import current_app, has_request_context, url_for
from sqlalchemy import func, select, update
from zxcvbn import zxcvbn

from lms import signals
from lms.accounts.models import PasswordToken, Region, Role, RoleAssignment, User
from lms.db import utcnow
from lms.errors import ServiceError
from lms.extensions import db
from lms.i18n import _, _l
from lms.mail import send_mail

log = logging.getLogger(__name__)

# ASVS 2.1.1: at least 12 characters (a few unrelated words easily make that).
PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = (
    128  # argon2 would take more, but an unbounded input invites denial of service
)


class AccountError(ServiceError):
    """A request that cannot be carried out; ``field`` names the input at fault."""


def _hasher() -> PasswordHasher:
    config = current_app.config
    return PasswordHasher(
        time_cost=config["LMS_ARGON2_TIME_COST"], memory_cost=config["LMS_ARGON2_MEMORY_COST"]
    )


# ASVS 2.4.5: the password is first keyed with a pepper (HMAC-SHA256), a secret kept
# outside the database, then hashed with argon2id. A copy of the database alone then
# does not allow guessing passwords offline. Such hashes are stored as "p1$" + the
# argon2 string; a hash without the prefix is from before the pepper and is upgraded
# at the next successful login.
PEPPERED_PREFIX = "p1$"
_PEPPERS: dict[str, bytes] = {}


def _pepper() -> bytes:
    """LMS_PASSWORD_PEPPER, or (unset) a key derived from SECRET_KEY with HKDF."""
    config = current_app.config
    configured = config.get("LMS_PASSWORD_PEPPER")
    source = f"pepper:{configured}" if configured else f"secret:{config['SECRET_KEY']}"
    pepper = _PEPPERS.get(source)
    if pepper is None:
        if configured:
            pepper = configured.encode()
        else:
            pepper = HKDF(
                algorithm=hashes.SHA256(), length=32, salt=None, info=b"lms password pepper v1"
            ).derive(config["SECRET_KEY"].encode())
        if len(_PEPPERS) < 8:  # one per app in practice (tests make a few)
            _PEPPERS[source] = pepper
    return pepper


def _peppered(password: str) -> bytes:
    return hmac.new(_pepper(), password.encode(), hashlib.sha256).digest()


def hash_password(password: str, hasher: PasswordHasher | None = None) -> str:
    """The stored form of ``password``: "p1$" + argon2id(HMAC-SHA256(pepper, password))."""
    return PEPPERED_PREFIX + (hasher or _hasher()).hash(_peppered(password))


def _verify_hash(hasher: PasswordHasher, stored: str, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (peppered, or from before the pepper)."""
    try:
        if stored.startswith(PEPPERED_PREFIX):
            return hasher.verify(stored[len(PEPPERED_PREFIX) :], _peppered(password))
        return hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _needs_rehash(hasher: PasswordHasher, stored: str) -> bool:
    """A hash from before the pepper, or made with other argon2 parameters."""
    if not stored.startswith(PEPPERED_PREFIX):
        return True
    try:
        return hasher.check_needs_rehash(stored[len(PEPPERED_PREFIX) :])
    except InvalidHashError:
        return True


# zxcvbn keeps the person's words (user_inputs) in a module-level dictionary while it
# works, so two checks at once in one process must not overlap.
_ZXCVBN_LOCK = threading.Lock()
#: zxcvbn's score (0-4) a new password needs: 3 is "safely unguessable" (about 10^8
#: guesses or more), 4 "very unguessable".
PASSWORD_MIN_SCORE = 3
# Published examples of "strong" passphrases, which attackers' word lists include
# (zxcvbn scores some of them well). Compared letters only, without case.
_FAMOUS_PASSPHRASES = ("correcthorsebattery", "horsebatterystaple")
_CHOOSE_ADVICE = _l(
    "Choose three or four unrelated words that mean something to you only, "
    "for example an odd picture you can remember."
)


def _personal_words(user: User | None) -> list[str]:
    """The parts of the person's email address and name a password must not contain
    (lower case): the address's name part, and its and the name's words."""
    if user is None:
        return []
    local = (user.email or "").split("@", 1)[0].lower()
    name = (user.name or "").lower()
    words = [local] if len(local) >= 3 else []
    words += re.findall(r"[^\W\d_]{3,}", local) + re.findall(r"[^\W\d_]{3,}", name)
    joined = "".join(re.findall(r"[^\W\d_]+", name))
    if len(joined) >= 5:
        words.append(joined)
    return list(dict.fromkeys(words))


def _contains_personal(password: str, words: list[str]) -> bool:
    """Whether ``password`` holds one of ``words``: a short word (3 or 4 letters, such
    as "Sam") only as a word of its own, so that "sample" is not taken for it."""
    lowered = password.lower()
    squeezed = "".join(ch for ch in lowered if ch.isalnum())
    tokens = set(re.findall(r"[^\W\d_]+", lowered))
    for word in words:
        if len(word) >= 5 and (word in lowered or word in squeezed):
            return True
        if len(word) < 5 and (word in tokens or lowered.strip() == word):
            return True
    return False


def password_problem(password: str, user: User | None = None) -> str | None:
    """Why a new password is not acceptable, or None.

    ASVS 2.1.1, 2.1.2, 2.1.7: 12 to 128 characters; not common or easily guessed
    (zxcvbn's score below PASSWORD_MIN_SCORE, a famous example); and, given the
    ``user`` it is for, not containing their email address's name part or their name.
    """
    if len(password) < PASSWORD_MIN_LENGTH:
        return _("Use at least %(n)d characters.", n=PASSWORD_MIN_LENGTH)
    if len(password) > PASSWORD_MAX_LENGTH:
        return _("Use at most %(n)d characters.", n=PASSWORD_MAX_LENGTH)
    if not password.strip():
        return _("A password cannot be only spaces.")
    letters = "".join(ch for ch in password.lower() if ch.isalnum())
    personal = _personal_words(user)
    if _contains_personal(password, personal):
        return _(
            "Do not use your name or email address in your password: anyone who knows "
            "you could guess it. %(advice)s",
            advice=_CHOOSE_ADVICE,
        )
    if any(example in letters for example in _FAMOUS_PASSPHRASES):
        return _(
            "This is a well-known example password, and the lists attackers try include it. "
            "%(advice)s",
            advice=_CHOOSE_ADVICE,
        )
    with _ZXCVBN_LOCK:
        result = zxcvbn(password, user_inputs=personal, max_length=PASSWORD_MAX_LENGTH)
    if result["score"] >= PASSWORD_MIN_SCORE:
        return None
    common = any(
        m.get("pattern") == "dictionary" and m.get("dictionary_name") == "passwords"
        for m in result["sequence"]
    )
    why = (
        _("It is, or is built on, one of the passwords people use most often.")
        if common
        else _("It would be quick to guess (for example a word with a few numbers or a pattern).")
    )
    return _("Choose a harder password. %(why)s %(advice)s", why=why, advice=_CHOOSE_ADVICE)


def set_password(user: User, password: str) -> None:
    """Hash and store a new password. Raises AccountError if it is too short or too long.

    Every route that changes a password comes here (the account page, a set-password
    or reset link, the CLI), so the person's unused password links stop working here too.
    """
    problem = password_problem(password, user)
    if problem:
        raise AccountError(problem, "password")
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    invalidate_password_links(user)
    db.session.flush()


# A fixed hash to verify against when no account matches, so that response time
# does not tell whether an address has an account.
_DUMMY_HASH: dict[tuple[int, int], str] = {}


def tell_password_changed(user: User) -> None:
    """Email the person that their password was changed (not for a first password):
    if it was not them, they learn of it and know what to do."""
    send_mail(
        user.email,
        _("Your MiP training password was changed"),
        _(
            "Hello %(name)s,\n\n"
            "The password of your MiP training account was changed just now, and every other "
            "place where you were logged in was logged out.\n\n"
            "If this was you, there is nothing to do. If it was not, reset your password "
            "from the login page at once and tell the MiP training office.\n",
            name=user.first_name,
        ),
    )


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, or None.

    A hash from before the pepper (or with older argon2 parameters) is replaced at a
    successful login. Without an account, a dummy peppered hash is checked instead, so
    the time taken does not tell whether the address has an account.
    """
    hasher = _hasher()
    if len(password) > PASSWORD_MAX_LENGTH:
        return None
    user = find_by_email(email)
    target = user.password_hash if user is not None and user.password_hash else None
    if target is None:
        key = (hasher.time_cost, hasher.memory_cost)
        if key not in _DUMMY_HASH:
            _DUMMY_HASH[key] = hash_password(secrets.token_urlsafe(16), hasher)
        target = _DUMMY_HASH[key]
    if not _verify_hash(hasher, target, password):
        return None
    if user is None or not user.password_hash or not user.is_active:
        return None
    if _needs_rehash(hasher, user.password_hash):
        user.password_hash = hash_password(password, hasher)
    user.last_login_at = utcnow()
    db.session.flush()
    return user


def normalise_email(email: str) -> str:
    """Validate an address's syntax and return it normalised. Raises AccountError."""
    try:
        result = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise AccountError(
            _("Enter a valid email address (%(reason)s).", reason=str(exc)), "email"
        ) from exc
    return result.normalized.lower()


def find_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def region_by_name(value: str) -> Region | None:
    value = value.strip()
    return db.session.scalar(
        select(Region).where(
            (func.lower(Region.name) == value.lower()) | (Region.slug == value.lower())
        )
    )


@dataclass(frozen=True)
class NewAccount:
    user: User
    set_password_url: str


def create_user(
    email: str,
    name: str,
    roles: Iterable[str],
    region: Region | None = None,
    *,
    send_link: bool = True,
) -> NewAccount:
    """Create an account with roles and a one-time link to set its password.

    ``region`` is the person's home region; national officers officiate for it.
    Raises AccountError (with the field at fault) for a bad or taken email, an empty
    name, an unknown role, or an officer without a region.
    """
    email = normalise_email(email)
    name = " ".join(name.split())
    if not name:
        raise AccountError(_("Enter the person's name."), "name")
    if len(name) > 200:
        raise AccountError(_("Use at most 200 characters for the name."), "name")
    role_set: list[Role] = []
    for raw in roles:
        try:
            role = Role(raw.strip().lower())
        except ValueError as exc:
            raise AccountError(
                _("Unknown role %(role)r (use trainee, facilitator, officer or admin).", role=raw),
                "roles",
            ) from exc
        if role not in role_set:
            role_set.append(role)
    if not role_set:
        raise AccountError(_("Give the account at least one role."), "roles")
    if Role.OFFICER in role_set and region is None:
        raise AccountError(_("A national officer needs a region."), "region")
    if find_by_email(email) is not None:
        raise AccountError(_("An account with this email address already exists."), "email")
    user = User(email=email, name=name, region=region)
    for role in role_set:
        user.roles.append(
            RoleAssignment(role=role.value, region=region if role == Role.OFFICER else None)
        )
    db.session.add(user)
    db.session.flush()
    url = issue_password_link(user, "setup", send=send_link)
    signals.account_created.send(current_app._get_current_object(), user=user, set_password_url=url)
    log.info("Created account %s", user.id)
    return NewAccount(user, url)


def set_roles(user: User, roles: Iterable[str], region: Region | None) -> None:
    """Replace a person's roles and home region. Raises AccountError like create_user."""
    wanted = []
    for raw in roles:
        try:
            role = Role(raw)
        except ValueError as exc:
            raise AccountError(_("Unknown role %(role)r.", role=raw), "roles") from exc
        if role not in wanted:
            wanted.append(role)
    if not wanted:
        raise AccountError(_("Give the account at least one role."), "roles")
    if Role.OFFICER in wanted and region is None:
        raise AccountError(_("A national officer needs a region."), "region")
    user.region = region
    user.roles.clear()
    db.session.flush()
    for role in wanted:
        user.roles.append(
            RoleAssignment(role=role.value, region=region if role == Role.OFFICER else None)
        )
    db.session.flush()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def external_url(endpoint: str, **values: str) -> str:
    """An absolute URL, based on LMS_BASE_URL when set (emails, CLI), else on the request."""
    base = current_app.config.get("LMS_BASE_URL")
    if not base and has_request_context():
        return url_for(endpoint, _external=True, **values)
    # Outside a request (CLI) with no LMS_BASE_URL: the local development server.
    base = (base or f"http://127.0.0.1:{os.environ.get('PORT', '5000')}").rstrip("/")
    with current_app.test_request_context(base_url=base):
        return url_for(endpoint, _external=True, **values)


def invalidate_password_links(user: User) -> int:
    """Make every unused set/reset-password link of ``user`` stop working; how many did.

    Called when a newer link is sent (whatever its purpose) and when the password
    changes by any route (:func:`set_password`). A link that stopped working is kept,
    marked as used, so the page it opens says the link no longer works.
    """
    if user.id is None:
        return 0
    result = db.session.execute(
        update(PasswordToken)
        .where(PasswordToken.user_id == user.id, PasswordToken.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount or 0


def issue_password_link(user: User, purpose: str, *, send: bool = True) -> str:
    """Create a one-time set/reset-password link for ``user`` and email it (or log it).

    Earlier unused links of the same account stop working, whatever their purpose.
    The link works for LMS_PASSWORD_TOKEN_HOURS (LMS_RESET_TOKEN_HOURS for a reset); only
    the SHA-256 of its secret is
    stored, and the secret itself is never logged (lms.logs redacts its path).
    """
    now = utcnow()
    invalidate_password_links(user)
    token = secrets.token_urlsafe(32)
    # A first link (an account just made) may wait days to be opened; a reset is asked
    # for by someone about to use it, so it works for a short time.
    setting = "LMS_RESET_TOKEN_HOURS" if purpose == "reset" else "LMS_PASSWORD_TOKEN_HOURS"
    hours = current_app.config[setting]
    db.session.add(
        PasswordToken(
            user_id=user.id,
            token_hash=_token_hash(token),
            purpose=purpose,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    db.session.flush()
    url = external_url("accounts.set_password", token=token)
    if send:
        if purpose == "setup":
            subject = _("Your MiP training account")
            intro = _(
                "Hello %(name)s,\n\nAn account has been made for you on the MiP training platform. "
                "Choose your password here (the link works once and for %(hours)d hours):",
                name=user.name,
                hours=hours,
            )
        else:
            subject = _("Reset your MiP training password")
            intro = _(
                "Hello %(name)s,\n\nSomeone (we hope you) asked to reset your password. "
                "Choose a new one here (the link works once and for %(hours)d hours):",
                name=user.name,
                hours=hours,
            )
        send_mail(user.email, subject, f"{intro}\n\n{url}\n")
    return url


def token_user(token: str) -> PasswordToken | None:
    """The unused, unexpired token record for ``token`` of an active account, or None."""
    if not token or len(token) > 200:
        return None
    record = db.session.scalar(
        select(PasswordToken).where(PasswordToken.token_hash == _token_hash(token))
    )
    if record is None or record.used_at is not None or record.expires_at <= utcnow():
        return None
    if not record.user.is_active:
        # A deactivated account's links stop working; reactivating it needs a new link.
        return None
    return record


def use_token(record: PasswordToken, password: str) -> User:
    """Set the password through a one-time token and spend the token. Raises AccountError.

    The token is spent by one conditional UPDATE, so of two requests racing with the
    same link only one sets a password (the other gets an AccountError). A password
    that is not acceptable leaves the link usable.
    """
    problem = password_problem(password, record.user)
    if problem:
        raise AccountError(problem, "password")
    spent = db.session.execute(
        update(PasswordToken)
        .where(
            PasswordToken.id == record.id,
            PasswordToken.used_at.is_(None),
            PasswordToken.expires_at > utcnow(),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )
    if spent.rowcount != 1:
        raise AccountError(
            _("This link no longer works. Ask for a new one from the login page."), "password"
        )
    set_password(record.user, password)
    return record.user


def request_reset(email: str) -> None:
    """Email a reset link if an active account has this address; do nothing otherwise."""
    user = find_by_email(email)
    if user is not None and user.is_active:
        issue_password_link(user, "reset")


# --- Importing accounts from CSV (the CLI and the administrators' page) --------------------

IMPORT_COLUMNS = ("email", "name", "roles", "region")
MAX_IMPORT_ROWS = 5000


@dataclass(frozen=True)
class ImportRow:
    line: int
    email: str
    ok: bool
    problem: str = ""


@dataclass(frozen=True)
class ImportReport:
    """What an import found: a row per line, and whether anything was created."""

    rows: list[ImportRow]
    imported: bool

    @property
    def bad(self) -> list[ImportRow]:
        return [r for r in self.rows if not r.ok]

    @property
    def good(self) -> list[ImportRow]:
        return [r for r in self.rows if r.ok]


def read_import(text: str) -> list[tuple[int, dict[str, str]]]:
    """The rows of an import file as (line number, {column: value}).

    Raises AccountError when the first line does not name the columns (email, name,
    roles and optionally region), a column is unknown, there are no rows or too many.
    """
    import csv
    import io

    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = {(h or "").strip().lower() for h in (reader.fieldnames or [])}
    if not {"email", "name", "roles"} <= header:
        raise AccountError(
            _(
                "The first line must name the columns email,name,roles,region (found: %(found)s).",
                found=", ".join(reader.fieldnames or []) or _("nothing"),
            ),
            "file",
        )
    unknown = header - set(IMPORT_COLUMNS)
    if unknown:
        raise AccountError(
            _("Unknown column(s): %(names)s.", names=", ".join(sorted(unknown))), "file"
        )
    rows = [
        (n, {(k or "").strip().lower(): (v or "").strip() for k, v in r.items() if k})
        for n, r in enumerate(reader, start=2)
    ]
    if not rows:
        raise AccountError(_("There are no rows to import under the first line."), "file")
    if len(rows) > MAX_IMPORT_ROWS:
        raise AccountError(
            _("Import at most %(n)s accounts at a time.", n=f"{MAX_IMPORT_ROWS:,}"), "file"
        )
    return rows


def import_accounts(text: str, *, skip_bad: bool = False, progress=None) -> ImportReport:
    """Check every row of a CSV of accounts, then create them and send their links.

    ``roles`` holds one or more of trainee, facilitator, officer, admin separated by
    ``;``. Unless ``skip_bad``, one refused row means nothing is created (the report
    says what would have been). ``progress(n)`` is called after each row. Flushes, never
    commits. Raises AccountError for a file that cannot be read as an import (see
    :func:`read_import`).
    """
    rows = read_import(text)
    report: list[ImportRow] = []
    seen: dict[str, int] = {}
    created: list[User] = []
    # Everything in one savepoint: undone as a whole when a row is refused.
    batch = db.session.begin_nested()
    for line, row in rows:
        email = row.get("email", "")
        try:
            key = normalise_email(email)
            if key in seen:
                raise AccountError(_("same email as line %(n)d", n=seen[key]), "email")
            seen[key] = line
            region = region_by_name(row["region"]) if row.get("region") else None
            if row.get("region") and region is None:
                raise AccountError(_("no region %(name)r", name=row["region"]), "region")
            roles = [r for r in row.get("roles", "").replace(",", ";").split(";") if r.strip()]
            with db.session.begin_nested():
                made = create_user(email, row.get("name", ""), roles, region, send_link=False)
            created.append(made.user)
            report.append(ImportRow(line, made.user.email, True))
        except AccountError as exc:
            report.append(ImportRow(line, email or _("(no email)"), False, str(exc.message)))
        if progress is not None:
            progress(1)
    bad = [r for r in report if not r.ok]
    if bad and not skip_bad:
        batch.rollback()
        return ImportReport(report, imported=False)
    for user in created:
        issue_password_link(user, "setup")
    batch.commit()
    log.info("Imported %d accounts; %d rows refused", len(created), len(bad))
    return ImportReport(report, imported=True)

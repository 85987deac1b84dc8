"""Logged-in sessions: start one at login, check it on every request, end it.

A logged-in session is a row of ``login_session`` beside the session's data (see
:mod:`lms.sessions.store`). The row is what makes the session logged in: the user
loader (:func:`check`) accepts the person only while the row exists, belongs to them
and is keyed by this session's current id, and while neither timeout has passed:

- idle: no request for ``LMS_SESSION_IDLE_MINUTES`` (default 30);
- absolute: ``LMS_SESSION_MAX_HOURS`` (default 10) after logging in, however active.

So ending a session (logout, the account page's "End", a password change or reset,
deactivation) deletes rows, and their data with them. The session id changes at login
and whenever the person's roles change (the row records the roles it was issued for).

Services flush and never commit, like everywhere else.
"""

from __future__ import annotations

import logging
import time

from flask import current_app, flash, g, has_request_context, request, session
from sqlalchemy import bindparam, delete, select, update

from lms.db import QuickRead, defer_write
from lms.extensions import db
from lms.i18n import _
from lms.jobs import services as jobs
from lms.sessions.models import LoginSession
from lms.sessions.store import interface, store_key

log = logging.getLogger(__name__)

#: The session key holding the id of the ``login_session`` row.
LOGIN_KEY = "_login"
#: A request is recorded as "last seen" at most this often per session (it is a write).
SEEN_EVERY_SECONDS = 60
_CURRENT = "_lms_login_session"


def roles_key(user) -> str:
    """The roles and regions a session is issued for, as one comparable text."""
    return ",".join(sorted(f"{r.role}@{r.region_id or ''}" for r in user.roles))[:400]


def _address() -> str:
    return (request.remote_addr or "")[:64]


def _agent() -> str:
    return (request.headers.get("User-Agent") or "")[:300]


def start(user) -> LoginSession:
    """Make this request's session the logged-in session of ``user`` (call after
    ``login_user``): a new session id, and a new ``login_session`` row for it. A
    session already logged in (e.g. changing password) is replaced, not kept beside."""
    previous = session.get(LOGIN_KEY)
    if previous:
        end([previous])
    interface(current_app).regenerate(session)
    now = int(time.time())
    row = LoginSession(
        key=store_key(session.sid),
        user_id=user.id,
        created=now,
        seen=now,
        address=_address(),
        agent=_agent(),
        roles=roles_key(user),
    )
    db.session.add(row)
    db.session.flush()
    session[LOGIN_KEY] = row.id
    setattr(g, _CURRENT, row.id)
    return row


_ROW = QuickRead(
    select(
        LoginSession.__table__.c.id,
        LoginSession.__table__.c.key,
        LoginSession.__table__.c.user_id,
        LoginSession.__table__.c.created,
        LoginSession.__table__.c.seen,
        LoginSession.__table__.c.roles,
    ).where(LoginSession.__table__.c.id == bindparam("id"))
)


def _row(login_id: int):
    """The ``login_session`` row (id, key, user_id, created, seen, roles): every request
    of a logged-in session asks, so it is read on a DBAPI cursor (:class:`QuickRead`)."""
    return _ROW.first(id=login_id)


def login_row():
    """This session's ``login_session`` row, or None. The user loader reads it before
    its own query, so on a fresh request it needs no transaction."""
    login_id = session.get(LOGIN_KEY)
    return _row(login_id) if isinstance(login_id, int) else None


def check(user, row) -> bool:
    """Whether this request's session (whose ``login_session`` row is ``row``, from
    :func:`login_row`) is a live logged-in session of ``user``.

    Called by the user loader on every request that carries a logged-in session. A
    session past a timeout is ended here, and the person told why on the login page.
    A change of roles gives the session a new id. The "last seen" time is written at
    most once a minute, after the page (:func:`lms.db.defer_write`).
    """
    key = store_key(session.sid)
    if row is None or row.user_id != user.id or row.key != key:
        drop_session()
        return False
    now = int(time.time())
    config = current_app.config
    idle = now - row.seen > config["LMS_SESSION_IDLE_MINUTES"] * 60
    if idle or now - row.created > config["LMS_SESSION_MAX_HOURS"] * 3600:
        end([row.id])
        drop_session()
        if idle:
            message = _(
                "You were logged out after %(minutes)d minutes without activity. Log in again.",
                minutes=config["LMS_SESSION_IDLE_MINUTES"],
            )
        else:
            message = _(
                "You were logged out: sessions last at most %(hours)d hours. Log in again.",
                hours=config["LMS_SESSION_MAX_HOURS"],
            )
        flash(message, "info")
        return False
    setattr(g, _CURRENT, row.id)
    current_roles = roles_key(user)
    if current_roles != row.roles:
        # New rights, new session id (a copy of the old id must not carry them).
        interface(current_app).regenerate(session)
        new_key = store_key(session.sid)
        defer_write(lambda: _rekey(row.id, new_key, current_roles, now))
        log.info("Session of user %s has a new id after a change of roles", user.id)
    elif now - row.seen >= SEEN_EVERY_SECONDS:
        defer_write(lambda: _seen(row.id, now))
    return True


def drop_session() -> None:
    # Empty and modified: Flask-Session deletes its data and the cookie.
    session.clear()


def _seen(login_id: int, now: int) -> None:
    db.session.execute(update(LoginSession).where(LoginSession.id == login_id).values(seen=now))


def _rekey(login_id: int, key: str, roles: str, now: int) -> None:
    db.session.execute(
        update(LoginSession)
        .where(LoginSession.id == login_id)
        .values(key=key, roles=roles, seen=now)
    )


def log_out() -> None:
    """End this request's session (logout): its row, its data, and its id; what the
    browser still holds opens nothing afterwards."""
    from flask_login import logout_user

    end([current_login_id()])
    logout_user()
    session.clear()
    # A new id for whatever this browser keeps next (a message, a login form's token).
    interface(current_app).regenerate(session)
    g.pop(_CURRENT, None)


def current_login_id() -> int | None:
    """The ``login_session`` id of this request's session, if it is logged in."""
    if not has_request_context():
        return None
    return g.get(_CURRENT)


def end(login_ids) -> int:
    """End the sessions with these ``login_session`` ids: their rows and their data."""
    login_ids = [i for i in login_ids if i]
    if not login_ids:
        return 0
    keys = list(db.session.scalars(select(LoginSession.key).where(LoginSession.id.in_(login_ids))))
    db.session.execute(delete(LoginSession).where(LoginSession.id.in_(login_ids)))
    interface(current_app).forget(keys)
    return len(keys)


def end_all(user_id: int, *, keep: int | None = None) -> int:
    """End every session of the person, except ``keep`` (a ``login_session`` id)."""
    stmt = select(LoginSession.id).where(LoginSession.user_id == user_id)
    if keep is not None:
        stmt = stmt.where(LoginSession.id != keep)
    ended = end(list(db.session.scalars(stmt)))
    if ended:
        log.info("Ended %d session(s) of user %s", ended, user_id)
    return ended


def of(user_id: int) -> list[LoginSession]:
    """Where the person is logged in, most recently used first."""
    return list(
        db.session.scalars(
            select(LoginSession)
            .where(LoginSession.user_id == user_id)
            .order_by(LoginSession.seen.desc(), LoginSession.id.desc())
        )
    )


def expired_before(now: int) -> tuple[int, int]:
    """(idle limit, absolute limit) as epoch seconds: rows older are ended."""
    config = current_app.config
    return (
        now - config["LMS_SESSION_IDLE_MINUTES"] * 60,
        now - config["LMS_SESSION_MAX_HOURS"] * 3600,
    )


def clean_up(now: int | None = None) -> int:
    """Delete sessions past a timeout, expired session data and old failed-login
    counts. Returns the logged-in sessions ended."""
    now = int(now or time.time())
    idle, absolute = expired_before(now)
    stale = list(
        db.session.scalars(
            select(LoginSession.id).where(
                (LoginSession.seen < idle) | (LoginSession.created < absolute)
            )
        )
    )
    ended = end(stale)
    store = interface(current_app)
    if hasattr(store, "_delete_expired_sessions") and store.ttl is False:
        store._delete_expired_sessions()
    # Failed-login counts of attempts over a day old (lms.accounts.throttle).
    from lms.accounts import throttle

    throttle.clean_up(now)
    return ended


@jobs.task("sessions.clean_up", retries=2)
def clean_up_job() -> None:
    """Job (daily): sessions past their timeouts, and expired session data, deleted."""
    ended = clean_up()
    log.info("Session clean-up: %d logged-in session(s) past a timeout ended", ended)


jobs.daily("sessions.clean_up", hour=3)


def describe_agent(agent: str) -> str:
    """A browser and system in a few words, from a User-Agent ("Firefox on Windows")."""
    text = agent or ""
    browser = next(
        (
            name
            for token, name in (
                ("Edg/", "Edge"),
                ("OPR/", "Opera"),
                ("Firefox/", "Firefox"),
                ("Chrome/", "Chrome"),
                ("Safari/", "Safari"),
            )
            if token in text
        ),
        "",
    )
    system = next(
        (
            name
            for token, name in (
                ("Windows", "Windows"),
                ("iPhone", "iPhone"),
                ("iPad", "iPad"),
                ("Android", "Android"),
                ("Mac OS X", "macOS"),
                ("CrOS", "ChromeOS"),
                ("Linux", "Linux"),
            )
            if token in text
        ),
        "",
    )
    if browser and system:
        return _("%(browser)s on %(system)s", browser=browser, system=system)
    return browser or system or _("Unknown browser")

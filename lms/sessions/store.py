"""Where session data is kept: Flask-Session's server-side sessions, in the app's
database (``web_session``) by default or in Redis with ``LMS_SESSION_URL=redis://...``.

The browser holds only a random session id. Both stores key the data by the id's
SHA-256 (:func:`store_key`), which is also what ``login_session`` records, so a session
can be ended from its row (another device, a password change) without the id.

Cost matters: every request with a cookie reads its session. The database store
reads it with one statement on a DBAPI cursor (:class:`lms.db.QuickRead`: about 20
microseconds on SQLite, against 100-150 through SQLAlchemy); writes, which happen only when the
session changed, go through SQLAlchemy Core in a write transaction of their own.
Anonymous sessions (a login form's CSRF token, a message) are kept for
``ANONYMOUS_HOURS``; a logged-in one for the absolute lifetime
(``LMS_SESSION_MAX_HOURS``), and ``login_session`` decides sooner (idle timeout).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable
from datetime import timedelta

import msgspec
from flask import Flask, g, has_request_context
from flask_session.base import ServerSideSession, ServerSideSessionInterface
from sqlalchemy import bindparam, delete, select

from lms.db import QuickRead
from lms.extensions import db
from lms.sessions.models import WebSession

log = logging.getLogger(__name__)

#: How long a session nobody logged in to is kept (a form's CSRF token, messages).
ANONYMOUS_HOURS = 2
#: Where a rotated session's old key waits until the response is saved.
_RETIRED = "_lms_retired_session_keys"
_KEY_PREFIX = "s:"


def store_key(sid: str) -> str:
    """The key a session id is stored under (and recorded in ``login_session``)."""
    return _KEY_PREFIX + hashlib.sha256(sid.encode()).hexdigest()


def _plain(value):
    # Markup and lazy strings are strings to a session; nothing else unusual belongs in one.
    if isinstance(value, str) or hasattr(value, "__html__"):
        return str(value)
    raise TypeError(f"cannot keep a {type(value).__name__} in a session")


def without_session(view):
    """Mark a view that never reads or writes the session (a signed download link):
    requests to it get an empty session that cannot be saved, and its data is not even
    read. The view's address up to its first variable part must be its own."""
    view.lms_without_session = True
    return view


def _sessionless_prefixes(app: Flask) -> tuple[str, ...]:
    """The fixed start of each address served by a :func:`without_session` view."""
    prefixes = []
    rules = list(app.url_map.iter_rules())
    for rule in rules:
        view = app.view_functions.get(rule.endpoint)
        if getattr(view, "lms_without_session", False):
            prefix = rule.rule.split("<", 1)[0]
            clash = [
                r.rule
                for r in rules
                if r.endpoint != rule.endpoint and r.rule.split("<", 1)[0].startswith(prefix)
            ]
            if len(prefix) < 2 or clash:
                raise RuntimeError(f"{rule.rule} cannot go without a session: it shares {clash}")
            prefixes.append(prefix)
    return tuple(prefixes)


class _Keys:
    """What both stores share: hashed keys, rotation after commit, a shorter anonymous life."""

    _sessionless: tuple[str, ...] | None = None

    def open_session(self, app: Flask, request):
        prefixes = self._sessionless
        if prefixes is None:  # the first request, once every route is registered
            prefixes = self._sessionless = _sessionless_prefixes(app)
        if prefixes and request.path.startswith(prefixes):
            return self.make_null_session(app)
        return super().open_session(app, request)

    def _get_store_id(self, sid: str) -> str:  # Flask-Session's hook
        return store_key(sid)

    def _use_plain_encoder(self) -> None:
        self.serializer.encoder = msgspec.msgpack.Encoder(enc_hook=_plain)

    def regenerate(self, session: ServerSideSession) -> None:
        """Give ``session`` a new id (at login, and when the person's roles change).

        Unlike Flask-Session's, the old data is deleted when the response is saved,
        after the request's own transaction has committed: on SQLite a delete on a
        connection of its own would wait for the lock that transaction holds.
        """
        if has_request_context():
            g.setdefault(_RETIRED, []).append(self._get_store_id(session.sid))
        else:
            self._delete_session(self._get_store_id(session.sid))
        session.sid = self._generate_sid(self.sid_length)
        session.modified = True

    def save_session(self, app: Flask, session: ServerSideSession, response) -> None:
        retired = g.pop(_RETIRED, None) if has_request_context() else None
        for key in retired or ():
            self._delete_session(key)
        super().save_session(app, session, response)

    def lifetime(self, app: Flask, session: ServerSideSession) -> timedelta:
        if "_user_id" in session:
            return timedelta(hours=app.config["LMS_SESSION_MAX_HOURS"])
        return timedelta(hours=ANONYMOUS_HOURS)

    def forget(self, keys: Iterable[str]) -> None:
        """Delete the data of the sessions stored under ``keys`` (ending them), in the
        current request's transaction for the database store."""
        raise NotImplementedError


class DatabaseSessionInterface(_Keys, ServerSideSessionInterface):
    """Session data in the ``web_session`` table of the app's database."""

    ttl = False  # expired rows are deleted by the daily clean-up job (and ignored before)

    def __init__(self, app: Flask):
        super().__init__(
            app,
            key_prefix="",
            use_signer=False,
            permanent=False,
            sid_length=32,
            serialization_format="msgpack",
            cleanup_n_requests=None,
        )
        self._use_plain_encoder()

    _read = QuickRead(
        select(WebSession.__table__.c.data, WebSession.__table__.c.expires).where(
            WebSession.__table__.c.id == bindparam("id")
        )
    )

    def _retrieve_session_data(self, store_id: str) -> dict | None:
        row = self._read.first(id=store_id)
        if row is None or row.expires <= time.time():
            return None
        return self.serializer.decode(bytes(row.data))

    def _write(self, stmt) -> None:
        """Run ``stmt`` in a write transaction of its own. In a page view (a read) that
        cannot get SQLite's lock in time, the page is served all the same: the session
        keeps its previous data (a message may show again); a write request fails."""
        from sqlalchemy.exc import OperationalError

        from lms.db import is_read_request, write_connection

        reading = is_read_request()
        try:
            with write_connection() as conn:
                conn.execute(stmt)
        except OperationalError:
            if not reading:
                raise
            log.warning("A page view could not store its session (database busy)", exc_info=True)

    def _delete_session(self, store_id: str) -> None:
        self._write(delete(WebSession.__table__).where(WebSession.__table__.c.id == store_id))

    def _upsert_session(self, _lifetime, session: ServerSideSession, store_id: str) -> None:
        from lms.db import upsert

        expires = int(time.time() + self.lifetime(self.app, session).total_seconds())
        data = self.serializer.encode(session)
        self._write(
            upsert(WebSession.__table__, {"id": store_id, "data": data, "expires": expires})
        )

    def _delete_expired_sessions(self) -> None:
        db.session.execute(
            delete(WebSession.__table__).where(WebSession.__table__.c.expires <= int(time.time()))
        )

    def forget(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        if keys:
            db.session.execute(
                delete(WebSession.__table__).where(WebSession.__table__.c.id.in_(keys))
            )


def _redis_store(app: Flask, url: str):
    """Session data in Redis, each key expiring by itself. Made here, when Redis is
    configured, so that a site without it never imports redis (about 0.1 s a process)."""
    from flask_session.redis import RedisSessionInterface
    from redis import Redis

    class RedisStore(_Keys, RedisSessionInterface):
        def __init__(self) -> None:
            super().__init__(
                app,
                client=Redis.from_url(url),
                key_prefix="",
                use_signer=False,
                permanent=False,
                sid_length=32,
                serialization_format="msgpack",
            )
            self._use_plain_encoder()

        def _upsert_session(self, _lifetime, session: ServerSideSession, store_id: str) -> None:
            super()._upsert_session(self.lifetime(self.app, session), session, store_id)

        def forget(self, keys: Iterable[str]) -> None:
            keys = list(keys)
            if keys:
                self.client.delete(*keys)

    return RedisStore()


def init_app(app: Flask) -> None:
    """Serve sessions from the configured store (``LMS_SESSION_URL``)."""
    url = (app.config.get("LMS_SESSION_URL") or "").strip()
    if url.startswith(("redis://", "rediss://", "unix://")):
        app.session_interface = _redis_store(app, url)
    elif url in ("", "database"):
        app.session_interface = DatabaseSessionInterface(app)
    else:
        raise ValueError(f"LMS_SESSION_URL must be empty, 'database' or redis://...: {url!r}")


def interface(app: Flask) -> _Keys:
    return app.session_interface  # type: ignore[return-value]

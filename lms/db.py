"""Declarative base with a constraint naming convention, and shared mixins."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime column that reads back aware on every backend.

    SQLite has no time zones, so values are stored naive in UTC and given their
    zone back when loaded. A TypeDecorator, because a plain DateTime subclass is
    replaced by the dialect's own type and its processors are never called.
    """

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def __repr__(self) -> str:
        # What Alembic writes into migrations.
        return "UTCDateTime()"

    def process_bind_param(self, value, dialect):  # noqa: D102
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):  # noqa: D102
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def escape_like(text: str) -> str:
    """Make ``%``, ``_`` and ``\\`` in a search match themselves in a LIKE pattern
    (use with ``escape="\\"``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def configure_sqlite(engine) -> None:
    """Make SQLite transactions behave like PostgreSQL's, and let reads run beside a write.

    The sqlite3 driver starts transactions late and commits on RELEASE SAVEPOINT,
    which breaks nested transactions (``begin_nested``): SQLAlchemy's documented
    recipe is to switch the driver's handling off and emit BEGIN ourselves. WAL
    lets readers work while one connection writes; the busy timeout makes writers
    wait their turn instead of failing.

    Which BEGIN:

    - ``BEGIN IMMEDIATE`` (takes the one write lock at once, waiting up to the busy
      timeout) for every transaction that may write: requests with unsafe methods
      (POST, PUT, PATCH, DELETE), CLI commands, jobs, anything outside a request.
      The lock is what keeps places on runs (``runs.services.lock_run``), one
      certificate per person and course, and progress rows (``with_for_update``,
      a no-op on SQLite) safe: each such transaction sees the data as its
      predecessor committed it.
    - plain deferred ``BEGIN`` for GET, HEAD and OPTIONS requests (see
      :func:`init_app`), so page views never queue behind the lock nor hold it.

    The catch: under WAL a deferred transaction that has read and then writes fails
    at once with SQLITE_BUSY (or SQLITE_BUSY_SNAPSHOT if someone wrote meanwhile);
    the busy timeout does not help, since waiting could not make its snapshot
    current. So a read request must not write in its own transaction:

    - writes a page view makes on purpose (where a trainee left off) go through
      :func:`defer_write`: they run after the page's transaction has committed, in
      a short ``BEGIN IMMEDIATE`` transaction of their own that waits its turn;
    - any other write in a read request is a mistake caught twice: it is logged as a
      warning naming the endpoint, and if it does hit the lock, :func:`dispatch`
      rolls the request back and runs the view once more in a write transaction
      (GET views must be safe to repeat anyway).

    PostgreSQL is not affected: its transactions take no lock to read, and row
    locks (``SELECT ... FOR UPDATE``, the run's UPDATE) make writers wait.
    """
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        record.info[_BUSY_TIMEOUT] = BUSY_TIMEOUT_MS
        cursor.execute("PRAGMA journal_mode=WAL")
        # Deleted rows are overwritten with zeros, not left in free pages of the file
        # (erasure, lms.privacy; retention). PostgreSQL: see docs/privacy.md (VACUUM).
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        reading = is_read_request()
        conn.info[_DEFERRED_TX] = reading
        # A page's deferred write waits less for the lock than other writes: the page
        # is already made, and losing where someone left off is better than a stall.
        wanted = DEFERRED_WRITE_BUSY_MS if _in_deferred_write() else BUSY_TIMEOUT_MS
        if conn.info.get(_BUSY_TIMEOUT) != wanted:
            conn.exec_driver_sql(f"PRAGMA busy_timeout={wanted}")
            conn.info[_BUSY_TIMEOUT] = wanted
        if reading:
            # A deferred BEGIN takes no lock, so it cannot meet SQLITE_BUSY: it goes to
            # the driver straight (SQLAlchemy's execution of it was about 1% of a page).
            # BEGIN IMMEDIATE can wait and fail busy, so it keeps SQLAlchemy's error
            # wrapping (lms.db.dispatch and the session store catch its OperationalError).
            conn.connection.dbapi_connection.execute("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine, "before_cursor_execute")
    def _before_execute(conn, _cursor, statement, _params, _context, _executemany):
        if conn.info.get(_DEFERRED_TX) and statement.lstrip()[:6].upper() in _WRITE_VERBS:
            _warn_write_in_read()


# --- Read requests on SQLite ---------------------------------------------------------

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: How long a write waits for SQLite's write lock before failing with SQLITE_BUSY.
BUSY_TIMEOUT_MS = 15_000
#: The same for the writes a page view deferred (see run_deferred_writes).
DEFERRED_WRITE_BUSY_MS = 2_000
_BUSY_TIMEOUT = "lms.busy_timeout"
_IN_DEFERRED_WRITE = "_lms_in_deferred_write"
_WRITE_VERBS = frozenset({"INSERT", "UPDATE", "DELETE", "REPLAC"})
_DEFERRED_TX = "lms.deferred_tx"
_READING = "_lms_reading"
_DEFERRED_WRITES = "_lms_deferred_writes"
_warned: set[str] = set()


def init_app(app) -> None:
    """On SQLite, start safe requests' transactions deferred (read-only): see configure_sqlite.

    The mark is set on ``g`` when the request starts, before any hook touches the
    database, so it covers the whole request's app context and nothing else (a job
    run in a fresh app context writes as usual).
    """
    from flask import request_started

    from lms.extensions import db

    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            return
    request_started.connect(_mark_request, app, weak=False)
    app.teardown_request(_unmark_request)


def _mark_request(_sender, **_extra) -> None:
    from flask import g, request

    setattr(g, _READING, request.method in SAFE_METHODS)


def _unmark_request(_exc) -> None:
    # A request may share the app context of the code around it (a test, a script).
    from flask import g

    g.pop(_READING, None)
    g.pop(_DEFERRED_WRITES, None)


def is_read_request() -> bool:
    """Whether new transactions in this app context start deferred (a SQLite read request)."""
    from flask import g, has_app_context

    return has_app_context() and g.get(_READING, False)


def _in_deferred_write() -> bool:
    from flask import g, has_app_context

    return has_app_context() and g.get(_IN_DEFERRED_WRITE, False)


def defer_write(write: Callable[[], object]) -> None:
    """Run ``write()`` (which flushes, never commits) where it cannot fail under contention.

    In a SQLite read request it runs after the request's transaction committed, in
    a ``BEGIN IMMEDIATE`` transaction of its own (:func:`run_deferred_writes`); it
    does not run if the request fails (status 400 or more). Anywhere else (a write
    request, PostgreSQL, a command, a job) it runs now, in the current transaction.
    ``write`` must not rely on objects loaded by the page: give it ids.
    """
    from flask import g

    if is_read_request():
        g.setdefault(_DEFERRED_WRITES, []).append(write)
    else:
        write()


def run_deferred_writes() -> None:
    """Run and commit the writes a read request deferred; call after its commit.

    They are bookkeeping a page can live without (where someone left off), so they
    wait at most DEFERRED_WRITE_BUSY_MS for the lock, and a failure (e.g. the lock
    held longer) is logged and rolled back, and the page is still served.
    """
    from flask import g

    from lms.extensions import db

    pending = g.pop(_DEFERRED_WRITES, None)
    if not pending:
        return
    setattr(g, _READING, False)
    setattr(g, _IN_DEFERRED_WRITE, True)
    try:
        for write in pending:
            write()
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("A write deferred by a page view failed; the page was served")
    finally:
        # Whatever touches the database later in this request only reads again.
        setattr(g, _READING, True)
        g.pop(_IN_DEFERRED_WRITE, None)


def session_in_use() -> bool:
    """Whether this app context has made its database session (asking the scoped session
    anything else would make one: a request that never touched the database has
    nothing to flush or commit)."""
    from lms.extensions import db

    return db.session.registry.has()


def dispatch(view: Callable[[], Any]) -> Any:
    """Call ``view()``; in a SQLite read request, run it again as a write if it had to write.

    Pending changes are flushed before returning, so a write that would otherwise
    wait for the commit after the response is made also meets the lock here. On
    SQLITE_BUSY the transaction is rolled back, flashed messages are put back as
    they were, and the view runs once more with ``BEGIN IMMEDIATE`` transactions.
    Other errors, and a second failure, propagate.
    """
    if not is_read_request():
        return view()
    from flask import g, request, session
    from sqlalchemy.exc import OperationalError

    from lms.extensions import db

    # Read without marking the session as used (which adds "Vary: Cookie" and, for a
    # page that never looks at the session, is not true).
    flashes = list(dict.get(session._get_current_object(), "_flashes", ()))
    try:
        result = view()
        if session_in_use() and (db.session.new or db.session.dirty or db.session.deleted):
            db.session.flush()
        return result
    except OperationalError as exc:
        if not _is_busy(exc):
            raise
    db.session.rollback()
    g.pop(_DEFERRED_WRITES, None)
    # Put flashed messages back as they were (touching the session only if they changed,
    # so a retried page sends no new cookie).
    if flashes:
        session["_flashes"] = flashes
    elif "_flashes" in session:
        session.pop("_flashes")
    log.warning(
        "%s %s wrote in its read transaction and met the write lock; running it again as a write",
        request.method,
        request.endpoint,
    )
    setattr(g, _READING, False)
    return view()


def _is_busy(exc: Exception) -> bool:
    # SQLITE_BUSY and its extended codes (BUSY_SNAPSHOT = 517, BUSY_RECOVERY = 261).
    code = getattr(getattr(exc, "orig", None), "sqlite_errorcode", None)
    return code is not None and code & 0xFF == 5


def _warn_write_in_read() -> None:
    from flask import has_request_context, request

    where = f"{request.method} {request.endpoint}" if has_request_context() else "?"
    if where not in _warned:
        _warned.add(where)
        log.warning("%s writes in its read transaction: use lms.db.defer_write, or a POST", where)


# --- Statements and transactions beside the request's ---------------------------------


def dialect_insert(table, dialect: str | None = None):
    """``INSERT`` for ``table`` in the database's dialect, which knows ``ON CONFLICT``
    (SQLite and PostgreSQL, the two the platform runs on)."""
    from lms.extensions import db

    dialect = dialect or db.engine.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the platform runs on SQLite or PostgreSQL
        raise RuntimeError(f"the platform needs SQLite or PostgreSQL, not {dialect}")
    return insert(table)


def upsert(table, values: dict[str, Any]):
    """Insert ``values`` into ``table``, or update the row with the same primary key."""
    stmt = dialect_insert(table).values(**values)
    keys = [column.name for column in table.primary_key.columns]
    return stmt.on_conflict_do_update(
        index_elements=keys,
        set_={name: stmt.excluded[name] for name in values if name not in keys},
    )


@contextmanager
def write_connection() -> Iterator[Any]:
    """A connection of its own in a write transaction (``BEGIN IMMEDIATE`` on SQLite,
    even in a read request), committed when the block ends.

    For bookkeeping that happens after a request's transaction (storing its session):
    inside that transaction, on SQLite, it would wait for the lock the transaction holds.
    In a read request it waits for the lock only as long as a page's deferred writes
    (``DEFERRED_WRITE_BUSY_MS``): the page is made, and the caller may give up.
    """
    from flask import g, has_app_context

    from lms.extensions import db

    reading = has_app_context() and g.get(_READING, False)
    if reading:
        setattr(g, _READING, False)
        setattr(g, _IN_DEFERRED_WRITE, True)
    try:
        with db.engine.begin() as connection:
            yield connection
    finally:
        if reading:
            setattr(g, _READING, True)
            g.pop(_IN_DEFERRED_WRITE, None)


# --- Hot lookups -------------------------------------------------------------------------


class QuickRead:
    """A SELECT run straight on a DBAPI cursor: for the few lookups every request makes
    (a session, a certificate by its token), where SQLAlchemy's execution costs several
    times the query (about 20 microseconds on SQLite against 100-150).

    ``QuickRead(select(...))`` compiles the statement once per dialect and keeps the
    columns' result processors (so a ``UTCDateTime`` reads back aware, as through the
    ORM). :meth:`first` takes the statement's bind parameters by name and returns a
    named tuple of the selected columns, or None. Outside a transaction it borrows a
    pooled connection for the one statement; inside the request's transaction it runs
    on that transaction's connection (a second connection could wait for SQLite's
    write lock that the first one holds).
    """

    def __init__(self, stmt) -> None:
        self.stmt = stmt
        self._compiled: dict[str, tuple] = {}

    def _prepare(self, dialect):
        from collections import namedtuple

        prepared = self._compiled.get(dialect.name)
        if prepared is None:
            compiled = self.stmt.compile(dialect=dialect)
            names = [column.key for column in self.stmt.selected_columns]
            processors = [
                column.type._cached_result_processor(dialect, None)
                for column in self.stmt.selected_columns
            ]
            positional = compiled.positiontup is not None
            order = list(compiled.positiontup or compiled.binds)
            prepared = (
                str(compiled),
                positional,
                order,
                processors,
                namedtuple("QuickRow", names, rename=True),
            )
            self._compiled[dialect.name] = prepared
        return prepared

    def first(self, **params):
        from lms.extensions import db

        engine = db.engine
        sql, positional, order, processors, row_type = self._prepare(engine.dialect)
        values = tuple(params[name] for name in order) if positional else params
        if session_in_use() and db.session().in_transaction():
            cursor = db.session.connection().connection.dbapi_connection.cursor()
            try:
                cursor.execute(sql, values)
                found = cursor.fetchone()
            finally:
                cursor.close()
        else:
            raw = engine.raw_connection()
            try:
                cursor = raw.cursor()
                cursor.execute(sql, values)
                found = cursor.fetchone()
                cursor.close()
            finally:
                raw.close()
        if found is None:
            return None
        pairs = zip(processors, found, strict=True)
        return row_type(*(value if fn is None else fn(value) for fn, value in pairs))

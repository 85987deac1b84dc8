"""Declarative base with a constraint naming convention, and shared mixins."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, MetaData, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry

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
    """Make SQLite transactions behave like PostgreSQL's.

    The sqlite3 driver starts transactions late and commits on RELEASE SAVEPOINT,
    which breaks nested transactions (``begin_nested``): SQLAlchemy's documented
    recipe is to switch the driver's handling off and emit BEGIN ourselves. WAL
    lets readers work while one request writes; the busy timeout makes writers wait
    their turn instead of failing.
    """
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        # Every transaction takes the write lock when it starts. Under WAL a read
        # transaction that later wants to write fails at once if someone else wrote
        # meanwhile (even page views write, e.g. where a trainee left off), instead of
        # waiting its turn. Transactions are short, so queueing them costs little on
        # the one machine SQLite serves; PostgreSQL is for deployments.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

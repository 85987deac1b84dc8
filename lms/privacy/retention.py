"""Retention: old personal data removed by a daily job (periods from configuration).

Settings (days): LMS_RETAIN_READ_NOTICES_DAYS (180), LMS_RETAIN_SESSIONS_DAYS (90),
LMS_RETAIN_PASSWORD_TOKENS_DAYS (30).
"""

from __future__ import annotations

import time
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, select

from lms.db import utcnow
from lms.extensions import db
from lms.jobs import services as jobs

DEFAULTS = {
    "LMS_RETAIN_READ_NOTICES_DAYS": 180,
    "LMS_RETAIN_SESSIONS_DAYS": 90,
    "LMS_RETAIN_PASSWORD_TOKENS_DAYS": 30,
}


def _days(name: str) -> int:
    return int(current_app.config.get(name, DEFAULTS[name]))


def _rules():
    now = utcnow()
    notice = db.metadata.tables["notification"]
    session = db.metadata.tables["login_session"]
    token = db.metadata.tables["password_token"]
    yield (
        "read notices",
        notice,
        notice.c.read_at < now - timedelta(days=_days("LMS_RETAIN_READ_NOTICES_DAYS")),
    )
    yield (
        "sign-in sessions",
        session,
        session.c.seen < time.time() - 86400 * _days("LMS_RETAIN_SESSIONS_DAYS"),
    )
    yield (
        "password tokens",
        token,
        token.c.created_at < now - timedelta(days=_days("LMS_RETAIN_PASSWORD_TOKENS_DAYS")),
    )


def apply(dry_run: bool = False) -> dict[str, int]:
    counts = {}
    for label, table, where in _rules():
        counts[label] = db.session.scalar(select(func.count()).select_from(table).where(where))
        if not dry_run and counts[label]:
            db.session.execute(delete(table).where(where))
    return counts


@jobs.task("privacy.retention")
def retention_job() -> dict[str, int]:
    counts = apply()
    db.session.commit()
    return counts


jobs.daily("privacy.retention", hour=3)

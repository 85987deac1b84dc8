"""Retention: old personal data removed by a daily job (periods from configuration).

Settings (days): LMS_RETAIN_READ_NOTICES_DAYS (180), LMS_RETAIN_SESSIONS_DAYS (90),
LMS_RETAIN_PASSWORD_TOKENS_DAYS (30), LMS_RETAIN_LEFT_LEARNING_DAYS (2190, six years:
the attempts, case-study drafts and answers and progress of people who left),
LMS_RETAIN_FINISHED_JOBS_DAYS (30: the kept rows of background jobs that finished, which
for an email hold its address and subject) and LMS_PRIVACY_EXPORT_DAYS (7: files of
subject access exports).

"People who left": accounts that have not signed in for the period (deactivated
accounts cannot sign in, so they count from their last sign-in) and have done nothing
on any course in it. Their enrolments stay (when they enrolled and completed: what
accreditation rests on); what they wrote and how far they got goes.
"""

from __future__ import annotations

import time
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, delete, exists, func, or_, select

from lms.db import utcnow
from lms.extensions import db
from lms.jobs import services as jobs

# The export job (and its table) are declared there: importing them here (this module is
# imported at start-up) puts the table in the metadata and makes every worker know the job.
from lms.privacy.services import expire_exports

DEFAULTS = {
    "LMS_RETAIN_READ_NOTICES_DAYS": 180,
    "LMS_RETAIN_SESSIONS_DAYS": 90,
    "LMS_RETAIN_PASSWORD_TOKENS_DAYS": 30,
    "LMS_RETAIN_LEFT_LEARNING_DAYS": 6 * 365,
    "LMS_RETAIN_FINISHED_JOBS_DAYS": 30,
}

LEFT_ATTEMPTS = "attempts and case-study answers of people who left"
LEFT_PROGRESS = "progress records and drafts of people who left"
EXPIRED_EXPORTS = "expired data export files"


def _days(name: str) -> int:
    value = current_app.config.get(name)
    return int(DEFAULTS[name] if value is None else value)


def _left_enrolments():
    """Enrolment ids of people who left: no sign-in and no course activity for the period."""
    user = db.metadata.tables["user"]
    enrolment = db.metadata.tables["enrolment"]
    progress = db.metadata.tables["activity_progress"]
    attempt = db.metadata.tables["attempt"]
    cutoff = utcnow() - timedelta(days=_days("LMS_RETAIN_LEFT_LEARNING_DAYS"))
    mine = enrolment.alias("mine")
    recent_course_activity = or_(
        exists().where(mine.c.user_id == user.c.id, mine.c.last_visited_at >= cutoff),
        exists().where(mine.c.user_id == user.c.id, mine.c.enrolled_at >= cutoff),
        exists()
        .select_from(progress.join(mine, mine.c.id == progress.c.enrolment_id))
        .where(mine.c.user_id == user.c.id, progress.c.updated_at >= cutoff),
        exists()
        .select_from(attempt.join(mine, mine.c.id == attempt.c.enrolment_id))
        .where(mine.c.user_id == user.c.id, attempt.c.submitted_at >= cutoff),
    )
    left = select(user.c.id).where(
        or_(
            user.c.last_login_at < cutoff,
            and_(user.c.last_login_at.is_(None), user.c.created_at < cutoff),
        ),
        ~recent_course_activity,
    )
    return select(enrolment.c.id).where(enrolment.c.user_id.in_(left))


def _count(table, where) -> int:
    return db.session.scalar(select(func.count()).select_from(table).where(where)) or 0


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
    job = db.metadata.tables["job"]
    # Finished jobs only (failed ones wait for an administrator), and not those of a batch,
    # whose progress is counted from them (a batch's jobs go with the batch).
    yield (
        "finished background jobs",
        job,
        and_(
            job.c.status == "done",
            job.c.batch_id.is_(None),
            job.c.finished_at < now - timedelta(days=_days("LMS_RETAIN_FINISHED_JOBS_DAYS")),
        ),
    )


def _left_learning(dry_run: bool) -> dict[str, int]:
    """The attempts (with their reviews and review-queue items) and progress rows of
    people who left."""
    attempt = db.metadata.tables["attempt"]
    progress = db.metadata.tables["activity_progress"]
    review = db.metadata.tables["attempt_review"]
    item = db.metadata.tables["review_item"]
    enrolments = _left_enrolments().scalar_subquery()
    ids = list(
        db.session.scalars(select(attempt.c.id).where(attempt.c.enrolment_id.in_(enrolments)))
    )
    progress_where = progress.c.enrolment_id.in_(enrolments)
    counts = {LEFT_ATTEMPTS: len(ids), LEFT_PROGRESS: _count(progress, progress_where)}
    if not dry_run:
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            db.session.execute(delete(review).where(review.c.attempt_id.in_(part)))
            db.session.execute(delete(item).where(item.c.attempt_id.in_(part)))
            db.session.execute(delete(attempt).where(attempt.c.id.in_(part)))
        if counts[LEFT_PROGRESS]:
            db.session.execute(delete(progress).where(progress_where))
    return counts


def apply(dry_run: bool = False) -> dict[str, int]:
    counts = {}
    for label, table, where in _rules():
        counts[label] = _count(table, where)
        if not dry_run and counts[label]:
            db.session.execute(delete(table).where(where))
    counts.update(_left_learning(dry_run))
    counts[EXPIRED_EXPORTS] = expire_exports(dry_run=dry_run)
    return counts


@jobs.task("privacy.retention")
def retention_job() -> dict[str, int]:
    counts = apply()
    db.session.commit()
    return counts


jobs.daily("privacy.retention", hour=3)

"""Background jobs: register functions, record jobs with the change that asks for them,
run them in workers with retries and back-off, and recover jobs a worker lost.

    from lms.jobs import services as jobs

    @jobs.task("mail.send", retries=3)
    def deliver(to, subject, body): ...

    jobs.enqueue("mail.send", to=..., subject=..., body=...)   # in a request or command

``enqueue`` adds a row to the ``job`` table in the current transaction and hands its
id to the queue only after that transaction commits: a job never sees data that was
rolled back, and a rolled-back change sends no job. A worker claims the row (one
worker at a time), runs the function in a fresh app context and session, and marks it
done in the same transaction as the function's own changes. A failure is retried after
10 s, 1 min and 5 min; after the last try the job is ``failed`` and administrators see
it at /admin/jobs with a Retry button.

Delivery is at least once. A worker killed mid-job leaves its row "running"; the
periodic sweeper gives it back to the queue after ``LMS_JOB_STALE_SECONDS``, so the
function may run again after having done part (or all) of its work. **Job functions
must be idempotent**: check whether the work is already done before doing it (the
certificate jobs skip certificates already rendered, the reminder job skips holders
already reminded). Sending an email is the one thing that cannot be undone: a mail
job interrupted between the SMTP server's acceptance and the commit is sent twice.

Services flush and never commit, like everywhere else; the runner, the sweeper and
:func:`checkpoint` commit, because they are the top of their own transactions.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g
from sqlalchemy import event, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lms.db import utcnow
from lms.extensions import db
from lms.jobs.models import Job, JobBatch, JobStatus

log = logging.getLogger(__name__)

# Waits before the 2nd, 3rd, 4th... try; the last one repeats.
RETRY_DELAYS = (10, 60, 300)
# A job may arrive a little before its time (clocks of machines differ).
_EARLY_SLACK = timedelta(seconds=2)
_PENDING = "lms.jobs.pending"


class JobError(ValueError):
    """A job that cannot be recorded or retried as asked."""


@dataclass(frozen=True)
class TaskSpec:
    name: str
    fn: Callable[..., Any]
    retries: int = 3
    priority: int = 0
    # Arguments dropped from the kept row once the job is done (e.g. an email body
    # holding a set-password link): the row stays, the secret does not.
    scrub: tuple[str, ...] = ()


@dataclass(frozen=True)
class DailySpec:
    name: str
    hour: int  # local (UK) hour from which the day's run is due


_TASKS: dict[str, TaskSpec] = {}
_DAILY: dict[str, DailySpec] = {}


def task(
    name: str, *, retries: int = 3, priority: int = 0, scrub: Iterable[str] = ()
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn(**kwargs)`` as the job ``name``; returns ``fn`` unchanged.

    ``retries`` is the number of tries after the first; ``priority`` orders the queue
    (higher first: emails before bulk work). Raises JobError if another function
    already has the name.
    """

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        existing = _TASKS.get(name)
        if existing is not None and _qualname(existing.fn) != _qualname(fn):
            raise JobError(f"job {name!r} is already registered by {_qualname(existing.fn)}")
        _TASKS[name] = TaskSpec(name, fn, retries=retries, priority=priority, scrub=tuple(scrub))
        return fn

    return decorator


def daily(name: str, *, hour: int = 7) -> None:
    """Run the registered job ``name`` once a day, from ``hour`` o'clock UK time.

    Every worker's scheduler asks every few minutes; a unique key per day makes one
    job a day however many workers there are, and a day missed while no worker ran
    is caught up at the next tick.
    """
    _DAILY[name] = DailySpec(name, hour)


def registered() -> dict[str, TaskSpec]:
    return dict(_TASKS)


def _qualname(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


# --- Recording jobs -----------------------------------------------------------------------


def enqueue(name: str, /, *, batch_id: int | None = None, **kwargs: Any) -> Job:
    """Record job ``name`` with ``kwargs`` in the current transaction (flushed, not committed).

    It reaches the queue after the commit, never if the transaction rolls back.
    Raises JobError for an unregistered name or arguments that are not JSON.
    """
    return _add(name, kwargs, batch_id=batch_id)


def enqueue_once(name: str, key: str, /, **kwargs: Any) -> Job | None:
    """Record job ``name`` unless a job with ``key`` exists already (then return None).

    Safe against simultaneous callers on several machines: the key is unique in the
    database. Raises JobError like :func:`enqueue`.
    """
    if db.session.scalar(select(Job.id).where(Job.unique_key == key)) is not None:
        return None
    try:
        with db.session.begin_nested():
            return _add(name, kwargs, unique_key=key)
    except IntegrityError:
        return None


def _add(
    name: str,
    kwargs: dict[str, Any],
    *,
    batch_id: int | None = None,
    unique_key: str | None = None,
    items: int = 1,
) -> Job:
    spec = _TASKS.get(name)
    if spec is None:
        raise JobError(f"no job registered as {name!r}")
    try:
        json.dumps(kwargs)
    except TypeError as exc:
        raise JobError(f"arguments of job {name!r} must be JSON: {exc}") from exc
    now = utcnow()
    job = Job(
        task=name,
        kwargs=kwargs,
        status=JobStatus.QUEUED.value,
        priority=spec.priority,
        max_attempts=spec.retries + 1,
        enqueued_at=now,
        run_at=now,
        batch_id=batch_id,
        unique_key=unique_key,
        items=items,
    )
    db.session.add(job)
    db.session.flush()
    dispatch_after_commit(job.id, priority=spec.priority)
    return job


def dispatch_after_commit(job_id: int, *, priority: int = 0, delay: float = 0) -> None:
    """Hand ``job_id`` to the queue when the current transaction commits."""
    pending = db.session().info.setdefault(_PENDING, [])
    pending.append((current_app._get_current_object(), job_id, priority, delay))


def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        # A savepoint was released (SQLAlchemy reports that as a commit too): the
        # outer transaction, and so the job rows, are not committed yet.
        return
    pending = session.info.pop(_PENDING, None)
    for app, job_id, priority, delay in pending or ():
        try:
            app.extensions["lms.queue"].send(job_id, priority=priority, delay=delay)
        except Exception:
            # The row is committed: the sweeper hands it to the queue later.
            log.warning(
                "Job %s was recorded but not handed to the queue; the sweeper will retry",
                job_id,
                exc_info=True,
            )


def _after_transaction_end(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        # The outermost transaction ended without a commit: its jobs never existed.
        session.info.pop(_PENDING, None)


_listening = False


def init_app(app: Flask) -> None:
    """Create the app's queue and dispatch jobs after each commit (once per process)."""
    global _listening
    from lms.jobs.queue import Queue

    app.extensions["lms.queue"] = Queue(app)
    if not _listening:
        # On the session class: every session of every app, each dispatching to the
        # queue of the app that recorded the job.
        event.listen(db.session, "after_commit", _after_commit)
        event.listen(db.session, "after_transaction_end", _after_transaction_end)
        _listening = True


def queue():
    return current_app.extensions["lms.queue"]


# --- Running ------------------------------------------------------------------------------


def retry_delay(attempt: int) -> int:
    """Seconds to wait after failed try number ``attempt`` (1-based)."""
    delays = current_app.config.get("LMS_JOB_RETRY_DELAYS") or RETRY_DELAYS
    return int(delays[min(attempt, len(delays)) - 1])


def describe_error(exc: BaseException) -> str:
    """The exception's type and message (never arguments or a traceback), secrets redacted."""
    text = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    try:
        from lms.logs import redact
    except ImportError:  # pragma: no cover - the serving part brings lms.logs
        pass
    else:
        text = redact(text)
    return text[:1000]


def current_job_id() -> int | None:
    """The id of the job running in this app context, or None outside a job."""
    return g.get("lms_job_id")


def progress(done: int) -> None:
    """Record that the running job has finished ``done`` of its items (flushed)."""
    job_id = current_job_id()
    if job_id is not None:
        db.session.execute(update(Job).where(Job.id == job_id).values(items_done=done))


def checkpoint() -> None:
    """Commit the running job's work so far, keeping loaded objects loaded.

    For long jobs (a chunk of certificates) that must not hold a write transaction
    while they compute: on SQLite one writer at a time holds the database, so a job
    that renders inside its transaction would make every other worker wait. Work
    committed here stays if a later step fails; the job must skip it when retried.
    """
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def run_job(job_id: int, now: datetime | None = None) -> str:
    """Claim and run job ``job_id`` once; returns what happened.

    ``done``, ``retrying`` (failed, another try is scheduled), ``failed`` (last try
    failed), ``early`` (not due yet: handed back to the queue for later), or ``skipped``
    (missing, already done, or claimed by another worker). Must be called in a fresh
    app context: it commits.
    """
    session = db.session
    now = now or utcnow()
    row = session.execute(
        select(Job.status, Job.run_at, Job.priority).where(Job.id == job_id)
    ).one_or_none()
    if row is None or row.status != JobStatus.QUEUED:
        session.rollback()
        log.debug("Job %s skipped (%s)", job_id, "missing" if row is None else row.status)
        return "skipped"
    if row.run_at > now + _EARLY_SLACK:
        session.rollback()
        queue().send(job_id, priority=row.priority, delay=(row.run_at - now).total_seconds())
        return "early"
    claimed = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.QUEUED.value)
        .values(
            status=JobStatus.RUNNING.value,
            attempts=Job.attempts + 1,
            started_at=now,
            finished_at=None,
        )
    ).rowcount
    session.commit()
    if not claimed:
        return "skipped"

    job = session.get(Job, job_id)
    name, kwargs = job.task, dict(job.kwargs or {})
    attempt, max_attempts, priority = job.attempts, job.max_attempts, job.priority
    # Nothing of the job's row stays open while the function runs.
    session.commit()
    spec = _TASKS.get(name)
    g.lms_job_id = job_id
    started = utcnow()
    try:
        if spec is None:
            raise LookupError(f"no job function registered as {name!r}")
        spec.fn(**kwargs)
        values: dict[str, Any] = {
            "status": JobStatus.DONE.value,
            "finished_at": utcnow(),
            "items_done": Job.items,
        }
        if spec.scrub:
            values["kwargs"] = {k: v for k, v in kwargs.items() if k not in spec.scrub}
        session.execute(update(Job).where(Job.id == job_id).values(**values))
        session.commit()
    except Exception as exc:
        session.rollback()
        error = describe_error(exc)
        final = attempt >= max_attempts
        delay = 0 if final else retry_delay(attempt)
        # ``now`` may be given ahead of the clock (tests); the failure is not earlier.
        failed_at = max(now, utcnow())
        log.warning(
            "Job %s (%s) failed on try %d of %d%s: %s",
            job_id,
            name,
            attempt,
            max_attempts,
            "" if final else f", next try in {delay} s",
            error,
        )
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.RUNNING.value)
            .values(
                status=JobStatus.FAILED.value if final else JobStatus.QUEUED.value,
                last_error=error,
                finished_at=failed_at if final else None,
                run_at=failed_at + timedelta(seconds=delay),
            )
        )
        if not final:
            dispatch_after_commit(job_id, priority=priority, delay=delay)
        session.commit()
        return "failed" if final else "retrying"
    except BaseException:
        # The worker is being stopped: give the job back rather than wait for the sweeper.
        session.rollback()
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.RUNNING.value)
            .values(status=JobStatus.QUEUED.value, attempts=Job.attempts - 1, run_at=utcnow())
        )
        dispatch_after_commit(job_id, priority=priority)
        session.commit()
        raise
    finally:
        g.pop("lms_job_id", None)
    log.info("Job %s (%s) done in %.2f s", job_id, name, (utcnow() - started).total_seconds())
    return "done"


def run_here(job_ids: Sequence[int], app: Flask | None = None) -> list[str]:
    """Run queued jobs in this process, one after another (no worker needed); returns outcomes.

    Each runs in a fresh app context. A job that a worker claims first is skipped.
    The caller must have no transaction open (on SQLite it would hold the lock).
    """
    app = app or current_app._get_current_object()
    outcomes = []
    for job_id in job_ids:
        with app.app_context():
            outcomes.append(run_job(job_id))
    return outcomes


# --- Retrying and recovering --------------------------------------------------------------


def retry(job: Job) -> Job:
    """Give a failed job one more try, now. Raises JobError unless it has failed."""
    if job.status != JobStatus.FAILED:
        raise JobError("Only a failed job can be retried.")
    job.status = JobStatus.QUEUED.value
    job.max_attempts = job.attempts + 1
    job.run_at = utcnow()
    job.finished_at = None
    db.session.flush()
    dispatch_after_commit(job.id, priority=job.priority)
    log.info("Job %s (%s) queued again by hand", job.id, job.task)
    return job


def stale_after() -> timedelta:
    return timedelta(seconds=int(current_app.config.get("LMS_JOB_STALE_SECONDS") or 900))


def sweep(now: datetime | None = None, limit: int = 1000) -> dict[str, int]:
    """Recover jobs a worker lost; commits. Returns counts: requeued, failed, redispatched.

    "running" for longer than the stale time: the worker was killed mid-job. The try
    counts; the job goes back to the queue, or fails if it was its last. "queued" and
    overdue by the stale time: it never reached the queue (the queue was down at
    commit) or the queue lost it; it is handed over again, at most once per stale
    period. A copy that arrives twice is harmless: only one worker can claim the row.
    Safe to run on several machines at once: each change is a conditional update.
    """
    now = now or utcnow()
    cutoff = now - stale_after()
    counts = {"requeued": 0, "failed": 0, "redispatched": 0}
    stuck = session_rows(
        select(Job.id, Job.attempts, Job.max_attempts, Job.priority)
        .where(Job.status == JobStatus.RUNNING.value, Job.started_at < cutoff)
        .order_by(Job.id)
        .limit(limit)
    )
    minutes = int(stale_after().total_seconds() // 60)
    for job_id, attempts, max_attempts, priority in stuck:
        final = attempts >= max_attempts
        changed = db.session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.RUNNING.value, Job.started_at < cutoff)
            .values(
                status=JobStatus.FAILED.value if final else JobStatus.QUEUED.value,
                last_error=f"Interrupted: not finished after {minutes} minutes "
                "(its worker stopped?)",
                finished_at=now if final else None,
                run_at=now,
            )
        ).rowcount
        if changed and not final:
            dispatch_after_commit(job_id, priority=priority)
        if changed:
            counts["failed" if final else "requeued"] += 1
    lost = session_rows(
        select(Job.id, Job.priority)
        .where(
            Job.status == JobStatus.QUEUED.value,
            Job.run_at < cutoff,
            (Job.redispatched_at.is_(None)) | (Job.redispatched_at < cutoff),
        )
        .order_by(Job.id)
        .limit(limit)
    )
    for job_id, priority in lost:
        changed = db.session.execute(
            update(Job)
            .where(
                Job.id == job_id,
                Job.status == JobStatus.QUEUED.value,
                (Job.redispatched_at.is_(None)) | (Job.redispatched_at < cutoff),
            )
            .values(redispatched_at=now)
        ).rowcount
        if changed:
            dispatch_after_commit(job_id, priority=priority)
            counts["redispatched"] += 1
    db.session.commit()
    if any(counts.values()):
        log.warning(
            "Sweeper: %(requeued)d job(s) back in the queue after their worker stopped, "
            "%(failed)d failed, %(redispatched)d handed to the queue again",
            counts,
        )
    return counts


def session_rows(stmt) -> list[tuple]:
    return [tuple(row) for row in db.session.execute(stmt)]


def tick(now: datetime | None = None) -> dict[str, Any]:
    """The periodic task (every 5 minutes on every worker): sweep, then record due daily jobs.

    Commits. Returns the sweep counts and the names of daily jobs recorded now.
    """
    now = now or utcnow()
    counts: dict[str, Any] = sweep(now)
    local = now.astimezone(ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "UTC")))
    started = []
    for spec in _DAILY.values():
        if local.hour < spec.hour:
            continue
        if enqueue_once(spec.name, f"daily:{spec.name}:{local.date().isoformat()}") is not None:
            started.append(spec.name)
    db.session.commit()
    counts["daily"] = started
    return counts


# --- Batches ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchProgress:
    total: int = 0
    done: int = 0
    failed: int = 0
    jobs: int = 0
    jobs_waiting: int = 0  # queued or running
    jobs_failed: int = 0
    started: bool = False  # some job has been claimed

    @property
    def is_finished(self) -> bool:
        return self.jobs_waiting == 0

    @property
    def percent(self) -> int:
        return round(100 * (self.done + self.failed) / self.total) if self.total else 100


def start_batch(
    kind: str,
    description: str,
    task_name: str,
    parts: Sequence[tuple[dict[str, Any], int]],
    *,
    started_by_id: int | None = None,
) -> JobBatch:
    """Record a batch and one job per part (``(kwargs, items)``); flushed, not committed.

    Raises JobError like :func:`enqueue`.
    """
    batch = JobBatch(
        kind=kind,
        description=description[:300],
        started_by_id=started_by_id,
        total=sum(items for _kwargs, items in parts),
    )
    db.session.add(batch)
    db.session.flush()
    for kwargs, items in parts:
        _add(task_name, kwargs, batch_id=batch.id, items=items)
    log.info("Batch %s (%s): %d job(s), %d item(s)", batch.id, kind, len(parts), batch.total)
    return batch


def batch_progress(batch_ids: Iterable[int]) -> dict[int, BatchProgress]:
    """Progress of each batch from one aggregate query over its jobs."""
    ids = list(batch_ids)
    if not ids:
        return {}
    acc: dict[int, dict[str, int]] = {
        i: {"done": 0, "failed": 0, "jobs": 0, "jobs_waiting": 0, "jobs_failed": 0, "started": 0}
        for i in ids
    }
    rows = db.session.execute(
        select(
            Job.batch_id,
            Job.status,
            func.count(Job.id),
            func.coalesce(func.sum(Job.items), 0),
            func.coalesce(func.sum(Job.items_done), 0),
            func.count(Job.started_at),
        )
        .where(Job.batch_id.in_(ids))
        .group_by(Job.batch_id, Job.status)
    )
    for batch_id, status, jobs_count, items, items_done, started in rows:
        a = acc[batch_id]
        a["jobs"] += jobs_count
        a["started"] += started
        a["done"] += int(items_done)
        if status == JobStatus.FAILED:
            a["failed"] += int(items) - int(items_done)
            a["jobs_failed"] += jobs_count
        elif status in (JobStatus.QUEUED, JobStatus.RUNNING):
            a["jobs_waiting"] += jobs_count
    totals = dict(
        db.session.execute(select(JobBatch.id, JobBatch.total).where(JobBatch.id.in_(ids))).all()
    )
    return {
        i: BatchProgress(
            total=int(totals.get(i, 0)),
            done=a["done"],
            failed=a["failed"],
            jobs=a["jobs"],
            jobs_waiting=a["jobs_waiting"],
            jobs_failed=a["jobs_failed"],
            started=a["started"] > 0,
        )
        for i, a in acc.items()
    }


def batch_job_ids(batch: JobBatch, status: JobStatus | None = JobStatus.QUEUED) -> list[int]:
    stmt = select(Job.id).where(Job.batch_id == batch.id).order_by(Job.id)
    if status is not None:
        stmt = stmt.where(Job.status == status.value)
    return list(db.session.scalars(stmt))


# --- Lists for people -----------------------------------------------------------------------


@dataclass
class Counts:
    by_status: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, status: str) -> int:
        return self.by_status.get(status, 0)


def status_counts() -> Counts:
    """Number of jobs in each status (one aggregate query)."""
    rows = db.session.execute(select(Job.status, func.count(Job.id)).group_by(Job.status))
    return Counts({status: count for status, count in rows.all()})


def failed_jobs_stmt():
    """Failed jobs, latest first (a statement, for paging)."""
    return (
        select(Job)
        .where(Job.status == JobStatus.FAILED.value)
        .order_by(Job.finished_at.desc(), Job.id.desc())
    )


def batches_stmt():
    """Batches, latest first (a statement, for paging)."""
    return select(JobBatch).order_by(JobBatch.created_at.desc(), JobBatch.id.desc())


def jobs_stmt(status: str | None = None):
    stmt = select(Job).order_by(Job.id.desc())
    if status:
        stmt = stmt.where(Job.status == status)
    return stmt

"""`flask lms jobs ...`: the worker, and looking after jobs from the command line."""

from __future__ import annotations

import logging
import signal
from datetime import datetime

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from lms.extensions import db
from lms.jobs import services
from lms.jobs.models import Job, JobStatus
from lms.jobs.queue import Heartbeat, safe_url

log = logging.getLogger(__name__)

jobs_cli = AppGroup("jobs", help="Background jobs: run a worker, list and retry jobs.")


@jobs_cli.command("worker")
@click.option(
    "-w",
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Jobs run at the same time by this worker.",
)
@click.option(
    "--worker-type",
    type=click.Choice(["process", "thread"]),
    default="process",
    show_default=True,
    help="Processes use every core (certificates are CPU work); threads suit email only.",
)
@click.option(
    "--periodic/--no-periodic",
    default=True,
    help="Run the periodic tasks (sweeper, daily reminders). Default: yes.",
)
def worker(workers: int, worker_type: str, periodic: bool) -> None:
    """Run jobs from the queue until stopped (Ctrl+C or SIGTERM finish the jobs in hand).

    Start one per machine, as many machines as needed: they share the queue
    (LMS_QUEUE_URL) and the database, and never run the same job at once.
    """
    queue = current_app.extensions["lms.queue"]
    if queue.immediate:
        raise click.ClickException(
            "the queue is 'immediate' (LMS_QUEUE_URL=immediate, or TESTING): jobs run in the "
            "process that records them, so there is nothing for a worker to do"
        )
    consumer = queue.huey.create_consumer(
        workers=workers,
        worker_type=worker_type,
        periodic=periodic,
        initial_delay=0.1,
        max_delay=1.0,
        backoff=1.15,
        check_worker_health=True,
    )
    # Huey finishes the jobs in hand on SIGINT and abandons them on SIGTERM. Service
    # managers stop with SIGTERM, so both finish what is running (a second signal
    # stops at once; an abandoned job goes back to the queue through the sweeper).
    consumer._signal_actions[signal.SIGTERM] = (False, True)
    consumer._signal_actions[signal.SIGINT] = (False, True)
    heartbeat = Heartbeat(queue, workers, worker_type)
    log.info(
        "Job worker started: %d %s(es) on %s, periodic tasks %s",
        workers,
        worker_type,
        safe_url(queue.url),
        "on" if periodic else "off",
    )
    heartbeat.start()
    try:
        consumer.run()
    finally:
        heartbeat.stop()
        log.info("Job worker stopped")


@jobs_cli.command("list")
@click.option("--failed", is_flag=True, help="Only jobs whose every try failed.")
@click.option(
    "--status",
    type=click.Choice([s.value for s in JobStatus]),
    help="Only jobs in this state.",
)
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
def list_jobs(failed: bool, status: str | None, limit: int) -> None:
    """List jobs, latest first: id, task, status, tries, when, and the last error."""
    stmt = services.jobs_stmt(JobStatus.FAILED.value if failed else status).limit(limit)
    jobs = list(db.session.scalars(stmt))
    counts = services.status_counts()
    click.echo(
        ", ".join(f"{s.value} {counts[s.value]}" for s in JobStatus) + f" (showing {len(jobs)})"
    )
    for job in jobs:
        when = job.finished_at or job.started_at or job.enqueued_at
        line = (
            f"{job.id:>7}  {job.task:<36} {job.status:<8} "
            f"{job.attempts}/{job.max_attempts}  {_when(when)}"
        )
        if job.batch_id:
            line += f"  batch {job.batch_id}"
        click.echo(line)
        if job.last_error and job.status != JobStatus.DONE:
            click.echo(f"         {job.last_error}")


@jobs_cli.command("retry")
@click.argument("job_ids", nargs=-1, type=int)
@click.option("--all-failed", is_flag=True, help="Retry every failed job.")
def retry(job_ids: tuple[int, ...], all_failed: bool) -> None:
    """Give failed job(s) one more try now (the worker runs them)."""
    if all_failed:
        job_ids = tuple(
            db.session.scalars(select(Job.id).where(Job.status == JobStatus.FAILED.value))
        )
    if not job_ids:
        raise click.UsageError("give a job id (see `lms jobs list --failed`) or --all-failed")
    for job_id in job_ids:
        job = db.session.get(Job, job_id)
        if job is None:
            db.session.rollback()
            raise click.ClickException(f"no job {job_id}")
        try:
            services.retry(job)
        except services.JobError as exc:
            db.session.rollback()
            raise click.ClickException(f"job {job_id} is {job.status}: {exc}") from exc
    db.session.commit()
    click.echo(f"Queued {len(job_ids)} job(s) again.")


@jobs_cli.command("sweep")
def sweep() -> None:
    """Recover jobs a worker lost now (workers also do this every 5 minutes)."""
    counts = services.sweep()
    click.echo(
        f"Back in the queue: {counts['requeued']}; failed: {counts['failed']}; "
        f"handed over again: {counts['redispatched']}."
    )


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"

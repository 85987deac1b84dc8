"""`flask lms accreditation ...` and `flask lms certificates ...`."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from lms.accounts.services import find_by_email
from lms.accreditation import services
from lms.accreditation.models import Certificate
from lms.accreditation.storage import StoredFileError
from lms.extensions import db

accreditation_cli = AppGroup("accreditation", help="Record and manage accreditations.")
certificates_cli = AppGroup("certificates", help="Stored certificate PDFs.")


@accreditation_cli.command("grant")
@click.option("--email", required=True, help="The holder's account.")
@click.option("--course", "course_slug", required=True, help="Course slug, e.g. rep.")
@click.option("--reason", required=True, help="Why: e.g. 'Pilot course, London, 4-5 May 2017'.")
def grant(email: str, course_slug: str, reason: str) -> None:
    """Record a prior accreditation and issue its certificate (prints its number and URL)."""
    user = find_by_email(email)
    if user is None:
        raise click.ClickException(f"no account {email}")
    course = current_app.extensions["lms.courses"].get(course_slug)
    if course is None:
        known = ", ".join(c.slug for c in current_app.extensions["lms.courses"])
        raise click.ClickException(f"no course {course_slug!r} (known: {known})")
    existing = services.certificate_for(user, course)
    try:
        certificate = services.grant_prior(user, course, reason)
    except services.AccreditationError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    db.session.commit()
    if existing is not None:
        click.echo(f"{email} already holds certificate {certificate.number}; nothing changed.")
    else:
        click.echo(f"Issued certificate {certificate.number} ({certificate.accreditation_title}).")
    click.echo(f"Verification URL: {services.verify_url(certificate)}")


@accreditation_cli.command("remind")
def remind() -> None:
    """Email holders and officers about certificates that lapse soon, now.

    Workers do this every day by themselves; this is for running it by hand.
    """
    sent = services.send_reminders()
    db.session.commit()
    click.echo(f"Sent reminders for {len(sent)} certificate(s).")


@certificates_cli.command("pdf")
@click.argument("number")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    required=True,
    help="File to write.",
)
def write_pdf(number: str, output: Path) -> None:
    """Write the stored PDF of certificate NUMBER to a file (the bytes issued, unchanged)."""
    certificate = db.session.scalar(
        select(Certificate).where(Certificate.number == number.strip().upper())
    )
    if certificate is None or certificate.current_file is None:
        raise click.ClickException(f"no certificate {number}")
    try:
        data = certificate.current_file.pdf
    except StoredFileError as exc:
        raise click.ClickException(str(exc)) from exc
    output.write_bytes(data)
    click.echo(
        f"Wrote {output} ({certificate.current_file.size} bytes, "
        f"sha256 {certificate.current_file.sha256})."
    )


@certificates_cli.command("reissue")
@click.option("--course", "course_slug", required=True, help="Course slug, e.g. rep.")
@click.option(
    "--wait/--no-wait",
    default=True,
    help="Show progress until the workers finish (default), or return at once.",
)
@click.option("--here", is_flag=True, help="Render in this process instead of in the workers.")
@click.option(
    "--chunk",
    type=click.IntRange(1, 1000),
    default=services.REISSUE_CHUNK,
    show_default=True,
    help="Certificates per job.",
)
def reissue(course_slug: str, wait: bool, here: bool, chunk: int) -> None:
    """Render a course's certificates again after a template change, in background jobs.

    Each keeps its number and token; the new file becomes current and earlier
    files are kept (and still verify as issued here). The work is split into jobs
    that all running workers share; progress is also shown at /admin/jobs.
    """
    import time

    from lms.jobs import services as jobs

    course = current_app.extensions["lms.courses"].get(course_slug)
    if course is None or course.certificate is None:
        raise click.ClickException(f"no course {course_slug!r} with certificates")
    queue = jobs.queue()
    if not here and wait and not queue.immediate and not queue.workers():
        raise click.ClickException(
            "no job worker is running: start one with `flask --app wsgi lms jobs worker`, "
            "or use --here to render in this process (or --no-wait to leave it queued)"
        )
    batch = services.start_reissue(course, chunk=chunk)
    db.session.commit()
    batch_id, total = batch.id, batch.total
    template = course.certificate.template
    click.echo(f"Batch {batch_id}: {total} {course.slug} certificate(s) to re-issue.")
    if not here and not wait:
        click.echo("Queued. Follow it at /admin/jobs or with `flask --app wsgi lms jobs list`.")
        return
    seen = 0
    with click.progressbar(length=total, label=f"Re-issuing {course.slug} certificates") as bar:
        if here:
            job_ids = jobs.batch_job_ids(batch)
            db.session.rollback()  # the jobs' own sessions must not wait for this one
            for job_id in job_ids:
                jobs.run_here([job_id])
                done = _batch_done(batch_id)
                bar.update(done - seen)
                seen = done
        else:
            try:
                while True:
                    progress = jobs.batch_progress([batch_id])[batch_id]
                    db.session.rollback()  # a fresh snapshot at the next look
                    done = progress.done + progress.failed
                    bar.update(done - seen)
                    seen = done
                    if progress.is_finished:
                        break
                    time.sleep(0.5)
            except KeyboardInterrupt:
                click.echo("\nStopped watching; the workers carry on (see /admin/jobs).")
                raise click.Abort() from None
    progress = jobs.batch_progress([batch_id])[batch_id]
    click.echo(f"Re-issued {progress.done} certificate(s) with template {template!r}.")
    if progress.failed:
        raise click.ClickException(
            f"{progress.failed} certificate(s) not re-issued: see "
            "`flask --app wsgi lms jobs list --failed`"
        )


def _batch_done(batch_id: int) -> int:
    from lms.jobs import services as jobs

    progress = jobs.batch_progress([batch_id])[batch_id]
    db.session.rollback()
    return progress.done + progress.failed

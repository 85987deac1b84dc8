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
    """Email holders and officers about certificates that lapse soon (run daily)."""
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
    output.write_bytes(certificate.current_file.pdf)
    click.echo(
        f"Wrote {output} ({certificate.current_file.size} bytes, "
        f"sha256 {certificate.current_file.sha256})."
    )


@certificates_cli.command("reissue")
@click.option("--course", "course_slug", required=True, help="Course slug, e.g. rep.")
def reissue(course_slug: str) -> None:
    """Render a course's certificates again after a template change.

    Each keeps its number and token; the new file becomes current and earlier
    files are kept (and still verify as issued here).
    """
    course = current_app.extensions["lms.courses"].get(course_slug)
    if course is None or course.certificate is None:
        raise click.ClickException(f"no course {course_slug!r} with certificates")
    certificates = list(
        db.session.scalars(
            select(Certificate)
            .where(Certificate.course_slug == course.slug)
            .order_by(Certificate.id)
        )
    )
    with click.progressbar(certificates, label=f"Re-issuing {course.slug} certificates") as bar:
        for certificate in bar:
            services.reissue(certificate, course.certificate.template)
            db.session.commit()
    click.echo(
        f"Re-issued {len(certificates)} certificate(s) with template "
        f"{course.certificate.template!r}."
    )

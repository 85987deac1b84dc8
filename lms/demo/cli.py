"""`flask lms demo ...`: build a realistic demo site on the configured database."""

from __future__ import annotations

import time

import click
from flask.cli import AppGroup

from lms.demo import services
from lms.extensions import db

demo_cli = AppGroup("demo", help="Demo sites with invented people.")

_SHOWN = [
    ("trainees", "trainees"),
    ("facilitators", "facilitators"),
    ("officers", "national officers"),
    ("runs", "course runs"),
    ("places_booked", "booked places"),
    ("places_waiting", "places on waiting lists"),
    ("places_cancelled", "cancelled places"),
    ("attendance_marks", "attendance marks"),
    ("enrolments", "enrolments"),
    ("progress_rows", "activity progress rows"),
    ("attempts", "attempts"),
    ("reviews", "reviews"),
    ("feedback_responses", "anonymous feedback responses"),
    ("accreditations_pending", "accreditation requests waiting"),
    ("accreditations_accredited", "accreditations"),
    ("accreditations_declined", "declined requests"),
    ("certificates", "certificates"),
    ("pdfs", "certificate PDFs queued"),
]


@demo_cli.command("populate")
@click.option(
    "--trainees",
    type=click.IntRange(0, services.MAX_TRAINEES),
    required=True,
    help="How many invented trainees to add (e.g. 20000).",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Seed for names and choices.")
@click.option(
    "--pdfs",
    type=click.IntRange(0, 10_000),
    default=20,
    show_default=True,
    help="Render the PDFs of this many of the newest certificates (the rest have none yet).",
)
def populate(trainees: int, seed: int, pdfs: int) -> None:
    """Add invented trainees, with runs, progress, reviews, feedback and certificates.

    Adds to what `flask lms setup` made: the demo accounts keep their passwords
    and data, and running it again adds more people. Everyone it creates can log
    in with the demo password.
    """
    started = time.monotonic()
    try:
        with click.progressbar(length=trainees, label="Adding trainees", show_pos=True) as bar:
            counts = services.populate(trainees, seed=seed, progress=bar.update, pdfs=pdfs)
    except services.DemoError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    elapsed = time.monotonic() - started
    click.echo(f"Done in {elapsed:.0f} s. Added:")
    for key, label in _SHOWN:
        if counts.get(key):
            click.echo(f"  {counts[key]:>9,} {label}")
    if counts.get("pdfs"):
        click.echo("PDFs are rendered by the job worker (`flask --app wsgi lms jobs worker`).")

"""The `flask lms ...` command group. Domains add their subcommands here."""

from __future__ import annotations

import os

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from flask_migrate import upgrade

from lms.extensions import db

lms_cli = AppGroup("lms", help="MiP training platform commands.")


@lms_cli.command("setup")
@click.option(
    "--demo/--no-demo",
    default=None,
    help="Create the demo accounts (default: yes on the embedded SQLite database, "
    "no on a server database such as PostgreSQL).",
)
def setup(demo: bool | None) -> None:
    """Upgrade the database, seed regions and (on a demo site) demo accounts, print how
    to log in.

    The demo accounts share one password (ASVS 2.5.4: no shared or default accounts),
    so a site on a server database, which is a real deployment, gets them only when
    asked with ``--demo``.
    """
    from lms.accounts.cli import create_demo_accounts, demo_password, seed_regions

    if demo is None:
        demo = db.engine.dialect.name == "sqlite"
        if not demo:
            click.echo(
                "No demo accounts on a server database: create the first administrator "
                "with `flask --app wsgi lms users create ... --role admin` (or pass --demo)."
            )

    upgrade(directory=current_app.extensions["migrate"].directory)
    added = seed_regions()
    if added:
        click.echo(f"Added {added} regions.")
    catalogue = current_app.extensions["lms.courses"]
    click.echo(f"Loaded {len(catalogue)} courses: " + ", ".join(c.slug for c in catalogue))
    if demo:
        accounts = create_demo_accounts()
        db.session.commit()
        runs = create_demo_runs()
        db.session.commit()
        for title in runs:
            click.echo(f"Added demo course run: {title}")
        from lms.demo.services import assign_demo_reviewers

        for slug in assign_demo_reviewers():
            click.echo(f"The demo facilitator reviews the {slug} course's work")
        db.session.commit()
        click.echo("")
        port = os.environ.get("PORT", "5000")
        click.echo(f"Demo accounts (invented people): log in at http://127.0.0.1:{port}/login")
        for email, roles, created in accounts:
            click.echo(f"  {email:<26} {roles}{'  (new)' if created else ''}")
        click.echo(f"  password for all of them: {demo_password()}")
    db.session.commit()


def create_demo_runs() -> list[str]:
    """Two runs for the demo (only when there are no runs at all): returns their titles."""
    from datetime import date, timedelta

    from sqlalchemy import func, select

    from lms.accounts.services import find_by_email
    from lms.runs import services as runs
    from lms.runs.models import CourseRun

    if db.session.scalar(select(func.count(CourseRun.id))):
        return []
    facilitator = find_by_email("facilitator@example.org")
    fac_ids = (facilitator.id,) if facilitator else ()
    start = date.today() + timedelta(days=21)
    while start.weekday() != 1:  # a Tuesday and Wednesday
        start += timedelta(days=1)
    made = [
        runs.create_run(
            runs.RunInput(
                course_slug="rep",
                title=f"Rep course, London, {start.strftime('%B %Y')}",
                days=[start, start + timedelta(days=1)],
                capacity=8,
                venue="Congress House, Great Russell Street, London",
                facilitator_ids=fac_ids,
            )
        ),
        runs.create_run(
            runs.RunInput(
                course_slug="link-member",
                title=f"Link member course, online, {start.strftime('%B %Y')}",
                days=[start - timedelta(days=7)],
                capacity=20,
                is_online=True,
                facilitator_ids=fac_ids,
            )
        ),
    ]
    return [r.title for r in made]


def add_group(group: click.Group) -> None:
    """Add a domain's command group under ``flask lms`` (each domain's ``init_app``)."""
    if group.name not in lms_cli.commands:
        lms_cli.add_command(group)


def register_cli(app: Flask) -> None:
    """Put ``flask lms`` (the domains have added their groups to it) on the app."""
    app.cli.add_command(lms_cli)

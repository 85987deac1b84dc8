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
@click.option("--demo/--no-demo", default=True, help="Create the demo accounts (default: yes).")
def setup(demo: bool) -> None:
    """Upgrade the database, seed regions and (by default) demo accounts, print how to log in."""
    from lms.accounts.cli import create_demo_accounts, demo_password, seed_regions

    upgrade(directory=current_app.extensions["migrate"].directory)
    added = seed_regions()
    if added:
        click.echo(f"Added {added} regions.")
    catalogue = current_app.extensions["lms.courses"]
    click.echo(f"Loaded {len(catalogue)} courses: " + ", ".join(c.slug for c in catalogue))
    if demo:
        accounts = create_demo_accounts()
        db.session.commit()
        click.echo("")
        port = os.environ.get("PORT", "5000")
        click.echo(f"Demo accounts (invented people): log in at http://127.0.0.1:{port}/login")
        for email, roles, created in accounts:
            click.echo(f"  {email:<26} {roles}{'  (new)' if created else ''}")
        click.echo(f"  password for all of them: {demo_password()}")
    db.session.commit()


def register_cli(app: Flask) -> None:
    from lms.accounts.cli import regions_cli, users_cli
    from lms.catalogue.cli import courses_cli

    for group in (users_cli, regions_cli, courses_cli):
        if group.name not in lms_cli.commands:
            lms_cli.add_command(group)
    app.cli.add_command(lms_cli)
